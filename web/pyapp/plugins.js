// The plugin host (main thread): one Pyodide worker per plugin (plugin-worker.js), calls routed between them.
// Importing this module installs window.pyapp.plugins = createPluginHost():
//   await plugins.load(urlOrSource, {filename, tag})  -> {name, version, description, interface: [...], ...}
//   plugins.list()                                   -> [{name, status, interface, ...}]
//   await plugins.call(name, fn, args)               -> the result (ndarrays as NDArray {data, shape, dtype})
//   plugins.kill(name)                               -> true if it was running; its pending calls reject at once
//   plugins.events                                   -> [{plugin, type, args, time}] (log, show_message, ...)
//   plugins.getConfig(name)                          -> the plugin's config (api.set_config), in memory for now
//   plugins.setHandlers({dialog, prompt, confirm, createWindow, closeWindow, fileDialog}) -> the page's UI for
//                                                       api.show_dialog/prompt/confirm/create_window/show_file_dialog;
//                                                       each gets one object {plugin, ...} and may return a promise
//   plugins.windows                                  -> {id: {id, plugin, type, name, data, dialog}} open windows
//   plugins.registerService(service) / getService(id) / services() -> the registry api.register_service fills
//   plugins.configure({heartbeatMs, heartbeatTimeoutMs}) -> a busy worker is pinged every heartbeatMs; one that
//                                                       does not answer for heartbeatTimeoutMs while calls to it
//                                                       are pending is stopped ("unresponsive"), its calls reject
// Without handlers: prompt/confirm use window.prompt/window.confirm, create_window/show_dialog only record the
// window in plugins.windows, show_file_dialog rejects. When window.pyapp.predict exists, the service
// "pyapp.models" offers predict/models/describe/classify to plugins (api.get_service("pyapp.models")).
// Every api event is also dispatched on window as a "pyapp-plugin-event" CustomEvent (detail: the event).
// Values travel in the rpc codec's format (pyapp/rpc/codec.py): a JSON header and ArrayBuffers, transferred.
// A failed remote call rejects with an Error whose message is the traceback's last line ("ValueError: ...")
// and whose .remoteTraceback is the whole text.

const WIRE_VERSION = 1;
const MAX_SAFE = 2 ** 53;
const TYPED = {
  bool: Uint8Array, int8: Int8Array, int16: Int16Array, int32: Int32Array, int64: BigInt64Array,
  uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, uint64: BigUint64Array,
  float16: typeof Float16Array === "function" ? Float16Array : Uint16Array, // eslint-disable-line no-undef
  float32: Float32Array, float64: Float64Array, complex64: Float32Array, complex128: Float64Array,
};
const ITEMSIZE = { bool: 1, int8: 1, int16: 2, int32: 4, int64: 8, uint8: 1, uint16: 2, uint32: 4, uint64: 8,
  float16: 2, float32: 4, float64: 8, complex64: 8, complex128: 16 };
const DTYPE_OF = new Map([[Int8Array, "int8"], [Int16Array, "int16"], [Int32Array, "int32"],
  [BigInt64Array, "int64"], [Uint8Array, "uint8"], [Uint8ClampedArray, "uint8"], [Uint16Array, "uint16"],
  [Uint32Array, "uint32"], [BigUint64Array, "uint64"], [Float32Array, "float32"], [Float64Array, "float64"]]);

/** An n-dimensional array on the JS side: a typed array (C order) with its shape and numpy dtype name. */
export class NDArray {
  constructor(data, shape, dtype) {
    this.data = data;
    this.shape = shape ? Array.from(shape) : [data.length];
    this.dtype = dtype || DTYPE_OF.get(data.constructor);
    if (!this.dtype) throw new TypeError(`no dtype for a ${data.constructor.name}`);
  }
}

/** A remote error as the codec carries it; its message is the traceback's last line. */
export class RemoteError extends Error {
  constructor(typeName, message, traceback = "") {
    super(`${typeName}: ${message}`);
    this.name = "RemoteError";
    this.typeName = typeName;
    this.remoteMessage = message;
    this.remoteTraceback = traceback;
  }
}

