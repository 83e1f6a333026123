// window.pyapp.engine: train a model on a remote engine (Hypha + `pyapp engine` workers), watch it, bring the
// exported package back and run it here. The panel (engine-panel.js) and tests use the same calls:
//   await pyapp.engine.connect(url, token)          -> {url, host, socket, workspace}
//   const jobId = await pyapp.engine.train(pairs, {steps, seed, consent})   (consent step first, always)
//   await pyapp.engine.status(jobId)                -> {state, step, total_steps, losses, val_metrics, eta_s, sample}
//   await pyapp.engine.stop(jobId)
//   const modelId = await pyapp.engine.exportModel(jobId)   -> usable by pyapp.predict(modelId, image)
//   pyapp.engine.watch(jobId)                       -> polls status until the job ends; "pyapp-engine" events
//   await pyapp.engine.addPairs(pairs)              -> adds pairs to the panel's list (annotations) and opens it
//   await pyapp.engine.deleteJob(jobId)             -> the engine deletes the job, its images and its model
// pairs: [{image, mask, name?}] or [[image, mask]] of URLs, Files or {data, shape, dtype}. Without a
// options.consent function the consent dialog asks the user; with one, that function gets the same summary.
// Either way nothing is read into a message for the engine before the answer is yes.
import pyapp from "./app.js";
import { DEFAULT_ENGINE, EngineClient, isConnectionError, ndarray, plainStatus } from "./engine-client.js";
import { askConsent } from "./engine-consent.js";
import { consentSummary, normalizePairs, readPairs } from "./engine-data.js";

const POLL_MS = 1000;
const STATUS_TIMEOUT_MS = 10000;
const TERMINAL = new Set(["done", "stopped", "failed"]);

const events = new EventTarget();
const watchers = new Map();   // jobId -> Promise of the last status
const exported = new Map();   // jobId -> {modelId, zip}

function emit(type, detail) {
  events.dispatchEvent(new CustomEvent(type, { detail }));
  window.dispatchEvent(new CustomEvent("pyapp-engine", { detail: { type, ...detail } }));
}

/** A technical line for the log panel (the page's #log) and the console. */
function log(text) {
  const pre = document.getElementById("log");
  if (pre) {
    pre.textContent += `${new Date().toTimeString().slice(0, 8)}  ${text}\n`;
    pre.scrollTop = pre.scrollHeight;
  }
  console.debug(text);
}

const client = new EngineClient({ log, onState: (state, detail) => emit("connection", { state, detail }) });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function requireConnection() {
  if (!client.target) throw new Error("connect to a training engine first (Train → Engine → Connect)");
}

async function connect(url, token, options = {}) {
  const info = await client.connect(url, token, options);
  emit("connection", { state: "connected", detail: info.host });
  return info;
}

async function status(jobId) {
  requireConnection();
  return plainStatus(await client.call("status", [jobId], { timeoutMs: STATUS_TIMEOUT_MS }));
}

/** Poll the job's status until it ends; survives dropped connections (fresh connection, same job id). */
function watch(jobId) {
  if (watchers.has(jobId)) return watchers.get(jobId);
  const loop = (async () => {
    let failures = 0;
    for (;;) {
      let st;
      try {
        st = await status(jobId);
      } catch (err) {
        if (!isConnectionError(err) || failures >= 30) {
          emit("failed", { jobId, message: err.message });
          throw err;
        }
        failures += 1;
        emit("connection", { state: "reconnecting", detail: err.message, jobId });
        log(`engine: status of ${jobId} failed (${err.message}); retrying (${failures})`);
        await sleep(Math.min(8000, 500 * 2 ** Math.min(failures, 4)));
        continue;
      }
      if (failures) emit("connection", { state: "connected", detail: client.target.host, resumed: true, jobId });
      failures = 0;
      emit("status", { jobId, status: st });
      if (TERMINAL.has(st.state)) return st;
      await sleep(POLL_MS);
    }
  })();
  watchers.set(jobId, loop);
  loop.finally(() => watchers.delete(jobId)).catch(() => {});
  return loop;
}

