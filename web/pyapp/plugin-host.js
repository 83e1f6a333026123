// The plugin host (main thread): one sandboxed Pyodide worker per plugin (sandbox.js + plugin-worker.js), calls
// routed between them and the page, api requests answered (plugin-services.js).
//   await host.load(urlOrSource, {filename, tag, permissions}) -> {name, version, description, interface, ...}
//   await host.parseManifest(source, filename, tag)  -> the manifest as the Python parser read it (sandboxed)
//   host.list(), await host.call(name, fn, args), host.kill(name), host.events, host.windows, host.getConfig(name)
//   host.setHandlers({dialog, prompt, confirm, createWindow, closeWindow, fileDialog}), host.configure({...})
//   host.registerService(service) / await host.getService(id) / host.services()
// Identity: a plugin's name is what the trusted parser read from its file before the worker started, bound to
// that worker's record; messages never name their sender. A worker may call only its own functions and the
// function ids it was handed (another plugin's exports via get_plugin, callbacks passed to it).
// Arrays between plugins: when a worker is handed another plugin's function ids, the host gives both workers the
// two ends of a MessageChannel of their own ({type: "peer", session, port}). A call or reply to that plugin then
// sends its header here (checked and routed as any other, with the ticket) and its buffers straight to the peer
// ({ticket, buffers} on the port, transferred): the plugins' frames share a renderer process, the page does not,
// so the bytes skip two cross-process copies. The receiver takes buffers only for a ticket the host announced
// with the sender's session; a message the host refuses gets {type: "drop", from, ticket} to the peer.
import { CodecError, RemoteError, methodIds, pack, unpack } from "./rpc-codec.js";
import { createSandboxedWorker } from "./sandbox.js";
import { GONE, HANDLERS, createServices } from "./plugin-services.js";

const WORKER_SCRIPTS = ["pyapp/plugin-worker.js", "pyodide/pyodide.js", "pyodide/pyodide.asm.js"];
const API_EVENTS = new Set(["log", "error", "show_message", "show_status", "show_progress", "alert"]);
const MAX_GRANTS = 100_000;

const errorReply = (err) => pack(err instanceof Error ? err : new Error(String(err)));
const gone = (message) => Object.assign(new Error(message), { name: "PluginGone" });

