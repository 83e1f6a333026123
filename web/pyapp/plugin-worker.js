// One plugin's worker (a classic script): boots Pyodide with our wheel, runs the plugin
// (pyapp.plugins.runtime) and serves calls. It runs inside a sandbox frame (sandbox.js), which joins
// `const PYAPP_INDEX_URL = …;` + this file + pyodide.js + pyodide.asm.js into one blob: worker.
// In:  {type: "init", session, source, filename, tag}, then {type: "call" | "reply", id, target, ok, header, buffers},
//      {type: "ping"} (answered with {type: "pong"}), {type: "fetched", ...} (bytes the page fetched for us), and
//      {type: "parse", id, source, filename, tag} (the manifest parser: answered {type: "manifest", id, ok, ...}).
// Out: {type: "started", info} | {type: "failed", error, traceback}, {type: "fetch", id, url}, and the runtime's
//      messages {type: "call" | "api" | "export" | "reply", id, ..., header, buffers} with the buffers transferred.
// header is the rpc codec's JSON text (pyapp/rpc/codec.py), buffers are ArrayBuffers.
// Peers (plugin-host.js): {type: "peer", session, port} gives a channel to another plugin's worker. A call to a
// function of that plugin, or the reply to a call from it ("call" messages carry the caller's session as `from`),
// posts {ticket, buffers} on that port (transferred) and {..., header, buffers: [], ticket, to} to the host; the
// host hands the receiver the header with {ticket, from}, and the receiver joins it with the buffers that came on
// `from`'s port under that ticket (whichever arrives first waits; a message waiting for its buffers does not hold
// back later ones, as calls run concurrently anyway). {type: "drop", from, ticket} lets buffers go whose header
// the host refused; {type: "unpeer", session} forgets a stopped plugin.
/* global PYAPP_INDEX_URL, loadPyodide */

// Files of the site (Pyodide and its packages) come from the page, which fetches them through its service
// worker; any other URL goes to the real fetch, which the sandbox's Content-Security-Policy governs.
const nativeFetch = self.fetch.bind(self);
const fetches = new Map();
let fetchSeq = 0;
self.fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input), PYAPP_INDEX_URL).href;
  if (!url.startsWith(PYAPP_INDEX_URL)) return nativeFetch(input, init);
  const id = ++fetchSeq;
  self.postMessage({ type: "fetch", id, url });
  return new Promise((resolve, reject) => fetches.set(id, { resolve, reject, url }));
};

function fetched(msg) {
  const entry = fetches.get(msg.id);
  if (!entry) return;
  fetches.delete(msg.id);
  if (msg.error && !msg.body) {
    entry.reject(new TypeError(`${entry.url}: ${msg.error}`));
    return;
  }
  const type = entry.url.endsWith(".wasm") ? "application/wasm" : msg.contentType || "application/octet-stream";
  entry.resolve(new Response(msg.body, { status: msg.status || 200, headers: { "Content-Type": type } }));
}

let runtime = null;
let receive = null;
let pyodideReady = null;

// session -> {port, arrived: Map(ticket -> buffers), waiting: Map(ticket -> message), dropped: Set(ticket)}
const peers = new Map();
const callers = new Map();   // id of a call being served -> the caller's session ("host": the page)
let tickets = 0;

function addPeer(session, port) {
  if (typeof session !== "string" || !(port instanceof MessagePort) || peers.has(session)) return;
  const peer = { port, arrived: new Map(), waiting: new Map(), dropped: new Set() };
  peers.set(session, peer);
  port.onmessage = ({ data }) => {
    if (!data || !Number.isSafeInteger(data.ticket) || !Array.isArray(data.buffers) ||
        !data.buffers.every((b) => b instanceof ArrayBuffer)) return;
    const msg = peer.waiting.get(data.ticket);
    if (msg) {
      peer.waiting.delete(data.ticket);
      const { ticket, ...rest } = msg;  // eslint-disable-line no-unused-vars
      deliver({ ...rest, buffers: data.buffers });
    } else if (!peer.dropped.delete(data.ticket)) {
      peer.arrived.set(data.ticket, data.buffers);
    }
  };
}

function removePeer(session) {
  const peer = peers.get(session);
  if (!peer) return;
  peers.delete(session);
  peer.port.close();
}

// The message with its buffers, or null while they are still on their way from the sending peer.
function claim(msg) {
  if (msg.ticket === undefined) return msg;
  const peer = peers.get(msg.from);
  if (!peer || !Number.isSafeInteger(msg.ticket)) return { ...msg, buffers: [] };   // the codec then refuses it
  const buffers = peer.arrived.get(msg.ticket);
  if (!buffers) {
    peer.waiting.set(msg.ticket, msg);
    return null;
  }
  peer.arrived.delete(msg.ticket);
  return { ...msg, buffers };
}

