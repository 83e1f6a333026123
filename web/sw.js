// The service worker (scope: the site root): precache the app, Pyodide, onnxruntime-web, the worker's wheels
// and the bundled models on install; serve them cache-first, so a later visit works without a network.
// precache.js (written by the build) sets self.PRECACHE = {version, files, sha256: {file: hex}}; a new build
// changes it, and the browser then installs this worker afresh and drops the old cache.
// Integrity: every body is checked against its sha256 before it is stored and before it is served. A cached body
// that does not match (a poisoned or damaged cache) is dropped and fetched again; when the network has no good
// copy either, the request fails (HTTP 502) instead of serving the wrong bytes. Files outside the precache go to
// the network.
importScripts("precache.js");

const CACHE = `pyapp-${self.PRECACHE.version}`;
const base = new URL("./", self.location).href;
const expected = new Map(self.PRECACHE.files.map((f) => [new URL(f, base).href, (self.PRECACHE.sha256 || {})[f]]));

async function sha256Hex(buffer) {
  const digest = await crypto.subtle.digest("SHA-256", buffer);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function intact(url, response) {
  const want = expected.get(url);
  if (!response || !response.ok || !want) return false;
  return (await sha256Hex(await response.clone().arrayBuffer())) === want;
}

async function fetchChecked(url) {
  const response = await fetch(url, { cache: "no-cache" });
  if (!(await intact(url, response))) throw new Error(`${url}: ${response.ok ? "sha256 differs from the precache manifest" : `HTTP ${response.status}`}`);
  return response;
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    const missing = [];
    for (const url of expected.keys()) if (!(await intact(url, await cache.match(url)))) missing.push(url);
    // a few at a time: Pyodide and the models are tens of MB
    for (let i = 0; i < missing.length; i += 8) {
      await Promise.all(missing.slice(i, i + 8).map(async (url) => cache.put(url, await fetchChecked(url))));
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

async function serve(request) {
  let url = request.url.split("#")[0].split("?")[0];
  if (!expected.has(url) && request.mode === "navigate" && url === base.replace(/\/$/, "")) url = base;
  if (!expected.has(url)) return fetch(request);
  const cache = await caches.open(CACHE);
  const hit = await cache.match(url);
  if (await intact(url, hit)) return hit;
  if (hit) await cache.delete(url);
  try {
    const fresh = await fetchChecked(url);
    await cache.put(url, fresh.clone());
    return fresh;
  } catch (err) {
    return new Response(`pyapp: ${err.message}`, { status: 502, statusText: "Integrity check failed",
                                                   headers: { "Content-Type": "text/plain" } });
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || !request.url.startsWith(base)) return;  // other origins: the network
  event.respondWith(serve(request));
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "status" && event.ports[0]) {
    event.ports[0].postMessage({ version: self.PRECACHE.version, files: self.PRECACHE.files.length, cache: CACHE });
  }
});
