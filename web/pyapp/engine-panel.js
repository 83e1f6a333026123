// The Train panel: connect to an engine, pick image/mask pairs, consent, watch training live (loss and
// validation curves, a sample prediction, ETA, Stop), then use the model here or download its package.
// Built on first use by engine.js; every action goes through window.pyapp.engine (the automation API).
// document.body.dataset.engine* tell tests what happened: engineConnection, engineJob, engineState,
// engineStep, engineModel.
import { DEFAULT_ENGINE } from "./engine-client.js";
import { drawCurves, drawSample, toPoints } from "./engine-chart.js";
import { formatBytes } from "./engine-consent.js";
import { normalizePairs } from "./engine-data.js";
import { el } from "./page-dom.js";

let panel = null;

/** Seconds as words: "about 2 min left". */
export function etaText(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return "";
  const s = Math.max(0, Math.round(Number(seconds)));
  if (s < 60) return `about ${s} s left`;
  if (s < 3600) return `about ${Math.round(s / 60)} min left`;
  return `about ${(s / 3600).toFixed(1)} h left`;
}

// The job states of docs/engine.md, in words
const STATE_WORDS = {
  queued: "Waiting for a free worker…", running: "Training…", done: "Training finished.",
  stopped: "Training stopped; the best model so far is kept.", failed: "Training failed.",
};

/** Pair files by name order: images[i] with masks[i]; returns [{image, mask, name}]. */
export function pairFiles(images, masks) {
  const byName = (a, b) => a.name.localeCompare(b.name, undefined, { numeric: true });
  const xs = [...images].sort(byName), ys = [...masks].sort(byName);
  if (xs.length !== ys.length) {
    throw new Error(`${xs.length} image${xs.length === 1 ? "" : "s"} but ${ys.length} mask${ys.length === 1 ? "" : "s"}: ` +
                    "pick one mask per image (they are paired in name order)");
  }
  return xs.map((image, i) => ({ image, mask: ys[i], name: image.name }));
}

class Panel {
  constructor(engine) {
    this.engine = engine;
    this.pairs = [];
    this.jobId = null;
    this.lastStatus = null;
    this.build();
    engine.events.addEventListener("connection", (e) => this.onConnection(e.detail));
    engine.events.addEventListener("status", (e) => e.detail.jobId === this.jobId && this.onStatus(e.detail.status));
    engine.events.addEventListener("failed", (e) => e.detail.jobId === this.jobId && this.say(e.detail.message, "bad"));
    engine.events.addEventListener("started", (e) => this.adopt(e.detail.jobId));
  }

