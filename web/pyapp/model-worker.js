// The model worker: boots Pyodide with our wheel, runs bioimage.io models through onnxruntime-web.
// Messages in: {id, type: "init" | "predict" | "describe" | "preview" | "evaluate" | "read" | "encode" | "inspect" |
// "package", payload} ("inspect"/"package": the Package form, pyapp/runtime/worker_package.py), and
// {type: "cancel", payload: {target: id}}: that predict stops at its next tile and fails with "cancelled".
// Out: {id, ok, result | error} and
// {id, type: "progress", done, total, message}. Typed arrays travel as transferables, never as JSON.
// The boot starts when this module runs (not on "init"), and onnxruntime-web loads alongside it.
import { loadPyodide } from "../pyodide/pyodide.mjs";
import { pyodideOptions } from "./pyodide-options.js";
import { stitchRuns } from "./stitch.js";

const marks = { script: performance.timeOrigin + performance.now() };  // epoch ms: the page converts them
const mark = (name) => { marks[name] = performance.timeOrigin + performance.now(); };
const siteRoot = new URL("..", import.meta.url).href;      // absolute: worker URLs are never blob: here

// onnxruntime-web/webgpu: the wasm EP and the maintained native WebGPU EP (not the deprecated JSEP one)
const ortReady = import("../ort/ort.webgpu.min.mjs").then((ort) => {
  ort.env.wasm.wasmPaths = new URL("../ort/", import.meta.url).href;
  // every core the page may use (the library default is min(4, cores / 2)); threads need cross-origin isolation
  ort.env.wasm.numThreads = self.crossOriginIsolated ? navigator.hardwareConcurrency || 1 : 1;
  ort.env.logLevel = "error";
  mark("ort");
  return ort;
});

// Execution providers to try, in order: "auto" picks WebGPU only on a real (not software) adapter.
async function chooseEps(pref) {
  if (pref === "wasm" || pref === "webgpu") return [pref];
  if (self.navigator && navigator.gpu) {
    try {
      const adapter = await navigator.gpu.requestAdapter();
      const fallback = adapter && (adapter.isFallbackAdapter || (adapter.info && adapter.info.isFallbackAdapter));
      if (adapter && !fallback) return ["webgpu", "wasm"];
    } catch (e) { /* no usable adapter: wasm */ }
  }
  return ["wasm"];
}

let describing = null;  // pyapp.runtime.worker_describe: what the page asks before anything runs (no numpy)
let running = null;     // a promise of pyapp.runtime.worker: numpy and the runner, loaded on first use
let loadRunner = null;  // starts (or joins) that load
let packaging = null;   // pyapp.runtime.worker_package, imported on the first "inspect"/"package"

// The boot loads no numpy (its install and import cost ~0.7 s CPU): the page is ready once a model can be
// described. numpy loads on the first request that needs it, and in the background after the first "describe".
// The packages load during loadPyodide, precompiled (.pyc, see pyodide-options.js); image readers (tifffile,
// imageio + pillow) load on first use. pyapp's entry in the workers' lock leaves numpy out (sitebuild/pyc.py).
const BOOT_PACKAGES = ["pyyaml", "pyapp"];
const RUNNER_PACKAGES = ["numpy"];

async function boot() {
  const t0 = performance.now();
  const pyodide = await loadPyodide({ ...pyodideOptions(new URL("../pyodide/", import.meta.url).href),
                                      packages: BOOT_PACKAGES });
  mark("pyodide");
  const t1 = performance.now();
  pyodide.registerJsModule("pyapp_js", { ort: await ortReady, chooseEps, stitchRuns });
  describing = pyodide.pyimport("pyapp.runtime.worker_describe");
  packaging = () => pyodide.pyimport("pyapp.runtime.worker_package");
  mark("imports");
  const t2 = performance.now();
  const packages = Object.keys(pyodide.loadedPackages).sort();  // what the boot installed (no numpy)
  loadRunner = () => {
    running = running || (async () => {
      const errors = [];
      await pyodide.loadPackage(RUNNER_PACKAGES, { messageCallback: () => {}, errorCallback: (m) => errors.push(m) });
      if (errors.length) throw new Error(`the image tools (numpy) did not load: ${errors.join("; ")}`);
      const module = pyodide.pyimport("pyapp.runtime.worker");
      mark("runner");
      return module;
    })();
    running.catch(() => { running = null; });  // the next request tries again
    return running;
  };
  return { pyodide: pyodide.version, bootMs: t2 - t0, crossOriginIsolated: self.crossOriginIsolated,
           gpu: !!(self.navigator && navigator.gpu), site: siteRoot, packages,
           timings: { pyodide: t1 - t0, imports: t2 - t1 }, marks };
}
const booting = boot();
booting.catch(() => {});  // reported to each request

function oneLine(err) {
  const text = (err && (err.message || String(err))) || "unknown error";
  // Python errors arrive with their traceback: keep the last line, which names the problem
  const lines = text.trim().split("\n").filter((l) => l.trim());
  return lines.length ? lines[lines.length - 1].replace(/^\w+(\.\w+)*(Error|Exception): /, "") : text;
}

function transferables(result) {
  return [...(result.outputs || []), ...(result.labels ? [result.labels] : [])].map((o) => o.data.buffer);
}

// The requests that need numpy and the runner (all but "init" and "describe").
const RUNNER_REQUESTS = new Set(["predict", "preview", "evaluate", "read", "encode", "inspect", "package"]);

async function handle(id, type, payload) {
  const info = await booting;
  if (type === "init") return info;
  if (type === "describe") return await describing.describe_model(payload.model);
  if (!RUNNER_REQUESTS.has(type)) throw new Error(`unknown request ${type}`);
  const service = await loadRunner();
  if (type === "predict") {
    const progress = (done, total, message) => {
      if (cancelled.has(id)) throw new Error("cancelled");  // stops the run between two tiles (pyapp.cancel)
      self.postMessage({ id, type: "progress", done, total, message });
    };
    const model = payload.model;
    return await service.predict(model, payload.image, payload.options || {}, progress);
  }
  if (type === "preview") return await service.preview(payload.image, payload.options || {});
  if (type === "evaluate") {  // scores against ground truth (pyapp.evaluate)
    return await service.evaluate(payload.prediction, payload.groundTruth, payload.options || {});
  }
  if (type === "read") return await service.read_array(payload.image, payload.options || {});
  if (type === "encode") return await service.encode(payload.array, payload.format);  // file bytes (downloads)
  if (type === "inspect") return await packaging().inspect_onnx(payload.onnx, payload.name);
  return await packaging().package_onnx(payload.onnx, payload.onnxName, payload.sample, payload.sampleName, payload.argv);
}

const cancelled = new Set();  // ids of predictions to stop at their next tile

self.onmessage = async (event) => {
  const { id, type, payload } = event.data;
  if (type === "cancel") { cancelled.add(payload.target); return; }
  try {
    const result = await handle(id, type, payload);
    const transfer = type === "predict" ? transferables(result)
      : ["preview", "read", "encode"].includes(type) ? [result.data.buffer]
        : type === "package" ? [result.zip.buffer, result.cover.buffer] : [];
    self.postMessage({ id, ok: true, result }, transfer);
  } catch (err) {
    self.postMessage({ id, ok: false, error: cancelled.has(id) ? "cancelled" : oneLine(err) });
  } finally {
    cancelled.delete(id);
    // the first model is described (the page is ready): numpy loads now, so the first run does not wait for it
    if (type === "describe" && loadRunner) loadRunner().catch(() => {});
  }
};
