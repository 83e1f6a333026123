// window.pyapp: the page's automation API over the model worker (also used by tests and scripts).
//   await pyapp.ready                      -> {pyodide, bootMs, crossOriginIsolated, gpu, timings, marks}
//   await pyapp.models()                   -> [{id, name, description, url}] (models/index.json; no Python)
//   await pyapp.predict(model, image, opts) -> {backend, ms, outputs: [{id, shape, dtype, data}]}
//   await pyapp.describe(model)            -> {name, kind, inputs/outputs: [{id, dtype, axes: [{id, type, size}]}]}
//   opts.labels: true (or {threshold, minSize, minDistance, secondChannel}) adds labels: {shape, dtype, data, count}
//     and objects: [{label, area, centroid_y, ...}] to predict's result (docs/analysis.md)
//   await pyapp.evaluate(prediction, groundTruthUrl, opts) -> {kind, notes, metrics: {f1, accuracy, seg, dice, ...}}
//   await pyapp.read(url)                  -> {shape, dtype, axes, data} all pixels of an image (engine.js)
//   await pyapp.encode(array, "tiff"|"png") -> {data: Uint8Array, mime} the bytes of a file (the page's downloads)
//   await pyapp.cancel()                   -> {cancelled, restarted}: running predictions reject with "cancelled"
//   pyapp.addModel({id, name, zip})        -> a model trained here, listed by models(), usable by id
//   await pyapp.inspectOnnx(bytes, name)   -> {input: {name, shape}, output: {name, shape}, opset} (null: free size)
//   await pyapp.packageOnnx({onnx, onnxName, sample, sampleName, argv}) -> {zip, cover, files}: the package of
//     `pyapp package --onnx ONNX --sample SAMPLE ...argv` (zip and cover.png bytes, the zip's file names)
//   await pyapp.camera.classify()          -> top-5 [{label, p}] of a camera frame (camera.js)
// model: a bundled model id, or a URL of a bioimageio.yaml / rdf.yaml / zip (other origins need CORS), or zip
// bytes; image: a URL of a .npy/.tif/.png/.jpg, or {data: TypedArray, shape, dtype}. opts: {ep, axes, tile,
// memoryBudget, onProgress(done, total, message)}. Failures reject with a one-line Error; the worker survives.

import * as bridge from "./bridge.js";  // for the MicroPython shell: promises that always resolve, sleep

const workerUrl = new URL("./model-worker.js", import.meta.url);
let worker = null;
let seq = 0;
const pending = new Map();

function startWorker() {
  worker = new Worker(workerUrl, { type: "module" });
  worker.onmessage = (event) => {
    const msg = event.data;
    const entry = pending.get(msg.id);
    if (!entry) return;
    if (msg.type === "progress") {
      if (entry.onProgress) entry.onProgress(msg.done, msg.total, msg.message);
      window.dispatchEvent(new CustomEvent("pyapp-progress", { detail: msg }));
      return;
    }
    pending.delete(msg.id);
    if (msg.ok) entry.resolve(msg.result);
    else entry.reject(new Error(msg.error));
  };
  worker.onerror = (event) => {
    // the worker died (a crash or a failed import): fail what waits, start afresh for the next call
    const reason = new Error(`model worker failed: ${event.message || "unknown error"}`);
    for (const entry of pending.values()) entry.reject(reason);
    pending.clear();
    worker.terminate();
    startWorker();
  };
}

function call(type, payload = {}, { transfer = [], onProgress = null } = {}) {
  const id = ++seq;
  const promise = new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, onProgress, type });
    worker.postMessage({ id, type, payload }, transfer);
  });
  pending.get(id).done = promise.then(() => {}, () => {});
  return promise;
}

// Cancel the running predictions: the worker stops at the next tile (cooperative); one that does not stop within
// graceMs (a single long block) is ended by restarting the worker (its Python boots again, models reload on the
// next run). Each cancelled predict() rejects with "cancelled". -> {cancelled, restarted}
async function cancel({ graceMs = 3000 } = {}) {
  const ids = [...pending].filter(([, e]) => e.type === "predict").map(([id]) => id);
  if (!ids.length) return { cancelled: 0, restarted: false };
  const done = Promise.all(ids.map((id) => pending.get(id).done));
  for (const id of ids) worker.postMessage({ id: 0, type: "cancel", payload: { target: id } });
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(() => resolve(true), graceMs); });
  const restarted = await Promise.race([done.then(() => false), late]);
  clearTimeout(timer);
  if (restarted) {
    for (const entry of pending.values()) entry.reject(new Error("cancelled"));
    pending.clear();
    worker.terminate();
    startWorker();
    window.pyapp.ready = call("init");
  }
  return { cancelled: ids.length, restarted };
}

