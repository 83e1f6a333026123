// The plugin sandbox: each plugin's worker runs inside its own <iframe sandbox="allow-scripts" srcdoc=…> (no
// allow-same-origin: an opaque origin, so no CacheStorage, IndexedDB, cookies or DOM of the app) as a classic
// worker from a blob: URL. The frame's Content-Security-Policy gives it no network (connect-src 'none'), or only
// the origins of the permissions the user approved ("network:https://host").
// The worker cannot fetch anything of the app itself: its Pyodide files come from this (trusted) page, which
// fetches them through its own service worker (so plugins work offline) and only from `pyodide/`.
//
//   const w = await createSandboxedWorker({name, permissions, scripts: [url, ...], prelude});
//   w.postMessage(msg, transfer); w.onmessage = (event) => ...; w.onerror = (event) => ...; w.terminate();
//
// The object behaves like a Worker for the plugin host. Messages travel frame <-> page over a MessageChannel;
// the frame only relays (buffers transferred; a message's `port`, the host's channel to another plugin's worker,
// too). A worker's {type: "fetch", id, url} is answered here with
// {type: "fetched", id, ok, status, body, contentType | error}: only GET of files under `<site>/pyodide/`.

const FRAME_SCRIPT = `(() => {
  let worker = null;
  let port = null;
  const list = (m) => {
    const out = new Set();
    if (m && Array.isArray(m.buffers)) for (const b of m.buffers) if (b instanceof ArrayBuffer) out.add(b);
    if (m && m.body instanceof ArrayBuffer) out.add(m.body);
    if (m && m.port instanceof MessagePort) out.add(m.port);
    return [...out];
  };
  // what the plugin's worker does wrong stays in the sandbox (the host hears of a crash through the port)
  addEventListener("error", (e) => e.preventDefault());
  addEventListener("unhandledrejection", (e) => e.preventDefault());
  const send = (m) => { try { port.postMessage(m, list(m)); } catch (e) { port.postMessage({ type: "__error", message: String(e) }); } };
  addEventListener("message", (event) => {
    if (event.source !== parent || port || !event.ports[0]) return;
    port = event.ports[0];
    port.onmessage = ({ data }) => {
      if (data && data.type === "__start") {
        const url = URL.createObjectURL(new Blob([data.code], { type: "text/javascript" }));
        worker = new Worker(url, { name: data.name });
        worker.onmessage = (e) => send(e.data);
        worker.onerror = (e) => { e.preventDefault(); port.postMessage({ type: "__error", message: e.message || "worker error" }); };
        worker.onmessageerror = () => port.postMessage({ type: "__error", message: "a message could not be read" });
      } else if (worker) {
        worker.postMessage(data, list(data));
      }
    };
    port.postMessage({ type: "__frame" });
  });
})();`;

const FRAME_TIMEOUT_MS = 30_000;
const siteRoot = new URL("../", import.meta.url).href;
const pyodideRoot = new URL("pyodide/", siteRoot).href;
const scriptCache = new Map();

async function hashSource(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return `'sha256-${btoa(String.fromCharCode(...new Uint8Array(digest)))}'`;
}
const frameHash = hashSource(FRAME_SCRIPT);

/** "network:https://host" grants as CSP sources; anything else is dropped (the parser already refused it). */
export function networkSources(permissions = []) {
  const out = [];
  for (const p of permissions) {
    const m = /^network:(https?:\/\/[a-z0-9.-]+(?::\d{1,5})?|https?:\/\/\[[0-9a-f:.]+\](?::\d{1,5})?)$/i.exec(String(p));
    if (m) out.push(m[1].toLowerCase());
  }
  return [...new Set(out)];
}

