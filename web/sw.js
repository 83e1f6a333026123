// The service worker (scope: the site root): precache the app, Pyodide, onnxruntime-web, the worker's wheels
// and the bundled models on install; serve them cache-first, so a later visit works without a network.
// precache.js (written by the build) sets self.PRECACHE = {version, files}; a new build changes it, and the
// browser then installs this worker afresh and drops the old cache.
importScripts("precache.js");

const CACHE = `pyapp-${self.PRECACHE.version}`;
const base = new URL("./", self.location).href;

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    const urls = self.PRECACHE.files.map((f) => new URL(f, base).href);
    const missing = [];
    for (const url of urls) if (!(await cache.match(url))) missing.push(url);
    // a few at a time: Pyodide and the models are tens of MB
    for (let i = 0; i < missing.length; i += 8) {
      await Promise.all(missing.slice(i, i + 8).map(async (url) => {
        const response = await fetch(url, { cache: "no-cache" });
        if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
        await cache.put(url, response);
      }));
    }
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key.startsWith("pyapp-") && key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || !request.url.startsWith(base)) return;  // other origins: the network
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const url = request.url.split("#")[0];
    const hit = await cache.match(url, { ignoreSearch: true }) || (request.mode === "navigate" && await cache.match(base));
    return hit || fetch(request);
  })());
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "status" && event.ports[0]) {
    event.ports[0].postMessage({ version: self.PRECACHE.version, files: self.PRECACHE.files.length, cache: CACHE });
  }
});
