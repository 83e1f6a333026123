// What the plugin host offers plugins beyond calls: windows and dialogs (through the page's handlers), files, and
// the service registry. Identity comes from the record of the worker that asked (bound by the host when it
// started that worker), never from the message:
// - `pyapp.*` service ids are reserved for the page's built-ins, which are looked up first; a plugin cannot
//   register one;
// - a plugin's services are namespaced "<plugin name>:<id>"; get_service("id") finds a plugin service by its short
//   id while only one plugin offers it (otherwise name it in full);
// - a plugin can close only its own windows.
import { NDArray } from "./rpc-codec.js";

export const GONE = new Set(["killed", "crashed", "failed", "unresponsive"]);
export const HANDLERS = ["dialog", "prompt", "confirm", "createWindow", "closeWindow", "fileDialog"];
const RESERVED = "pyapp.";

function isPlainObject(v) {
  return v !== null && typeof v === "object" && [Object.prototype, null].includes(Object.getPrototypeOf(v));
}

function permissionError(message) {
  return Object.assign(new Error(message), { name: "PermissionError" });
}

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

// The page's model API (app.js) for the "pyapp.models" service. A page without it (the plugin workbench) loads
// app.js on first use; app.js replaces window.pyapp, so what was there before is put back onto the new object.
let modelApi = null;
async function models() {
  const app = typeof window !== "undefined" ? window.pyapp : null;
  if (app && typeof app.predict === "function") return app;
  if (!modelApi) {
    modelApi = (async () => {
      const saved = window.pyapp || {};
      const mod = await import("./app.js");
      const api = mod.default || window.pyapp;
      window.pyapp = Object.assign(api, saved, { predict: api.predict, models: api.models, describe: api.describe,
                                                 ready: api.ready });
      return window.pyapp;
    })();
  }
  return modelApi;
}

const TYPED_NAMES = new Set(["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
  "float16", "float32", "float64", "complex64", "complex128"]);
const asNDArray = (o) => (o && ArrayBuffer.isView(o.data) && Array.isArray(o.shape) && TYPED_NAMES.has(o.dtype)
  ? { ...o, data: new NDArray(o.data, o.shape, o.dtype) } : o);

/** The built-in "pyapp.models" service: the page's model worker. */
export const modelsService = Object.freeze({
  id: "pyapp.models",
  name: "pyapp models",
  description: "The page's model worker: predict(model, image, options), models(), describe(model), classify()",
  async models() { return (await models()).models(); },
  async describe(model) { return (await models()).describe(model); },
  async predict(model, image, options = {}) {
    const opts = { ...(options || {}) };
    if (typeof opts.onProgress === "function") {
      const remote = opts.onProgress;
      opts.onProgress = (done, total, message) => { Promise.resolve(remote(done, total, message)).catch(() => {}); };
    }
    const result = await (await models()).predict(model, image, opts);
    return { ...result, outputs: (result.outputs || []).map(asNDArray) };
  },
  async classify(options = {}) {
    const camera = typeof window !== "undefined" && window.pyapp ? window.pyapp.camera : null;
    if (!camera || typeof camera.classify !== "function") {
      throw new Error("no camera classifier on this page: pyapp.camera is missing (open the app's own page)");
    }
    return camera.classify(options || {});
  },
});

/**
 * The services, windows and dialogs of one host. `emit(record, type, args)` records an event; `handlers` is the
 * host's (mutable) table of page handlers; `nextId()` gives window ids.
 */
