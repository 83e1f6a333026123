// One plugin's worker: boots Pyodide with our wheel, runs the plugin (pyapp.plugins.runtime) and serves calls.
// In:  {type: "init", session, source, filename, tag}, then {type: "call" | "reply", id, target, ok, header, buffers},
//      and {type: "ping"} (the host's heartbeat while calls are pending; answered with {type: "pong"}).
// Out: {type: "parsed", name}, {type: "started", info} | {type: "failed", error, traceback}, and the runtime's messages
//      {type: "call" | "api" | "export" | "reply", id, ..., header, buffers} with the buffers transferred.
// header is the rpc codec's JSON text (pyapp/rpc/codec.py), buffers are ArrayBuffers.
import { loadPyodide } from "../pyodide/pyodide.mjs";
import { pyodideOptions } from "./pyodide-options.js";

let runtime = null;
let receive = null;

function post(metaJson, header, arrays) {
  const buffers = arrays.map((a) => a.buffer);
  self.postMessage({ ...JSON.parse(metaJson), header, buffers }, buffers);
}

async function loadDependencies(pyodide, deps) {
  // packages the plugin declares: only what the site's pyodide-lock.json holds can load (no network here)
  const names = deps.map((d) => d.split(/[\s<>=!~;\[(]/)[0].toLowerCase()).filter(Boolean);
  const missing = names.filter((n) => !(n in pyodide.loadedPackages));
  if (!missing.length) return;
  const errors = [];
  await pyodide.loadPackage(missing, { messageCallback: () => {}, errorCallback: (m) => errors.push(m) });
  if (errors.length) throw new Error(`cannot install the plugin's dependencies: ${errors.join("; ")}`);
}

async function init(msg) {
  const t0 = performance.now();
  const pyodide = await loadPyodide({ ...pyodideOptions(new URL("../pyodide/", import.meta.url).href),
                                      packages: ["numpy", "pyyaml", "pyapp"] });
  const mod = pyodide.pyimport("pyapp.plugins.runtime");
  const manifest = pyodide.pyimport("pyapp.plugins.manifest");
  const options = msg.tag ? { filename: msg.filename, tag: msg.tag } : { filename: msg.filename };
  const plugin = manifest.load_plugin.callKwargs(msg.source, options);
  await loadDependencies(pyodide, plugin.manifest.dependencies.toJs());
  self.postMessage({ type: "parsed", name: plugin.manifest.name });
  plugin.destroy();
  const transport = mod.pyodide_transport(post);
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
  const { header, buffers, ...meta } = msg;
  receive(JSON.stringify(meta), header, buffers);
}

self.onmessage = (event) => {
  const msg = event.data;
  if (msg.type === "ping") {
    self.postMessage({ type: "pong" });  // the host's keep-alive: answered while the event loop is free
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