/** A plugin host: loads plugins into sandboxed workers, routes calls between them and the page. */
export function createPluginHost({ target = typeof window !== "undefined" ? window : null, sandbox = createSandboxedWorker } = {}) {
  const plugins = new Map();        // name -> record
  const sessions = new Map();       // session -> record
  const configs = new Map();        // name -> {key: value}
  const hostFunctions = new Map();  // "host/fN" -> JS function (callbacks the page sent)
  const hostIds = new Map();
  const peered = new Set();         // "pA|pB": the pairs of workers given a channel of their own
  const loading = new Set();
  const events = [];
  const handlers = {};
  const settings = { heartbeatMs: 5000, heartbeatTimeoutMs: 30000 };
  let heartbeat = null;
  let seq = 0;
  let parser = null;

  function emit(record, type, args) {
    const event = { plugin: record ? record.name : null, type, args, time: Date.now() };
    if (record && type === "show_status") record.statusText = args[0];
    if (record && type === "show_progress") record.progress = args[0];
    events.push(event);
    if (target) target.dispatchEvent(new CustomEvent("pyapp-plugin-event", { detail: event }));
    (type === "error" ? console.error : console.log)(`[${event.plugin || "page"}] ${type}:`, ...args);
  }
  const api = createServices({ emit, handlers, nextId: () => ++seq });

  function register(fn) {
    if (typeof fn.rpcId === "string") return fn.rpcId;  // a remote function goes on to its owner, not via the host
    if (hostIds.has(fn)) return hostIds.get(fn);
    const id = `host/f${++seq}`;
    hostFunctions.set(id, fn);
    hostIds.set(fn, id);
    return id;
  }
  function makeProxy(id, name) {
    const remote = (...args) => callTarget(id, args);
    Object.defineProperty(remote, "name", { value: name || id });
    remote.rpcId = id;
    return remote;
  }

  // Two live plugin workers get a channel of their own for the buffers of their calls (see the top of the file).
  function connect(record, other) {
    if (!other || other === record || GONE.has(other.status) || GONE.has(record.status)) return;
    const key = [record.session, other.session].sort().join("|");
    if (peered.has(key)) return;
    peered.add(key);
    const channel = new MessageChannel();
    record.worker.postMessage({ type: "peer", session: other.session, port: channel.port1 }, [channel.port1]);
    other.worker.postMessage({ type: "peer", session: record.session, port: channel.port2 }, [channel.port2]);
  }

  // Everything a record receives goes through here: the function ids in it become callable by that record (only
  // those the sending record may call itself: a plugin cannot hand on ids it guessed; `sender` null is the host),
  // and the owners of those ids its peers (before the message, so that its port arrives first).
  function deliver(record, msg, transfer = [], sender = null) {
    if (GONE.has(record.status)) return;
    if (typeof msg.header === "string" && record.granted.size < MAX_GRANTS) {
      for (const id of methodIds(msg.header)) {
        if (sender && !mayCall(sender, id)) continue;
        record.granted.add(id);
        connect(record, sessions.get(id.slice(0, id.indexOf("/"))));
      }
    }
    record.worker.postMessage(msg, [...new Set(transfer)]);
  }

  // A message whose buffers went straight to a peer: {ticket, to}; null for one that carries its buffers.
  function ticketOf(msg) {
    return Number.isSafeInteger(msg.ticket) && typeof msg.to === "string" ? { ticket: msg.ticket, to: msg.to } : null;
  }

  // The peer that holds buffers of a message the host refused lets them go.
  function drop(sender, direct) {
    const peer = direct && sessions.get(direct.to);
    if (peer && peer !== sender && !GONE.has(peer.status)) {
      peer.worker.postMessage({ type: "drop", from: sender.session, ticket: direct.ticket });
    }
  }

  function mayCall(record, id) {
    return typeof id === "string" && (id.startsWith(`${record.session}/`) || record.granted.has(id));
  }

  // Send {type: "call"} to the worker owning `id`; resolves with the raw reply {ok, header, buffers, sender[,
  // ticket, from]} (sender: the record that replied, none for a reply the host made). `caller` is the calling
  // record (null: the page); `direct` the ticket of the buffers it sent straight to the owner.
  function routeCall(id, header, buffers, caller = null, direct = null) {
    const record = sessions.get(id.slice(0, id.indexOf("/")));
    if (!record || GONE.has(record.status)) {
      const who = record ? `plugin ${JSON.stringify(record.name)} was ${record.status}` : `no plugin owns ${id}`;
      drop(caller, direct);
      return Promise.resolve({ ok: false, ...errorReply(gone(who)) });
    }
    if (direct && direct.to !== record.session) {
      drop(caller, direct);
      const err = new CodecError(`the call's buffers went to ${direct.to}, not to the owner of ${id}`);
      return Promise.resolve({ ok: false, ...errorReply(err) });
    }
    return new Promise((resolve) => {
      const rid = ++seq;
      record.pending.set(rid, { resolve, caller: caller ? caller.session : "host" });
      const msg = { type: "call", id: rid, target: id, header, buffers, from: caller ? caller.session : "host" };
      deliver(record, direct ? { ...msg, buffers: [], ticket: direct.ticket } : msg, direct ? [] : buffers, caller);
    });
  }

  // A call from the page (trusted): encode, route (or run a host function), decode; errors reject.
  async function callTarget(id, args) {
    if (hostFunctions.has(id)) return await hostFunctions.get(id)(...args);
    const { header, buffers } = pack(args, { register, root: "args" });
    const reply = await routeCall(id, header, buffers);
    const value = unpack(reply.header, reply.buffers, { makeProxy });
    if (reply.ok) return value;
    throw value instanceof Error ? value : new RemoteError("RemoteError", String(value));
  }

  async function findPlugin(name) {
    while (!plugins.has(name) && loading.size) await Promise.allSettled([...loading]);
    const record = plugins.get(name);
    if (!record) throw new Error(`no plugin named ${JSON.stringify(name)} is loaded; loaded: ${JSON.stringify([...plugins.keys()])}`);
    await record.ready;
    if (record.status !== "ready") throw new Error(`plugin ${JSON.stringify(name)} is ${record.status}`);
    return record;
  }

  async function apiRequest(record, fn, args) {
    if (!Array.isArray(args)) throw new TypeError("api arguments must be a list");
    if (fn === "get_plugin") return { raw: (await findPlugin(args[0])).exportData };
    if (fn === "get_config") {
      const config = configs.get(record.name) || {};
      return args[0] == null ? { ...config } : Object.hasOwn(config, args[0]) ? config[args[0]] : args[1] ?? null;
    }
    if (fn === "set_config") {
      if (!configs.has(record.name)) configs.set(record.name, {});
      configs.get(record.name)[String(args[0])] = args[1];
      return null;
    }
    if (API_EVENTS.has(fn)) {
      emit(record, fn, args);
      return null;
    }
    if (Object.hasOwn(api.calls, fn)) return api.calls[fn](record, ...args);
    throw new Error(`the host does not implement api.${fn} yet`);
  }

  function replyValue(record, id, ok, value) {
    let packed;
    try {
      packed = pack(value, { register });
    } catch (err) {
      ok = false;
      packed = errorReply(err);
    }
    deliver(record, { type: "reply", id, ok, header: packed.header, buffers: packed.buffers }, packed.buffers);
  }

  function decodeFrom(record, msg) {
    return unpack(msg.header, Array.isArray(msg.buffers) ? msg.buffers : [], { makeProxy });
  }

  function onMessage(record, msg) {
    if (!msg || typeof msg !== "object" || GONE.has(record.status)) return;
    const direct = ticketOf(msg);
    if (msg.type === "reply") {
      const entry = record.pending.get(msg.id);
      if (!entry) {
        drop(record, direct);
        return;
      }
      record.pending.delete(msg.id);
      if (direct && (direct.to !== entry.caller || entry.caller === "host")) {
        drop(record, direct);
        const err = new CodecError(`the reply's buffers went to ${direct.to}, not to the caller`);
        entry.resolve({ ok: false, ...errorReply(err) });
      } else if (direct) {
        entry.resolve({ ok: !!msg.ok, header: String(msg.header), buffers: [], sender: record, ticket: direct.ticket,
                        from: record.session });
      } else {
        entry.resolve({ ok: !!msg.ok, header: String(msg.header), buffers: Array.isArray(msg.buffers) ? msg.buffers : [],
                        sender: record });
      }
    } else if (msg.type === "call") {
      const id = msg.target;
      if (!mayCall(record, id)) {
        drop(record, direct);
        const err = Object.assign(new Error(`plugin ${JSON.stringify(record.name)} may not call ${JSON.stringify(String(id))}: ` +
          "only what another plugin exported or handed to it"), { name: "PermissionError" });
        replyValue(record, msg.id, false, err);
      } else if (hostFunctions.has(id)) {
        if (direct) {
          drop(record, direct);
          replyValue(record, msg.id, false, new CodecError(`the call's buffers went to ${direct.to}, not to the page`));
          return;
        }
        Promise.resolve()
          .then(() => hostFunctions.get(id)(...decodeFrom(record, msg)))
          .then((v) => replyValue(record, msg.id, true, v), (err) => replyValue(record, msg.id, false, err));
      } else {
        routeCall(id, String(msg.header), direct || !Array.isArray(msg.buffers) ? [] : msg.buffers, record, direct)
          .then((r) => {
            const reply = { type: "reply", id: msg.id, ok: r.ok, header: r.header, buffers: r.buffers };
            deliver(record, r.ticket === undefined ? reply : { ...reply, ticket: r.ticket, from: r.from }, r.buffers,
                    r.sender || null);
          });
      }
    } else if (msg.type === "api") {
      Promise.resolve()
        .then(() => apiRequest(record, String(msg.fn), decodeFrom(record, msg)))
        .then((v) => {
          if (v && v.raw) deliver(record, { type: "reply", id: msg.id, ok: true, header: v.raw.header, buffers: [] });
          else replyValue(record, msg.id, true, v);
        }, (err) => replyValue(record, msg.id, false, err));
    } else if (msg.type === "pong") {
      record.pingSent = null;
    } else if (msg.type === "export") {
      try {
        const exported = decodeFrom(record, msg);
        if (exported === null || typeof exported !== "object" || Array.isArray(exported)) throw new CodecError("api.export needs an object");
        // only its own functions: a plugin cannot re-export another plugin's ids as its own
        const ids = methodIds(msg.header);
        if (!ids.every((id) => id.startsWith(`${record.session}/`))) throw new CodecError("api.export may hold only the plugin's own functions");
        record.exportData = { header: String(msg.header) };
        record.exported = exported;
        record.interface = Object.keys(exported).sort();
      } catch (err) {
        emit(record, "error", [`api.export was refused: ${err.message}`]);
      }
    } else if (msg.type === "started" && record.status === "loading") {
      const { name, ...info } = msg.info && typeof msg.info === "object" ? msg.info : {};  // eslint-disable-line no-unused-vars
      Object.assign(record.info, info);
      record.status = "ready";
      record.startReady(record.summary());
    } else if (msg.type === "failed" && record.status === "loading") {
      record.status = "failed";
      const err = new Error(String(msg.error));
      err.remoteTraceback = String(msg.traceback || "");
      record.worker.terminate();
      record.startFailed(err);
    }
  }

  // Stop a record's worker and fail everything waiting on it.
  function stop(record, status, reason) {
    if (GONE.has(record.status) && record.status !== "failed") return false;
    const wasLoading = record.status === "loading";
    record.status = status;
    record.worker.terminate();
    const packed = errorReply(gone(reason));
    for (const { resolve } of record.pending.values()) resolve({ ok: false, header: packed.header, buffers: [] });
    record.pending.clear();
    // its peers let go of its channel (and of buffers it sent that no header claimed)
    for (const key of [...peered]) {
      const [a, b] = key.split("|");
      if (a !== record.session && b !== record.session) continue;
      peered.delete(key);
      const other = sessions.get(a === record.session ? b : a);
      if (other && !GONE.has(other.status)) other.worker.postMessage({ type: "unpeer", session: record.session });
    }
    if (wasLoading) record.startFailed(gone(reason));
    api.dropOwner(record);
    return true;
  }

  function beat() {
    const now = performance.now();
    for (const record of sessions.values()) {
      if (record.status !== "ready" || record.pending.size === 0) {
        record.pingSent = null;
        continue;
      }
      if (record.pingSent == null) {
        record.pingSent = now;
        record.worker.postMessage({ type: "ping" });
      } else if (now - record.pingSent > settings.heartbeatTimeoutMs) {
        const ms = Math.round(now - record.pingSent);
        stop(record, "unresponsive", `plugin ${JSON.stringify(record.name)} stopped responding ` +
             `(no heartbeat for ${ms} ms while ${record.pending.size} call(s) waited) and was stopped`);
      }
    }
  }

  function startHeartbeat() {
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = setInterval(beat, settings.heartbeatMs);
  }

  function configure(options = {}) {
    for (const key of ["heartbeatMs", "heartbeatTimeoutMs"]) {
      if (key in options) {
        const v = Number(options[key]);
        if (!(v > 0)) throw new RangeError(`${key} must be a positive number of milliseconds, got ${options[key]}`);
        settings[key] = v;
      }
    }
    if (heartbeat) startHeartbeat();
    return { ...settings };
  }

  function setHandlers(given = {}) {
    for (const [key, fn] of Object.entries(given)) {
      if (!HANDLERS.includes(key)) throw new TypeError(`unknown handler ${JSON.stringify(key)}; known: ${HANDLERS.join(", ")}`);
      if (fn == null) delete handlers[key];
      else if (typeof fn !== "function") throw new TypeError(`handler ${key} must be a function`);
      else handlers[key] = fn;
    }
    return Object.keys(handlers);
  }

  /** The manifest as pyapp.plugins.manifest reads it, in a sandboxed worker that runs no plugin code. */
  async function parseManifest(source, filename = "plugin.py", tag = null) {
    if (!parser) {
      parser = { pending: new Map(), worker: sandbox({ name: "manifest parser", scripts: WORKER_SCRIPTS }) };
      parser.worker.then((w) => {
        w.onmessage = ({ data }) => {
          const entry = data && data.type === "manifest" && parser.pending.get(data.id);
          if (!entry) return;
          parser.pending.delete(data.id);
          if (data.ok) entry.resolve(data.manifest);
          else entry.reject(Object.assign(new Error(String(data.error)), { remoteTraceback: String(data.traceback || "") }));
        };
      }, () => { parser = null; });
    }
    const worker = await parser.worker;
    const id = ++seq;
    return new Promise((resolve, reject) => {
      parser.pending.set(id, { resolve, reject });
      worker.postMessage({ type: "parse", id, source, filename, tag });
    });
  }

  async function load(urlOrSource, { filename = null, tag = null, permissions = [] } = {}) {
    let source = urlOrSource;
    let name = filename;
    const looksLikeUrl = typeof urlOrSource === "string" && !/[\n<]/.test(urlOrSource.trim()) &&
      /(^\w+:|^\.{0,2}\/|\.(py|html)$)/.test(urlOrSource.trim());
    if (looksLikeUrl) {
      const url = new URL(urlOrSource.trim(), location.href).href;
      const response = await fetch(url);
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
      source = await response.text();
      name = name || decodeURIComponent(new URL(url).pathname.split("/").pop()) || "plugin.py";
    }
    if (!name) name = /^\s*<config/m.test(source) || /<script\s+lang=/.test(source) ? "plugin.imjoy.html" : "plugin.py";
    const started = start(source, name, tag, permissions);
    loading.add(started);
    try {
      return await started;
    } finally {
      loading.delete(started);
    }
  }

  async function start(source, filename, tag, permissions) {
    const [parsed, made] = await Promise.allSettled([
      parseManifest(source, filename, tag),
      sandbox({ name: `plugin ${filename}`, permissions, scripts: WORKER_SCRIPTS }),
    ]);
    if (parsed.status === "rejected" || made.status === "rejected") {
      if (made.status === "fulfilled") made.value.terminate();
      throw parsed.status === "rejected" ? parsed.reason : made.reason;
    }
    const [manifest, worker] = [parsed.value, made.value];
    const session = `p${++seq}`;
    const record = {
      session, name: manifest.name, filename, status: "loading", pending: new Map(), info: {}, interface: [],
      exported: null, exportData: null, statusText: "", progress: null, worker, granted: new Set(),
      manifest, permissions: [...permissions],
      summary() {
        return { ...this.info, name: this.name, status: this.status, session: this.session, filename: this.filename,
                 interface: this.interface, statusText: this.statusText, progress: this.progress,
                 permissions: this.permissions, requested: [...(this.manifest.permissions || [])],
                 manifest: this.manifest };
      },
    };
    record.ready = new Promise((resolve, reject) => { record.startReady = resolve; record.startFailed = reject; });
    record.ready.catch(() => {});
    sessions.set(session, record);
    worker.onmessage = (event) => onMessage(record, event.data);
    worker.onerror = (event) => stop(record, "crashed", `plugin ${JSON.stringify(record.name)} crashed: ${event.message || "worker error"}`);
    worker.onmessageerror = () => stop(record, "crashed", `plugin ${JSON.stringify(record.name)}: a message could not be read`);
    worker.postMessage({ type: "init", session, source, filename, tag });
    if (!heartbeat) startHeartbeat();
    const summary = await record.ready;
    const old = plugins.get(record.name);
    if (old && old !== record) stop(old, "killed", `plugin ${JSON.stringify(record.name)} was reloaded`);
    plugins.set(record.name, record);
    return summary;
  }

  async function call(name, fn, args = []) {
    const record = await findPlugin(name);
    const member = record.exported && Object.hasOwn(record.exported, fn) ? record.exported[fn] : null;
    if (!member) throw new Error(`plugin ${JSON.stringify(name)} has no function ${JSON.stringify(fn)}; it exports ${JSON.stringify(record.interface)}`);
    return member(...args);
  }

  function kill(name) {
    const record = plugins.get(name);
    return record ? stop(record, "killed", `plugin ${JSON.stringify(name)} was killed`) : false;
  }

  return {
    load, parseManifest, call, kill, events, setHandlers, configure,
    list: () => [...plugins.values()].map((r) => r.summary()),
    getPlugin: async (name) => (await findPlugin(name)).exported,
    windows: api.windows,
    registerService: (service) => api.registerService(service, null),
    getService: async (id) => api.getService(id),
    services: () => api.listServices(),
    getConfig: (name) => ({ ...(configs.get(name) || {}) }),
  };
}