export function createServices({ emit, handlers, nextId }) {
  const services = new Map();     // full id -> {owner: record | null, service}
  const windows = {};             // id -> {id, plugin, type, name, data, dialog, config}
  const owners = new Map();       // window id -> record
  const builtins = { "pyapp.models": modelsService };

  const live = (entry) => !(entry.owner && GONE.has(entry.owner.status));

  function registerService(service, record = null) {
    if (!isPlainObject(service)) throw new TypeError("a service is a plain object with an id and functions");
    const id = service.id ?? service.name;
    if (typeof id !== "string" || !id) throw new TypeError("a service needs a non-empty string id (or name)");
    if (record && id.startsWith(RESERVED)) {
      throw permissionError(`service ids starting with "${RESERVED}" belong to the app; choose another id than ${JSON.stringify(id)}`);
    }
    const full = record ? `${record.name}:${id}` : id;
    services.set(full, { owner: record, service: { ...service, id } });
    emit(record, "register_service", [full]);
    return id;
  }

  function getService(id) {
    if (typeof id !== "string" || !id) throw new TypeError("get_service needs a service id");
    if (id.startsWith(RESERVED)) {
      if (builtins[id]) return builtins[id];
      const page = services.get(id);
      if (page && page.owner === null) return page.service;
    } else {
      const exact = services.get(id);
      if (exact && live(exact)) return exact.service;
      const short = [...services].filter(([, e]) => e.owner && live(e) && e.service.id === id);
      if (short.length === 1) return short[0][1].service;
      if (short.length > 1) {
        throw new Error(`several plugins offer a service ${JSON.stringify(id)}: name one of ${JSON.stringify(short.map(([k]) => k))}`);
      }
    }
    const known = [...Object.keys(builtins), ...listServices()].sort();
    throw new Error(`no service ${JSON.stringify(id)} is registered; registered: ${JSON.stringify(known)}`);
  }

  function listServices() {
    return [...services].filter(([, e]) => live(e)).map(([k]) => k);
  }

  function dropOwner(record) {
    for (const [id, entry] of services) if (entry.owner === record) services.delete(id);
  }

  async function openWindow(record, spec, dialog) {
    if (!isPlainObject(spec)) throw new TypeError("create_window needs a config object");
    const id = `w${nextId()}`;
    const entry = { id, plugin: record ? record.name : null, type: spec.type, name: spec.name || spec.type,
                    data: spec.data ?? null, dialog, config: spec };
    emit(record, dialog ? "show_dialog" : "create_window", [{ id, type: entry.type, name: entry.name }]);
    windows[id] = entry;
    owners.set(id, record);
    const handler = dialog ? handlers.dialog || handlers.createWindow : handlers.createWindow;
    let result = null;
    if (handler) {
      try {
        result = await handler(entry);
      } catch (err) {
        delete windows[id];
        owners.delete(id);
        throw err;
      }
    }
    return { id, result: result === undefined ? null : result };
  }

  async function closeWindow(record, id) {
    const entry = Object.hasOwn(windows, id) ? windows[id] : null;
    emit(record, "close_window", [id]);
    if (!entry) return false;
    if (record && owners.get(id) !== record) {
      throw permissionError(`window ${JSON.stringify(id)} belongs to another plugin: a plugin can close only its own windows`);
    }
    delete windows[id];
    owners.delete(id);
    if (handlers.closeWindow) await handlers.closeWindow(entry);
    return true;
  }

  /** api.<fn> requests that open UI or touch services; `record` is the asking plugin. */
  const calls = {
    create_window: (record, spec) => openWindow(record, spec, false),
    show_dialog: (record, spec) => openWindow(record, spec, true),
    close_window: closeWindow,
    async prompt(record, message, dflt) {
      emit(record, "prompt", [message, dflt]);
      if (handlers.prompt) return (await handlers.prompt({ plugin: record.name, message, default: dflt })) ?? null;
      return window.prompt(`${record.name}: ${message}`, dflt == null ? "" : String(dflt));
    },
    async confirm(record, message) {
      emit(record, "confirm", [message]);
      if (handlers.confirm) return !!(await handlers.confirm({ plugin: record.name, message }));
      return window.confirm(`${record.name}: ${message}`);
    },
    async show_file_dialog(record, config) {
      emit(record, "show_file_dialog", [config]);
      if (!handlers.fileDialog) {
        throw new Error("api.show_file_dialog: this page has no file picker for plugins " +
                        "(install one with pyapp.plugins.setHandlers({fileDialog}))");
      }
      const file = await handlers.fileDialog({ ...(isPlainObject(config) ? config : {}), plugin: record.name });
      if (file == null) throw new Error("api.show_file_dialog: no file was chosen");
      return readFile(file);
    },
    register_service: (record, service) => registerService(service, record),
    get_service: (record, id) => getService(id),
  };

  return { windows, calls, registerService, getService, listServices, dropOwner };
}
