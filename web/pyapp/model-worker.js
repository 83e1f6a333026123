// The model worker: boots Pyodide with our wheel, runs bioimage.io models through onnxruntime-web.
// Messages in: {id, type: "init" | "models" | "predict" | "describe" | "preview", payload}. Out: {id, ok, result | error} and
// {id, type: "progress", done, total, message}. Typed arrays travel as transferables, never as JSON.
// onnxruntime-web/webgpu: the wasm EP and the maintained native WebGPU EP (not the deprecated JSEP one)
import * as ort from "../ort/ort.webgpu.min.mjs";
import { loadPyodide } from "../pyodide/pyodide.mjs";

const here = new URL(".", import.meta.url).href;            // absolute: worker URLs are never blob: here
const siteRoot = new URL("..", import.meta.url).href;
ort.env.wasm.wasmPaths = new URL("../ort/", import.meta.url).href;
// every core the page may use (the library default is min(4, cores / 2)); threads need cross-origin isolation
ort.env.wasm.numThreads = self.crossOriginIsolated ? navigator.hardwareConcurrency || 1 : 1;
ort.env.logLevel = "error";

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

let service = null;
let booting = null;

async function boot() {
  const t0 = performance.now();
  const pyodide = await loadPyodide({ indexURL: new URL("../pyodide/", import.meta.url).href });
  const t1 = performance.now();
  // image readers (tifffile, imageio + pillow) load on first use, from the same lock
  await pyodide.loadPackage(["numpy", "pyyaml", "pyapp"], { messageCallback: () => {} });
  const t2 = performance.now();
  pyodide.registerJsModule("pyapp_js", { ort, chooseEps });
  service = pyodide.pyimport("pyapp.runtime.worker");
  const t3 = performance.now();
  return { pyodide: pyodide.version, bootMs: t3 - t0, crossOriginIsolated: self.crossOriginIsolated,
           gpu: !!(self.navigator && navigator.gpu), site: siteRoot,
           timings: { pyodide: t1 - t0, packages: t2 - t1, imports: t3 - t2 } };
}

function oneLine(err) {
  const text = (err && (err.message || String(err))) || "unknown error";
  // Python errors arrive with their traceback: keep the last line, which names the problem
  const lines = text.trim().split("\n").filter((l) => l.trim());
  return lines.length ? lines[lines.length - 1].replace(/^\w+(\.\w+)*(Error|Exception): /, "") : text;
}

function transferables(result) {
  return (result.outputs || []).map((o) => o.data.buffer);
}

async function handle(id, type, payload) {
  if (type === "init") {
    booting = booting || boot();
    return await booting;
  }
  if (!service) await (booting = booting || boot());
  if (type === "models") {
    const proxy = await service.list_models(new URL("models/index.json", siteRoot).href);
    return proxy;
  }
  if (type === "predict") {
    const progress = (done, total, message) => self.postMessage({ id, type: "progress", done, total, message });
    const model = payload.model;
    return await service.predict(model, payload.image, payload.options || {}, progress);
  }
  if (type === "describe") return await service.describe_model(payload.model);
  if (type === "preview") return await service.preview(payload.image, payload.options || {});
  throw new Error(`unknown request ${type}`);
}

self.onmessage = async (event) => {
  const { id, type, payload } = event.data;
  try {
    const result = await handle(id, type, payload);
    const transfer = type === "predict" ? transferables(result) : type === "preview" ? [result.data.buffer] : [];
    self.postMessage({ id, ok: true, result }, transfer);
  } catch (err) {
    self.postMessage({ id, ok: false, error: oneLine(err) });
  }
};