/** The sandbox frame's Content-Security-Policy for the given permissions. */
export async function sandboxPolicy(permissions = []) {
  const hosts = networkSources(permissions);
  return [
    "default-src 'none'",
    `script-src ${await frameHash} blob: 'wasm-unsafe-eval'`,
    "worker-src blob:",
    `connect-src ${hosts.length ? hosts.join(" ") : "'none'"}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}

async function scriptText(url) {
  if (!scriptCache.has(url)) {
    const text = fetch(url).then((r) => {
      if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
      return r.text();
    });
    scriptCache.set(url, text);
    text.catch(() => scriptCache.delete(url));
  }
  return scriptCache.get(url);
}

/** The bytes of a Pyodide file for a sandboxed worker; null when `url` is not a file under pyodide/. */
function allowedUrl(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  parsed.hash = "";
  parsed.search = "";
  const href = parsed.href;
  if (!href.startsWith(pyodideRoot) || href.includes("/../") || href.endsWith("/")) return null;
  return href;
}

async function answerFetch(port, msg) {
  const url = allowedUrl(msg.url);
  if (!url) {
    port.postMessage({ type: "fetched", id: msg.id, ok: false, status: 403,
                       error: `a plugin may not load ${String(msg.url).slice(0, 200)}` });
    return;
  }
  try {
    const response = await fetch(url);
    const body = await response.arrayBuffer();
    port.postMessage({ type: "fetched", id: msg.id, ok: response.ok, status: response.status, body,
                       contentType: response.headers.get("Content-Type") || "" }, [body]);
  } catch (err) {
    port.postMessage({ type: "fetched", id: msg.id, ok: false, status: 0, error: String(err.message || err) });
  }
}

/**
 * Start a worker in a new sandbox frame. `scripts` are URLs of this site whose texts are joined (in order) into
 * the worker's code after `prelude`; `permissions` are the approved "network:..." grants.
 */
export async function createSandboxedWorker({ name = "plugin", permissions = [], scripts = [], prelude = "" } = {}) {
  const [policy, ...texts] = await Promise.all([sandboxPolicy(permissions), ...scripts.map((u) => scriptText(new URL(u, siteRoot).href))]);
  const frame = document.createElement("iframe");
  frame.setAttribute("sandbox", "allow-scripts");
  frame.hidden = true;
  frame.title = `sandbox of ${name}`;
  frame.dataset.pyappSandbox = name;
  const csp = policy.replace(/"/g, "&quot;");
  frame.srcdoc = `<!doctype html><meta http-equiv="Content-Security-Policy" content="${csp}"><script>${FRAME_SCRIPT}</script>`;
  const channel = new MessageChannel();
  const port = channel.port1;
  let dead = false;
  const sandbox = {
    frame,
    policy,
    onmessage: null,
    onerror: null,
    onmessageerror: null,
    postMessage(msg, transfer = []) {
      if (!dead) port.postMessage(msg, transfer);
    },
    terminate() {
      if (dead) return;
      dead = true;
      port.close();
      frame.remove();   // the frame's document goes, and its worker with it
    },
  };
  const framed = new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error("the plugin sandbox did not start: this page's Content-Security-Policy must " +
      "allow the sandbox frame's script (see pyapp/csp.py)")), FRAME_TIMEOUT_MS);
    port.onmessage = ({ data }) => {
      if (dead || !data || typeof data !== "object") return;
      if (data.type === "__frame") resolve();
      else if (data.type === "__error") sandbox.onerror?.({ message: data.message, preventDefault() {} });
      else if (data.type === "fetch") answerFetch(port, data);
      else sandbox.onmessage?.({ data });
    };
    port.onmessageerror = () => sandbox.onmessageerror?.({});
  });
  frame.addEventListener("load", () => frame.contentWindow.postMessage("pyapp-sandbox", "*", [channel.port2]), { once: true });
  document.body.append(frame);
  try {
    await framed;
  } catch (err) {
    sandbox.terminate();
    throw err;
  }
  const code = [`const PYAPP_INDEX_URL = ${JSON.stringify(pyodideRoot)};\n`, prelude, ...texts].join("\n;\n");
  port.postMessage({ type: "__start", name, code });
  return sandbox;
}
