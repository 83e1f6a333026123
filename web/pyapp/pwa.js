// Offline and install: register the service worker (scope "/"), report when the precache is complete, and show
// an "Install app" button when the browser offers one (beforeinstallprompt).
//   await pyapp.offline.ready   -> {version, files} once every precached file is stored (resolves null without
//                                  service worker support)
export function setupPwa(root = new URL("../", import.meta.url)) {
  let deferred = null;
  window.addEventListener("beforeinstallprompt", (event) => {
    event.preventDefault();
    deferred = event;
    document.body.classList.add("installable");
    window.dispatchEvent(new CustomEvent("pyapp-installable"));
  });
  window.addEventListener("appinstalled", () => document.body.classList.remove("installable"));

  async function install() {
    if (!deferred) return false;
    deferred.prompt();
    const choice = await deferred.userChoice;
    deferred = null;
    document.body.classList.remove("installable");
    return choice.outcome === "accepted";
  }

  const ready = (async () => {
    if (!("serviceWorker" in navigator)) return null;
    await navigator.serviceWorker.register(new URL("sw.js", root), { scope: new URL("./", root).pathname });
    const registration = await navigator.serviceWorker.ready;  // active: its install (the precache) finished
    const ask = (worker) => new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = (e) => resolve(e.data);
      worker.postMessage({ type: "status" }, [channel.port2]);
    });
    return await ask(registration.active);
  })();
  ready.catch((err) => console.warn(`offline cache unavailable: ${err.message}`));
  return { ready, install, get installable() { return !!deferred; } };
}