startWorker();  // as early as possible: the worker's Python boots while the page and its shell start
const absolute = (url) => new URL(url, location.href).href;
let modelList = null;

// The bundled models (models/index.json, written by the build); none when the file is missing.
async function models() {
  if (!modelList) {
    modelList = (async () => {
      const response = await fetch(new URL("../models/index.json", import.meta.url));
      return response.ok ? await response.json() : [];
    })();
    modelList.catch(() => { modelList = null; });
  }
  return [...await modelList, ...added].map((m) => ({ ...m, url: absolute(m.url) }));
}

// Models made in this session (e.g. trained on an engine: engine.js): zip bytes behind a blob: URL, listed by
// models() and usable by id in predict/describe. Fires "pyapp-models" on window.
const added = [];
function addModel({ id, name, description = "", kind = "segmentation", zip }) {
  if (!/^[\w-]+$/.test(id)) throw new Error(`model id ${JSON.stringify(id)}: use letters, digits, - and _`);
  const old = added.findIndex((m) => m.id === id);
  if (old >= 0) URL.revokeObjectURL(added.splice(old, 1)[0].url);
  const entry = { id, name, description, kind, url: URL.createObjectURL(new Blob([zip], { type: "application/zip" })) };
  added.push(entry);
  window.dispatchEvent(new CustomEvent("pyapp-models", { detail: { ...entry } }));
  return { ...entry };
}

async function resolveModel(model) {
  if (typeof model !== "string") return model instanceof ArrayBuffer ? new Uint8Array(model) : model;
  if (/[/.]/.test(model)) return absolute(model);
  const found = (await models()).find((m) => m.id === model);
  if (!found) throw new Error(`no bundled model ${JSON.stringify(model)}; pyapp.models() lists them`);
  return found.url;
}

async function predict(model, image, options = {}) {
  const { onProgress = null, ...opts } = options;
  const payload = { model: await resolveModel(model), options: opts };
  const transfer = [];
  if (typeof image === "string") payload.image = absolute(image);
  else {
    payload.image = { data: image.data, shape: Array.from(image.shape), dtype: image.dtype || "float32" };
    if (options.transfer !== false && image.data && image.data.buffer) transfer.push(image.data.buffer);
  }
  return call("predict", payload, { transfer, onProgress });
}

// Scores against ground truth. prediction: a predict() result (its labels, else its first output), a label image
// {data, shape, dtype} or a URL; groundTruth: a URL of a label image/mask or {data, shape, dtype}.
async function evaluate(prediction, groundTruth, options = {}) {
  const array = (a) => (typeof a === "string" ? absolute(a)
    : { data: a.data, shape: Array.from(a.shape), dtype: a.dtype || "float32" });
  const pred = prediction && prediction.outputs ? prediction.labels || prediction.outputs[0] : prediction;
  return call("evaluate", { prediction: array(pred), groundTruth: array(groundTruth), options });
}

// What a model needs and gives (axes, fixed sizes, channel names, kind), without loading its weights.
const descriptions = new Map();
async function describe(model) {
  const source = await resolveModel(model);
  const key = typeof source === "string" ? source : null;
  if (key && descriptions.has(key)) return descriptions.get(key);
  const result = call("describe", { model: source });
  if (key) descriptions.set(key, result);
  result.catch(() => descriptions.delete(key));
  return result;
}

// A uint8 grey display image {shape: [h, w], data} for a .tif/.npy URL (the page decodes png/jpg itself).
async function preview(image, options = {}) {
  return call("preview", { image: absolute(image), options });
}

// All pixels of an image URL (or object URL#name) in its own dtype: {shape, dtype, axes, data}.
async function read(image, options = {}) {
  return call("read", { image: absolute(image), options });
}

// An array {data, shape, dtype} as the bytes of a TIFF (any shape, its own dtype) or a 16-bit PNG (2D integers).
async function encode(array, format) {
  return call("encode", { array: { data: array.data, shape: Array.from(array.shape), dtype: array.dtype }, format });
}

// The Package form (package-form.js): read a network's input/output, build a package as `pyapp package --onnx`.
const inspectOnnx = (onnx, name) => call("inspect", { onnx: new Uint8Array(onnx), name });
const packageOnnx = ({ onnx, onnxName, sample, sampleName, argv }) => call("package", {
  onnx: new Uint8Array(onnx), onnxName, sample: new Uint8Array(sample), sampleName, argv: [...argv] });

const ready = call("init");
ready.then(() => performance.mark("pyapp:worker-ready"), () => {});
window.pyapp = { ready, models, predict, cancel, describe, preview, evaluate, read, encode, addModel, inspectOnnx,
                 packageOnnx, bridge: { ...bridge } };
export default window.pyapp;