function post(metaJson, header, arrays) {
  const meta = JSON.parse(metaJson);
  const buffers = arrays.map((a) => a.buffer);
  let to = null;
  if (meta.type === "call") {
    to = String(meta.target).split("/")[0];
  } else if (meta.type === "reply") {
    to = callers.get(meta.id);
    callers.delete(meta.id);
  }
  const peer = buffers.length && to ? peers.get(to) : null;
  if (peer) {
    const ticket = ++tickets;
    peer.port.postMessage({ ticket, buffers }, buffers);   // straight to the other plugin: no copy via the page
    self.postMessage({ ...meta, header, buffers: [], ticket, to });
  } else {
    self.postMessage({ ...meta, header, buffers }, buffers);
  }
}

function bootPyodide() {
  pyodideReady = pyodideReady || (async () => {
    // the stdlib and packages precompiled to bytecode at build time (as pyodide-options.js, which a classic
    // script cannot import)
    return await loadPyodide({ indexURL: PYAPP_INDEX_URL, lockFileURL: `${PYAPP_INDEX_URL}pyc/pyodide-lock.json`,
                               stdLibURL: `${PYAPP_INDEX_URL}pyc/python_stdlib.zip`,
                               packages: ["numpy", "pyyaml", "pyapp"] });
  })();
  return pyodideReady;
}

async function loadDependencies(pyodide, deps) {
  // packages the plugin declares: only what the site's pyodide-lock.json holds can load
  const names = deps.map((d) => d.split(/[\s<>=!~;[(]/)[0].toLowerCase()).filter(Boolean);
  const missing = names.filter((n) => !(n in pyodide.loadedPackages));
  if (!missing.length) return;
  const errors = [];
  await pyodide.loadPackage(missing, { messageCallback: () => {}, errorCallback: (m) => errors.push(m) });
  if (errors.length) throw new Error(`cannot install the plugin's dependencies: ${errors.join("; ")}`);
}

async function parse(msg) {
  const pyodide = await bootPyodide();
  return JSON.parse(pyodide.pyimport("pyapp.plugins.manifest").describe_plugin(msg.source, msg.filename, msg.tag || null));
}

async function init(msg) {
  const t0 = performance.now();
  const pyodide = await bootPyodide();
  const mod = pyodide.pyimport("pyapp.plugins.runtime");
  const manifest = JSON.parse(pyodide.pyimport("pyapp.plugins.manifest").describe_plugin(msg.source, msg.filename, msg.tag || null));
  await loadDependencies(pyodide, manifest.dependencies);
  const transport = pyodide.pyimport("pyapp.plugins.transport").pyodide_transport(post);
  runtime = mod.PluginRuntime.callKwargs(transport.get(0), { session: msg.session });
  receive = transport.get(1)(runtime);
  runtimeReady();
  const bootMs = performance.now() - t0;
  const info = (await runtime.start(msg.source, msg.filename, msg.tag || null)).toJs({ dict_converter: Object.fromEntries });
  info.bootMs = bootMs;
  info.startMs = performance.now() - t0;
  return info;
}

function pythonError(err) {
  // a PythonError's message is the whole traceback: its last line names the problem
  const text = (err && (err.message || String(err))) || "unknown error";
  const lines = text.trim().split("\n").filter((l) => l.trim());
  return { error: lines.length ? lines[lines.length - 1] : text, traceback: text };
}

let runtimeReady;
const booted = new Promise((resolve) => { runtimeReady = resolve; });

function deliver(msg) {
  const whole = claim(msg);
  if (!whole) return;
  const { header, buffers, ticket, from, ...meta } = whole;  // eslint-disable-line no-unused-vars
  if (meta.type === "call") callers.set(meta.id, typeof from === "string" ? from : "host");
  receive(JSON.stringify(meta), header, buffers);
}

self.onmessage = (event) => {
  const msg = event.data;
  if (msg.type === "peer") {
    addPeer(msg.session, msg.port);
  } else if (msg.type === "unpeer") {
    removePeer(msg.session);
  } else if (msg.type === "drop") {
    const peer = peers.get(msg.from);
    if (peer && !peer.arrived.delete(msg.ticket)) peer.dropped.add(msg.ticket);   // or still on its way
  } else if (msg.type === "fetched") {
    fetched(msg);
  } else if (msg.type === "ping") {
    self.postMessage({ type: "pong" });  // the host's keep-alive: answered while the event loop is free
  } else if (msg.type === "parse") {
    parse(msg).then(
      (manifest) => self.postMessage({ type: "manifest", id: msg.id, ok: true, manifest }),
      (err) => self.postMessage({ type: "manifest", id: msg.id, ok: false, ...pythonError(err) }));
  } else if (msg.type === "init") {
    init(msg).then(
      (info) => self.postMessage({ type: "started", info }),
      (err) => self.postMessage({ type: "failed", ...pythonError(err) }));
  } else if (receive) {
    deliver(msg);       // replies must get through while start() (setup) still runs
  } else {
    booted.then(() => deliver(msg));
  }
};