  build() {
    const saved = localStorage.getItem("pyapp-engine-url");
    const hash = new URLSearchParams(location.hash.slice(1));
    this.url = el("input", { id: "engine-url", type: "url", value: hash.get("engine") || saved || DEFAULT_ENGINE });
    this.token = el("input", { id: "engine-token", type: "password", autocomplete: "off",
                               value: hash.get("token") || sessionStorage.getItem("pyapp-engine-token") || "",
                               placeholder: "printed by pyapp engine" });
    this.connectBtn = el("button", { id: "engine-connect", type: "button", textContent: "Connect" });
    this.connState = el("p", { id: "engine-conn", className: "hint", textContent: "Not connected." });
    this.imagesIn = el("input", { id: "engine-images", type: "file", multiple: true, hidden: true,
                                  accept: "image/*,.tif,.tiff,.npy" });
    this.masksIn = el("input", { id: "engine-masks", type: "file", multiple: true, hidden: true,
                                 accept: "image/*,.tif,.tiff,.npy" });
    this.pairList = el("ul", { id: "engine-pairs", className: "engine-pairs" });
    this.steps = el("input", { id: "engine-steps", type: "number", min: 1, max: 100000, value: 200 });
    this.trainBtn = el("button", { id: "engine-train", type: "button", className: "primary", textContent: "Train",
                                   disabled: true });
    this.message = el("p", { id: "engine-message", className: "engine-message", role: "status" });
    this.stateLine = el("p", { id: "engine-state", className: "engine-state" });
    this.chart = el("canvas", { id: "engine-chart", className: "engine-chart" });
    this.sample = el("canvas", { id: "engine-sample", className: "engine-sample" });
    this.stopBtn = el("button", { id: "engine-stop", type: "button", textContent: "Stop" });
    this.useBtn = el("button", { id: "engine-use", type: "button", className: "primary", textContent: "Use this model",
                                 disabled: true });
    this.downloadBtn = el("button", { id: "engine-download", type: "button", textContent: "Download package",
                                      disabled: true });
    this.deleteBtn = el("button", { id: "engine-delete", type: "button", className: "ghost",
                                    textContent: "Delete the job and its images from the engine", disabled: true });
    this.dashboard = el("section", { id: "engine-dashboard", hidden: true }, [
      el("h3", { textContent: "Training" }), this.stateLine, this.chart,
      el("figure", { className: "engine-sample-fig" }, [this.sample, el("figcaption", { className: "hint",
        textContent: "A validation crop: image · prediction · mask" })]),
      el("div", { className: "row" }, [this.stopBtn]),
      el("div", { className: "row" }, [this.useBtn, this.downloadBtn]),
      el("div", { className: "row" }, [this.deleteBtn]),
    ]);
    const label = (text, input) => el("label", { className: "engine-field" }, [el("span", { textContent: text }), input]);
    const close = el("button", { type: "button", className: "ghost", id: "engine-close", textContent: "Close",
                                 ariaLabel: "Close the Train panel" });
    this.root = el("aside", { id: "engine-panel", className: "engine-panel", ariaLabel: "Train a model" }, [
      el("header", {}, [el("h2", { textContent: "Train a model" }), close]),
      el("p", { className: "hint", textContent: "Training runs on an engine (your own pyapp engine, or a server " +
        "you trust). The images you pick are sent there only after you agree; the trained model then runs here." }),
      el("section", {}, [el("h3", { textContent: "1 · Engine" }), label("Address", this.url),
        label("Access token", this.token), el("div", { className: "row" }, [this.connectBtn]), this.connState]),
      el("section", {}, [el("h3", { textContent: "2 · Training images" }),
        el("div", { className: "row" }, [
          el("label", { className: "button", htmlFor: "engine-images", textContent: "Images…" }), this.imagesIn,
          el("label", { className: "button", htmlFor: "engine-masks", textContent: "Masks…" }), this.masksIn,
          el("button", { type: "button", id: "engine-annotated", textContent: "Annotated images" }),
          el("button", { type: "button", id: "engine-clear", textContent: "Clear" })]),
        el("p", { className: "hint", textContent: "A mask labels each object (0 = background); images and masks " +
          "are paired in name order." }), this.pairList]),
      el("section", {}, [el("h3", { textContent: "3 · Train" }), label("Steps", this.steps), this.trainBtn]),
      this.message, this.dashboard,
    ]);
    document.body.append(this.root);
    this.pendingImages = [];
    this.pendingMasks = [];
    const on = (node, event, fn) => node.addEventListener(event, (e) => fn(e).catch((err) => this.fail(err)));
    on(this.connectBtn, "click", () => this.connect());
    on(close, "click", async () => this.toggle(false));
    on(this.imagesIn, "change", async () => { this.pendingImages = [...this.imagesIn.files]; this.imagesIn.value = ""; this.pairUp(); });
    on(this.masksIn, "change", async () => { this.pendingMasks = [...this.masksIn.files]; this.masksIn.value = ""; this.pairUp(); });
    on(this.root.querySelector("#engine-clear"), "click", async () => { this.pairs = []; this.renderPairs(); });
    on(this.root.querySelector("#engine-annotated"), "click", () => this.addAnnotated());
    on(this.trainBtn, "click", () => this.train());
    on(this.stopBtn, "click", () => this.engine.stop(this.jobId).then(() => this.say("Stopping after the current step…")));
    on(this.useBtn, "click", () => this.use());
    on(this.downloadBtn, "click", () => this.engine.download(this.jobId));
    on(this.deleteBtn, "click", () => this.deleteJob());
    this.renderPairs();
  }