/** Raised by encode/decode for values or messages outside the wire format; .path says where. */
export class CodecError extends Error {
  constructor(message, path = "") {
    super(path ? `${path}: ${message}` : message);
    this.name = "CodecError";
    this.path = path;
  }
}

function isPlainObject(v) {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

// The bytes of a typed array as one ArrayBuffer of exactly its size: its own buffer when it spans all of it
// (transferred, no copy), else a copy of the slice.
function ownBuffer(view) {
  if (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength &&
      !(typeof SharedArrayBuffer === "function" && view.buffer instanceof SharedArrayBuffer)) return view.buffer;
  return view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
}

/**
 * Encode a JS value into {data, buffers} (the wire format of pyapp/rpc/codec.py). Functions need
 * register(fn) -> id. NDArray and typed arrays become ndarrays, ArrayBuffer becomes bytes, Error becomes error.
 */
export function encode(value, { register = null, root = "value" } = {}) {
  const buffers = [];
  const active = new Set();
  const add = (view) => { buffers.push(ownBuffer(view)); return buffers.length - 1; };
  const ndarray = (data, shape, dtype) => ({ _rtype: "ndarray", _rvalue: add(data), _rshape: Array.from(shape), _rdtype: dtype });
  function enc(v, path) {
    if (v === null || v === undefined || typeof v === "boolean" || typeof v === "string") return v ?? null;
    if (typeof v === "number") {
      if (Number.isFinite(v)) return v;
      return { _rtype: "float", _rvalue: Number.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf" };
    }
    if (typeof v === "bigint") {
      return v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : { _rtype: "int", _rvalue: v.toString() };
    }
    if (typeof v === "function") {
      if (!register) throw new CodecError("cannot send a function without a registry", path);
      return { _rtype: "method", _rvalue: register(v), _rname: v.name || "function" };
    }
    if (v instanceof NDArray) {
      const size = v.shape.reduce((a, b) => a * b, 1) * ITEMSIZE[v.dtype];
      if (!(v.dtype in ITEMSIZE)) throw new CodecError(`unknown dtype ${v.dtype}`, path);
      if (v.data.byteLength !== size) {
        throw new CodecError(`data has ${v.data.byteLength} bytes, shape ${JSON.stringify(v.shape)} of ${v.dtype} needs ${size}`, path);
      }
      return ndarray(v.data, v.shape, v.dtype);
    }
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      const dtype = DTYPE_OF.get(v.constructor);
      if (!dtype) throw new CodecError(`cannot send a ${v.constructor.name}`, path);
      return ndarray(v, [v.length], dtype);
    }
    if (v instanceof ArrayBuffer) return { _rtype: "bytes", _rvalue: add(new Uint8Array(v)) };
    if (v instanceof DataView) return { _rtype: "bytes", _rvalue: add(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) };
    if (v instanceof Error) {
      const typeName = v instanceof RemoteError ? v.typeName : v.name || "Error";
      const message = v instanceof RemoteError ? v.remoteMessage : v.message;
      return { _rtype: "error", _rvalue: String(message), _rname: typeName, _rtraceback: v.remoteTraceback || v.stack || "" };
    }
    if (Array.isArray(v) || isPlainObject(v)) {
      if (active.has(v)) throw new CodecError("circular reference: the value contains itself", path);
      active.add(v);
      try {
        if (Array.isArray(v)) return v.map((x, i) => enc(x, `${path}[${i}]`));
        const out = {};
        for (const [k, x] of Object.entries(v)) out[k] = enc(x, `${path}[${JSON.stringify(k)}]`);
        return "_rtype" in out ? { _rtype: "dict", _rvalue: out } : out;
      } finally {
        active.delete(v);
      }
    }
    throw new CodecError(`cannot encode a value of type ${v.constructor ? v.constructor.name : typeof v}`, path);
  }
  return { data: enc(value, root), buffers };
}

function field(data, key, kind, path) {
  const v = data[key];
  const ok = kind === "array" ? Array.isArray(v) : kind === "object" ? isPlainObject(v) : typeof v === kind;
  if (!ok) throw new CodecError(`${data._rtype} message needs ${key} of type ${kind}, got ${JSON.stringify(v)}`, path);
  return v;
}

/** Decode {data, buffers}; makeProxy(id, name) builds the stand-in for a remote function. */
export function decode(data, buffers = [], { makeProxy = null, root = "value" } = {}) {
  function buffer(d, path) {
    const i = d._rvalue;
    if (!Number.isInteger(i) || i < 0 || i >= buffers.length) {
      throw new CodecError(`_rvalue ${JSON.stringify(i)} is not a buffer index (have ${buffers.length} buffers)`, path);
    }
    return buffers[i];
  }
  function method(d, path) {
    const id = field(d, "_rvalue", "string", path);
    if (!makeProxy) throw new CodecError(`received a remote function ${JSON.stringify(id)} but no makeProxy was given`, path);
    return makeProxy(id, String(d._rname || ""));
  }
  function dec(d, path) {
    if (Array.isArray(d)) return d.map((x, i) => dec(x, `${path}[${i}]`));
    if (!isPlainObject(d)) return d;
    if (!("_rtype" in d)) {
      const out = {};
      for (const [k, x] of Object.entries(d)) out[k] = dec(x, `${path}[${JSON.stringify(k)}]`);
      return out;
    }
    switch (d._rtype) {
      case "bytes": return toArrayBuffer(buffer(d, path));
      case "ndarray": {
        const dtype = field(d, "_rdtype", "string", path);
        const shape = field(d, "_rshape", "array", path);
        if (!(dtype in TYPED)) throw new CodecError(`_rdtype ${JSON.stringify(dtype)} is not a known dtype`, path);
        const buf = toArrayBuffer(buffer(d, path));
        const count = shape.reduce((a, b) => a * b, 1);
        if (buf.byteLength !== count * ITEMSIZE[dtype]) {
          throw new CodecError(`buffer has ${buf.byteLength} bytes, shape ${JSON.stringify(shape)} of ${dtype} needs ${count * ITEMSIZE[dtype]}`, path);
        }
        return new NDArray(new TYPED[dtype](buf), shape, dtype);
      }
      case "method": return method(d, path);
      case "interface": {
        const members = field(d, "_rvalue", "object", path);
        const out = {};
        for (const [k, m] of Object.entries(members)) out[k] = method(m, `${path}.${k}`);
        return out;
      }
      case "error": return new RemoteError(field(d, "_rname", "string", path), field(d, "_rvalue", "string", path), String(d._rtraceback || ""));
      case "int": {
        const text = field(d, "_rvalue", "string", path);
        if (!/^-?\d+$/.test(text)) throw new CodecError(`_rvalue ${JSON.stringify(text)} is not a decimal integer`, path);
        return BigInt(text);
      }
      case "float": {
        const text = field(d, "_rvalue", "string", path);
        const table = { nan: NaN, inf: Infinity, "-inf": -Infinity };
        if (!(text in table)) throw new CodecError(`_rvalue ${JSON.stringify(text)} is not one of 'nan', 'inf', '-inf'`, path);
        return table[text];
      }
      case "dict": {
        const value = field(d, "_rvalue", "object", path);
        const out = {};
        for (const [k, x] of Object.entries(value)) out[k] = dec(x, `${path}[${JSON.stringify(k)}]`);
        return out;
      }
      default:
        throw new CodecError(`unknown _rtype ${JSON.stringify(d._rtype)}`, path);
    }
  }
  return dec(data, root);
}

function toArrayBuffer(b) {
  if (b instanceof ArrayBuffer) return b;
  if (ArrayBuffer.isView(b)) return ownBuffer(b);
  throw new CodecError(`a buffer must be an ArrayBuffer or a typed array, got ${b && b.constructor ? b.constructor.name : typeof b}`);
}

/** pack: {header: JSON text {"v":1,"n":N,"data":...}, buffers}. */
export function pack(value, options = {}) {
  const { data, buffers } = encode(value, options);
  return { header: JSON.stringify({ v: WIRE_VERSION, n: buffers.length, data }), buffers };
}

/** unpack a header (text) and its buffers. */
export function unpack(header, buffers = [], options = {}) {
  let message;
  try {
    message = JSON.parse(header);
  } catch (err) {
    throw new CodecError(`header is not JSON: ${err.message}`);
  }
  if (!isPlainObject(message) || !Number.isInteger(message.v) || !("data" in message)) {
    throw new CodecError('header must be a JSON object with "v", "n" and "data"');
  }
  if (message.v > WIRE_VERSION) throw new CodecError(`message uses wire version ${message.v}, this reader knows up to ${WIRE_VERSION}`);
  if (message.n !== buffers.length) throw new CodecError(`header announces ${message.n} buffers, got ${buffers.length}`);
  return decode(message.data, buffers, { ...options, root: "message" });
}

// ---- the host ------------------------------------------------------------------------------------------------

const workerUrl = new URL("./plugin-worker.js", import.meta.url);
const API_EVENTS = new Set(["log", "error", "show_message", "show_status", "show_progress", "alert"]);
const GONE = new Set(["killed", "crashed", "failed", "unresponsive"]);
const HANDLERS = ["dialog", "prompt", "confirm", "createWindow", "closeWindow", "fileDialog"];

function errorReply(err) {
  const e = err instanceof Error ? err : new Error(String(err));
  return pack(e);
}

/** A plugin host: loads plugins into workers, routes calls between them and the page. */
export function createPluginHost({ target = typeof window !== "undefined" ? window : null } = {}) {
  const plugins = new Map();        // name -> record
  const sessions = new Map();       // session -> record
  const configs = new Map();        // name -> {key: value}
  const hostFunctions = new Map();  // "host/fN" -> JS function (callbacks the page sent)
  const hostIds = new Map();
  const loading = new Set();        // promises of loads in progress
  const events = [];
  const handlers = {};
  const windows = {};              // id -> {id, plugin, type, name, data, dialog, config}
  const services = new Map();       // id -> {owner: record | null, service}
  const settings = { heartbeatMs: 5000, heartbeatTimeoutMs: 30000 };
  let heartbeat = null;
  let seq = 0;

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

  function emit(record, type, args) {
    const event = { plugin: record ? record.name : null, type, args, time: Date.now() };
    if (record && type === "show_status") record.statusText = args[0];
    if (record && type === "show_progress") record.progress = args[0];
    events.push(event);
    if (target) target.dispatchEvent(new CustomEvent("pyapp-plugin-event", { detail: event }));
    (type === "error" ? console.error : console.log)(`[${event.plugin || "page"}] ${type}:`, ...args);
  }

  // Send {type: "call"} to the worker owning `id`; resolves with the raw reply {ok, header, buffers}.
  function routeCall(id, header, buffers) {
    const session = id.slice(0, id.indexOf("/"));
    const record = sessions.get(session);
    if (!record || GONE.has(record.status)) {
      const who = record ? `plugin ${JSON.stringify(record.name)} was ${record.status}` : `no plugin owns ${id}`;
      return Promise.resolve({ ok: false, ...errorReply(Object.assign(new Error(who), { name: "PluginGone" })) });
    }
    return new Promise((resolve) => {
      const rid = ++seq;
      record.pending.set(rid, resolve);
      record.worker.postMessage({ type: "call", id: rid, target: id, header, buffers }, buffers);
    });
  }

  // A call from the page: encode, route (or run a host function), decode; errors reject.
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

  // Api requests from a plugin's worker; the result goes back as the reply's value.
  async function apiRequest(record, fn, args) {
    if (fn === "get_plugin") {
      const other = await findPlugin(args[0]);
      return { raw: other.exportData };
    }
    if (fn === "get_config") {
      const config = configs.get(record.name) || {};
      return args[0] == null ? { ...config } : args[0] in config ? config[args[0]] : args[1] ?? null;
    }
    if (fn === "set_config") {
      if (!configs.has(record.name)) configs.set(record.name, {});
      configs.get(record.name)[args[0]] = args[1];
      return null;
    }
    if (API_EVENTS.has(fn)) {
      emit(record, fn, args);
      return null;
    }
    if (fn in UI_CALLS) return UI_CALLS[fn](record, ...args);
    throw new Error(`the host does not implement api.${fn} yet`);
  }

  // ---- dialogs, windows, files: the page's handlers (setHandlers) or the defaults -------------------------

  async function openWindow(record, spec, dialog) {
    const id = `w${++seq}`;
    const entry = { id, plugin: record ? record.name : null, type: spec.type, name: spec.name || spec.type,
                    data: spec.data ?? null, dialog, config: spec };
    emit(record, dialog ? "show_dialog" : "create_window", [{ id, type: entry.type, name: entry.name }]);
    windows[id] = entry;
    const handler = dialog ? handlers.dialog || handlers.createWindow : handlers.createWindow;
    let result = null;
    if (handler) {
      try {
        result = await handler(entry);
      } catch (err) {
        delete windows[id];
        throw err;
      }
    }
    return { id, result: result === undefined ? null : result };
  }

  const UI_CALLS = {
    create_window: (record, spec) => openWindow(record, spec, false),
    show_dialog: (record, spec) => openWindow(record, spec, true),
    async close_window(record, id) {
      const entry = windows[id];
      emit(record, "close_window", [id]);
      if (!entry) return false;
      delete windows[id];
      if (handlers.closeWindow) await handlers.closeWindow(entry);
      return true;
    },
    async prompt(record, message, dflt) {
      emit(record, "prompt", [message, dflt]);
      if (handlers.prompt) return (await handlers.prompt({ plugin: record.name, message, default: dflt })) ?? null;
      return window.prompt(message, dflt == null ? "" : String(dflt));
    },
    async confirm(record, message) {
      emit(record, "confirm", [message]);
      if (handlers.confirm) return !!(await handlers.confirm({ plugin: record.name, message }));
      return window.confirm(message);
    },
    async show_file_dialog(record, config) {
      emit(record, "show_file_dialog", [config]);
      if (!handlers.fileDialog) {
        throw new Error("api.show_file_dialog: this page has no file picker for plugins " +
                        "(install one with pyapp.plugins.setHandlers({fileDialog}))");
      }
      const file = await handlers.fileDialog({ plugin: record.name, ...config });
      if (file == null) throw new Error("api.show_file_dialog: no file was chosen");
      return readFile(file);
    },
    register_service(record, service) {
      return registerService(service, record);
    },
    get_service(record, id) {
      return getService(id);
    },
  };

  async function readFile(file) {
    if (typeof Blob === "function" && file instanceof Blob) {
      return { name: file.name || "file", bytes: await file.arrayBuffer(), size: file.size, type: file.type || "" };
    }
    let bytes = file.bytes ?? file.data;
    if (typeof Blob === "function" && bytes instanceof Blob) bytes = await bytes.arrayBuffer();
    if (typeof bytes === "string") bytes = new TextEncoder().encode(bytes);
    if (ArrayBuffer.isView(bytes)) bytes = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    if (!(bytes instanceof ArrayBuffer)) throw new TypeError("the fileDialog handler must give a File or {name, bytes}");
    return { name: String(file.name || "file"), bytes, size: bytes.byteLength, type: String(file.type || "") };
  }

  // ---- services ---------------------------------------------------------------------------------------------

  function registerService(service, record = null) {
    if (!isPlainObject(service)) throw new TypeError("a service is a plain object with an id and functions");
    const id = service.id ?? service.name;
    if (typeof id !== "string" || !id) throw new TypeError("a service needs a non-empty string id (or name)");
    services.set(id, { owner: record, service: { ...service, id } });
    emit(record, "register_service", [id]);
    return id;
  }

  function getService(id) {
    const entry = services.get(id);
    if (entry && !(entry.owner && GONE.has(entry.owner.status))) return entry.service;
    const builtin = BUILTIN_SERVICES[id] && BUILTIN_SERVICES[id]();
    if (builtin) return builtin;
    const known = [...services.keys(), ...Object.keys(BUILTIN_SERVICES).filter((k) => BUILTIN_SERVICES[k]())];
    throw new Error(`no service ${JSON.stringify(id)} is registered; registered: ${JSON.stringify(known.sort())}`);
  }

  // The page's model API as a service, for the Model runner and Image classifier plugins.
  let modelsService = null;
  const BUILTIN_SERVICES = {
    "pyapp.models": () => {
      const app = typeof window !== "undefined" ? window.pyapp : null;
      if (!app || typeof app.predict !== "function") return null;
      if (modelsService) return modelsService;
      const asNDArray = (o) => (o && ArrayBuffer.isView(o.data) && Array.isArray(o.shape) && o.dtype in TYPED
        ? { ...o, data: new NDArray(o.data, o.shape, o.dtype) } : o);
      modelsService = {
        id: "pyapp.models",
        name: "pyapp models",
        description: "The page's model worker: predict(model, image, options), models(), describe(model), classify()",
        async models() { return window.pyapp.models(); },
        async describe(model) { return window.pyapp.describe(model); },
        async predict(model, image, options = {}) {
          const opts = { ...(options || {}) };
          if (typeof opts.onProgress === "function") {
            const remote = opts.onProgress;
            opts.onProgress = (done, total, message) => { remote(done, total, message).catch(() => {}); };
          }
          const result = await window.pyapp.predict(model, image, opts);
          return { ...result, outputs: (result.outputs || []).map(asNDArray) };
        },
        async classify(options = {}) {
          const camera = window.pyapp.camera;
          if (!camera || typeof camera.classify !== "function") {
            throw new Error("no camera classifier on this page: pyapp.camera is missing (open the app's own page)");
          }
          return camera.classify(options || {});
        },
      };
      return modelsService;
    },
  };

  function reply(record, id, ok, header, buffers) {
    if (GONE.has(record.status)) return;
    record.worker.postMessage({ type: "reply", id, ok, header, buffers }, buffers);
  }

  function replyValue(record, id, ok, value) {
    let packed;
    try {
      packed = pack(value, { register });
    } catch (err) {
      ok = false;
      packed = errorReply(err);
    }
    reply(record, id, ok, packed.header, packed.buffers);
  }

  function onMessage(record, msg) {
    if (msg.type === "reply") {
      const resolve = record.pending.get(msg.id);
      if (!resolve) return;
      record.pending.delete(msg.id);
      resolve({ ok: msg.ok, header: msg.header, buffers: msg.buffers });
    } else if (msg.type === "call") {
      // a plugin calls a function of another plugin (or a callback of the page): forward, buffers and all
      const id = msg.target;
      if (hostFunctions.has(id)) {
        Promise.resolve()
          .then(() => hostFunctions.get(id)(...unpack(msg.header, msg.buffers, { makeProxy })))
          .then((v) => replyValue(record, msg.id, true, v), (err) => replyValue(record, msg.id, false, err));
      } else {
        routeCall(id, msg.header, msg.buffers).then((r) => reply(record, msg.id, r.ok, r.header, r.buffers));
      }
    } else if (msg.type === "api") {
      Promise.resolve()
        .then(() => apiRequest(record, msg.fn, unpack(msg.header, msg.buffers, { makeProxy })))
        .then((v) => {
          if (v && v.raw) reply(record, msg.id, true, v.raw.header, []);
          else replyValue(record, msg.id, true, v);
        }, (err) => replyValue(record, msg.id, false, err));
    } else if (msg.type === "pong") {
      record.pingSent = null;
    } else if (msg.type === "export") {
      record.exportData = { header: msg.header };
      record.exported = unpack(msg.header, msg.buffers, { makeProxy });
      record.interface = Object.keys(record.exported).sort();
    } else if (msg.type === "parsed") {
      record.name = msg.name;
    } else if (msg.type === "started") {
      Object.assign(record.info, msg.info);
      record.status = "ready";
      record.startReady(record.summary());
    } else if (msg.type === "failed") {
      record.status = "failed";
      const err = new Error(msg.error);
      err.remoteTraceback = msg.traceback;
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
    const err = Object.assign(new Error(reason), { name: "PluginGone" });
    const packed = errorReply(err);
    for (const resolve of record.pending.values()) resolve({ ok: false, header: packed.header, buffers: [] });
    record.pending.clear();
    if (wasLoading) record.startFailed(err);
    for (const [id, entry] of services) if (entry.owner === record) services.delete(id);
    return true;
  }

  // Keep-alive: ping each ready worker that has calls pending; one that stays silent is stopped.
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

  async function fetchSource(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.text();
  }

  async function load(urlOrSource, { filename = null, tag = null } = {}) {
    let source = urlOrSource;
    let name = filename;
    const looksLikeUrl = typeof urlOrSource === "string" && !/[\n<]/.test(urlOrSource.trim()) &&
      /(^\w+:|^\.{0,2}\/|\.(py|html)$)/.test(urlOrSource.trim());
    if (looksLikeUrl) {
      const url = new URL(urlOrSource.trim(), location.href).href;
      source = await fetchSource(url);
      name = name || decodeURIComponent(new URL(url).pathname.split("/").pop()) || "plugin.py";
    }
    if (!name) name = /^\s*<config/m.test(source) || /<script\s+lang=/.test(source) ? "plugin.imjoy.html" : "plugin.py";

    const session = `p${++seq}`;
    const record = {
      session, name: null, filename: name, status: "loading", pending: new Map(), info: {}, interface: [],
      exported: null, exportData: null, statusText: "", progress: null,
      worker: new Worker(workerUrl, { type: "module", name: `plugin ${name}` }),
      summary() {
        return { name: this.name, status: this.status, session: this.session, filename: this.filename,
                 interface: this.interface, statusText: this.statusText, progress: this.progress, ...this.info };
      },
    };
    record.ready = new Promise((resolve, reject) => { record.startReady = resolve; record.startFailed = reject; });
    record.ready.catch(() => {});
    sessions.set(session, record);
    record.worker.onmessage = (event) => onMessage(record, event.data);
    record.worker.onerror = (event) => {
      event.preventDefault();
      stop(record, "crashed", `plugin ${JSON.stringify(record.name || name)} crashed: ${event.message || "worker error"}`);
    };
    record.worker.onmessageerror = () => stop(record, "crashed", `plugin ${JSON.stringify(record.name || name)}: a message could not be read`);
    record.worker.postMessage({ type: "init", session, source, filename: name, tag });
    if (!heartbeat) startHeartbeat();

    const started = record.ready.then((summary) => {
      record.name = summary.name;
      const old = plugins.get(record.name);
      if (old && old !== record) stop(old, "killed", `plugin ${JSON.stringify(record.name)} was reloaded`);
      plugins.set(record.name, record);
      return record.summary();
    });
    loading.add(started);
    try {
      return await started;
    } finally {
      loading.delete(started);
    }
  }

  async function call(name, fn, args = []) {
    const record = await findPlugin(name);
    const member = record.exported && record.exported[fn];
    if (!member) throw new Error(`plugin ${JSON.stringify(name)} has no function ${JSON.stringify(fn)}; it exports ${JSON.stringify(record.interface)}`);
    return member(...args);
  }

  function kill(name) {
    const record = plugins.get(name);
    if (!record) return false;
    return stop(record, "killed", `plugin ${JSON.stringify(name)} was killed`);
  }

  function list() {
    return [...plugins.values()].map((r) => r.summary());
  }

  async function getPlugin(name) {
    return (await findPlugin(name)).exported;
  }

  return {
    load, list, call, kill, getPlugin, events, windows, setHandlers, configure, registerService,
    getService: async (id) => getService(id),
    services: () => [...services.keys()].filter((id) => { const o = services.get(id).owner; return !(o && GONE.has(o.status)); }),
    getConfig: (name) => ({ ...(configs.get(name) || {}) }),
  };
}

const host = createPluginHost();
if (typeof window !== "undefined") {
  window.pyapp = window.pyapp || {};
  window.pyapp.plugins = host;
}
export default host;