async function train(pairs, options = {}) {
  requireConnection();
  const { consent, onProgress = () => {}, ...config } = options;
  const list = normalizePairs(pairs);
  emit("preparing", { pairs: list.length });
  const read = await readPairs(pyapp, list, { onProgress });
  const summary = consentSummary(read, client.target);
  log(`engine: asking consent to send ${summary.items.length} pairs (${summary.bytes} bytes) to ${summary.socket}`);
  if (!(await askConsent(summary, consent))) {
    log("engine: consent refused; nothing was sent");
    emit("refused", { summary });
    throw new Error("Training cancelled: no images were sent.");
  }
  const data = read.map((p) => ({ name: p.name, image: ndarray(p.image), mask: ndarray(p.mask) }));
  const t0 = performance.now();
  const jobId = String(await client.call("start_training", [config, data], { retry: false }));
  log(`engine: job ${jobId} started; ${summary.bytes} bytes sent in ${Math.round(performance.now() - t0)} ms`);
  emit("started", { jobId, summary, config });
  watch(jobId).catch(() => {});
  return jobId;
}

async function stop(jobId) {
  requireConnection();
  await client.call("stop", [jobId]);
  log(`engine: stop requested for ${jobId}`);
}

async function listJobs() {
  requireConnection();
  return client.call("list_jobs", []);
}

async function deleteJob(jobId) {
  requireConnection();
  await client.call("delete", [jobId]);
  log(`engine: deleted job ${jobId} and its data on ${client.target.host}`);
}

function zipBytes(value) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value && value._rtype === "memoryview") return zipBytes(value._rvalue);
  throw new Error("the engine sent something that is not a model package");
}

/** The exported package's zip bytes (fetched once per job). */
async function packageBytes(jobId) {
  if (exported.has(jobId)) return exported.get(jobId).zip;
  requireConnection();
  const t0 = performance.now();
  const zip = zipBytes(await client.call("export", [jobId]));
  if (zip[0] !== 0x50 || zip[1] !== 0x4b) throw new Error("the engine's package is not a zip file");
  log(`engine: package of ${jobId} received (${zip.byteLength} bytes, ${Math.round(performance.now() - t0)} ms)`);
  exported.set(jobId, { zip, modelId: null });
  return zip;
}

/** Bring the job's package here and register it with the model worker; returns the model id for predict. */
async function exportModel(jobId, { name } = {}) {
  const zip = await packageBytes(jobId);
  const modelId = `engine-${String(jobId).replace(/[^\w-]/g, "-")}`;
  const description = await pyapp.describe(zip.slice().buffer);
  const entry = pyapp.addModel({ id: modelId, name: name || `${description.name} (trained here)`,
                                 description: description.description, kind: "segmentation", zip });
  exported.get(jobId).modelId = modelId;
  log(`engine: model ${modelId} ready on this device (${entry.url})`);
  emit("exported", { jobId, modelId });
  return modelId;
}

/** Save the job's package as a .zip file (the browser's download). */
async function download(jobId) {
  const zip = await packageBytes(jobId);
  const url = URL.createObjectURL(new Blob([zip], { type: "application/zip" }));
  const link = Object.assign(document.createElement("a"), { href: url, download: `pyapp-model-${jobId}.zip` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** Add image/mask pairs to the Train panel's list (e.g. from annotations) and open the panel. */
async function addPairs(pairs) {
  const { togglePanel } = await import("./engine-panel.js");
  const panel = togglePanel(engine, true);
  panel.addPairs(normalizePairs(pairs));
  return panel.pairs.length;
}

const engine = {
  connect, train, status, stop, watch, exportModel, download, listJobs, deleteJob, addPairs,
  disconnect: () => client.close(),
  get connected() { return client.connected; },
  get target() { return client.target; },
  events, client, DEFAULT_ENGINE,
};
pyapp.engine = engine;

// The panel is built on first use (header button), so a visit that never trains loads only this module.
const button = document.getElementById("engine-btn");
if (button) {
  button.addEventListener("click", async () => {
    const { togglePanel } = await import("./engine-panel.js");
    togglePanel(engine);
  });
}
export default engine;