  toggle(open = this.root.hidden || !this.root.classList.contains("open")) {
    this.root.classList.toggle("open", open);
    document.body.classList.toggle("engine-open", open);
    document.body.dataset.enginePanel = open ? "open" : "closed";
    if (open) this.url.focus();
  }

  say(text, cls = "") {
    this.message.textContent = text;
    this.message.className = `engine-message ${cls}`.trim();
  }

  fail(err) {
    const text = (err && err.message) || String(err);
    this.say(text, "bad");
    document.body.dataset.engineErrors = String(Number(document.body.dataset.engineErrors || 0) + 1);
  }

  async connect() {
    this.connectBtn.disabled = true;
    this.say("");
    this.connState.textContent = "Connecting…";
    try {
      const info = await this.engine.connect(this.url.value, this.token.value);
      localStorage.setItem("pyapp-engine-url", info.url);
      sessionStorage.setItem("pyapp-engine-token", this.token.value);
    } catch (err) {
      this.connState.textContent = "Not connected.";
      throw err;
    } finally {
      this.connectBtn.disabled = false;
      this.updateButtons();
    }
  }

  onConnection({ state, detail, resumed }) {
    document.body.dataset.engineConnection = state;
    if (state === "connected") {
      this.connState.textContent = `Connected to ${this.engine.target ? this.engine.target.host : detail}.`;
      if (resumed) this.say("Connection back; the dashboard continues.");
    } else if (state === "reconnecting") {
      this.connState.textContent = "Connection lost — reconnecting…";
      this.say("The connection to the engine dropped. Training goes on there; reconnecting…", "warn");
    }
    this.updateButtons();
  }

  pairUp() {
    if (!this.pendingImages.length || !this.pendingMasks.length) {
      const missing = this.pendingImages.length ? "masks" : "images";
      if (this.pendingImages.length || this.pendingMasks.length) this.say(`Now pick the ${missing}.`);
      return;
    }
    const pairs = pairFiles(this.pendingImages, this.pendingMasks);
    this.pendingImages = [];
    this.pendingMasks = [];
    this.addPairs(pairs);
  }

  /** The images annotated in this browser (Input → Annotate, annotate.js), each with its label image. */
  async addAnnotated() {
    const pairs = window.pyapp.annotations ? await window.pyapp.annotations.pairs() : [];
    if (!pairs.length) throw new Error("No annotated images yet: open an image and draw objects under Input → Annotate.");
    this.addPairs(normalizePairs(pairs));
  }

  addPairs(pairs) {
    this.pairs.push(...pairs);
    this.say(`${this.pairs.length} training pair${this.pairs.length === 1 ? "" : "s"} ready.`);
    this.renderPairs();
  }

  renderPairs() {
    this.pairList.replaceChildren(...this.pairs.map((p, i) => {
      const name = (x) => (typeof x === "string" ? x.split("/").pop() : (x && x.name) || "array");
      const remove = el("button", { type: "button", className: "ghost", textContent: "×", ariaLabel: "Remove pair" });
      remove.addEventListener("click", () => { this.pairs.splice(i, 1); this.renderPairs(); });
      const size = p.image && p.image.size ? ` · ${formatBytes(p.image.size + (p.mask.size || 0))}` : "";
      return el("li", {}, [el("span", { textContent: `${name(p.image)} + ${name(p.mask)}${size}` }), remove]);
    }));
    if (!this.pairs.length) this.pairList.append(el("li", { className: "hint", textContent: "No training images yet." }));
    document.body.dataset.enginePairs = String(this.pairs.length);
    this.updateButtons();
  }

  updateButtons() {
    const running = this.lastStatus && ["queued", "running"].includes(this.lastStatus.state);
    this.trainBtn.disabled = !this.engine.connected || !this.pairs.length || this.busy || !!running;
    this.stopBtn.disabled = !running;
    const finished = this.lastStatus && ["done", "stopped"].includes(this.lastStatus.state);
    this.useBtn.disabled = this.downloadBtn.disabled = !finished || this.busy || this.deleted;
    this.deleteBtn.disabled = !this.jobId || this.busy || this.deleted || !this.engine.connected;
  }

  async train() {
    this.busy = true;
    this.updateButtons();
    try {
      this.say("Reading the images on this device…");
      const steps = Math.max(1, Math.round(Number(this.steps.value) || 200));
      await this.engine.train(this.pairs, {
        steps, val_every: Math.max(1, Math.min(25, Math.round(steps / 10))),  // ~10 points on the validation curve
        onProgress: (done, total) => this.say(`Reading the images on this device… ${done}/${total}`),
      });
    } finally {
      this.busy = false;
      this.updateButtons();
    }
  }

  /** Show the dashboard of `jobId` (started here or by a script through pyapp.engine.train). */
  adopt(jobId) {
    this.jobId = jobId;
    this.deleted = false;
    this.lastStatus = { state: "queued", step: 0 };
    document.body.dataset.engineJob = jobId;
    this.dashboard.hidden = false;
    this.stateLine.textContent = STATE_WORDS.queued;
    this.say("Images sent. Training has started on the engine.");
    this.updateButtons();
  }

  onStatus(st) {
    this.lastStatus = st;
    document.body.dataset.engineState = st.state;
    document.body.dataset.engineStep = String(st.step);
    const words = STATE_WORDS[st.state] || st.state;
    const steps = st.total_steps ? ` Step ${st.step} of ${st.total_steps}.` : "";
    const eta = st.state === "running" ? ` ${etaText(st.eta_s)}` : "";
    const early = st.early_stopped && st.state === "done" ? " It stopped early: the validation score no longer improved." : "";
    this.stateLine.textContent = `${words}${steps}${eta}${early}`;
    if (st.error) this.say(`The engine reports: ${st.error}`, "bad");
    else if (["done", "stopped"].includes(st.state)) {
      this.say("Press Use this model to run it on this device, or download its package.", "ok");
    }
    const loss = toPoints(st.losses, "loss");
    const val = toPoints(st.val_metrics, "dice");
    drawCurves(this.chart, [
      { label: "loss", color: "#12788f", points: loss },
      { label: "validation Dice", color: "#1e7b45", points: val, axis: "right", range: [0, 1], dots: true },
    ], { xMax: st.total_steps || null });
    if (st.sample) drawSample(this.sample, st.sample);
    this.updateButtons();
  }

  async deleteJob() {
    this.busy = true;
    this.updateButtons();
    try {
      await this.engine.deleteJob(this.jobId);
      this.deleted = true;
      this.say("The engine deleted the job, your images and its copy of the model.", "ok");
    } finally {
      this.busy = false;
      this.updateButtons();
    }
  }

  async use() {
    this.busy = true;
    this.updateButtons();
    try {
      this.say("Bringing the model to this device…");
      const modelId = await this.engine.exportModel(this.jobId);
      document.body.dataset.engineModel = modelId;
      selectInApp(modelId, (await window.pyapp.models()).find((m) => m.id === modelId));
      this.say("The model now runs on this device: pick an image and press Run model.", "ok");
    } finally {
      this.busy = false;
      this.updateButtons();
    }
  }
}

/** Add the model to the app's model list (Segment group) and select it, as if the user had picked it. */
export function selectInApp(modelId, entry) {
  const select = document.getElementById("model");
  if (!select || !entry) return;
  let option = [...select.options].find((o) => o.value === modelId);
  if (!option) {
    let group = [...select.querySelectorAll("optgroup")].find((g) => g.dataset.engine === "trained");
    if (!group) {
      group = el("optgroup", { label: "Trained on an engine" });
      group.dataset.engine = "trained";
      select.append(group);
    }
    option = el("option", { value: modelId, textContent: entry.name });
    group.append(option);
  }
  select.value = modelId;
  select.dispatchEvent(new Event("change", { bubbles: true }));
}

export function togglePanel(engine, open) {
  if (!panel) panel = new Panel(engine);
  panel.toggle(open);
  return panel;
}
