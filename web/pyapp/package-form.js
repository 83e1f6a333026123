// The "Package a model" panel: from your .onnx network to a bioimage.io package that runs here. The form reads
// the network's input and output with onnxruntime-web (pyapp.inspectOnnx), you fill in axes, tile sizes, halo,
// processing and metadata, and the model worker builds the package with the same Python code as
// `pyapp package --onnx` (pyapp.packageOnnx: the form's fields become that command's options, shown under the
// form). Test input/output come from the sample image through pyapp's runner; the cover is drawn from them.
// Inconsistent input is refused with the field named. document.body.dataset.package tells tests what happened:
// "inspected", "built", "used:<model id>" or "error".
import pyapp from "./app.js";
import { chooseInApp } from "./zoo.js";
import { el, log } from "./page-dom.js";

let panel = null;
const PROCESSING = {
  preprocess: [["", "none"], ["zero_mean_unit_variance", "zero mean, unit variance (per image)"],
               ["scale_range", "scale to the 1–99.8 percentile range"]],
  postprocess: [["", "none"], ["sigmoid", "sigmoid (probabilities)"], ["softmax", "softmax over channels"]],
};
// `pyapp package` option -> [form field id, its label]: errors from the builder name options; the form names fields
const FIELDS = {
  "--onnx": ["pkg-onnx", "Network"], "--input-axes": ["pkg-input-axes", "Input axes"],
  "--output-axes": ["pkg-output-axes", "Output axes"], "--sample": ["pkg-sample", "Sample image"],
  "--sample-axes": ["pkg-sample-axes", "Sample axes"], "--size": ["pkg-sizes", "Tile sizes"],
  "--halo": ["pkg-halo", "Halo"], "--preprocess": ["pkg-preprocess", "Preprocessing"],
  "--postprocess": ["pkg-postprocess", "Postprocessing"], "--name": ["pkg-name", "Name"],
  "--author": ["pkg-authors", "Authors"], "--license": ["pkg-license", "License"],
  "--description": ["pkg-description", "Description"], "--tag": ["pkg-tags", "Tags"],
  "--cite": ["pkg-cite", "Cite"], "--input-channels": ["pkg-input-channels", "Input channel names"],
  "--output-channels": ["pkg-output-channels", "Output channel names"],
};
const LICENSES = ["MIT", "BSD-3-Clause", "Apache-2.0", "CC-BY-4.0", "CC0-1.0", "GPL-3.0-only"];
const GUESS = { 2: "bc", 3: "byx", 4: "bcyx", 5: "bczyx" };

/** A builder error ("--halo: 16 leaves …") in the form's words ("Halo: 16 leaves …") and the field it names. */
export function fieldError(message) {
  const option = (message.match(/^(--[a-z-]+):/) || [])[1];
  const text = message.replace(/--[a-z-]+/g, (o) => (FIELDS[o] ? `“${FIELDS[o][1]}”` : o));
  return { field: option && FIELDS[option] ? FIELDS[option][0] : null, text: text.replace(/^“([^”]+)”:/, "$1:") };
}

/** "y=64:16,x=64:16" from [{axis, min, step}] (step 0: a fixed size). */
export function sizeOption(sizes) {
  return sizes.map(({ axis, min, step }) => `${axis}=${min}${Number(step) ? `:${step}` : ""}`).join(",");
}

const slug = (name) => name.trim().toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "model";
const quote = (arg) => (/^[\w.,:=/+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`);

class PackagePanel {
  constructor() {
    this.info = null;
    this.result = null;
    this.inputs = {};
    const f = this.inputs;
    f.zip = el("input", { id: "pkg-zip", type: "file", accept: ".zip", hidden: true });
    f.onnx = el("input", { id: "pkg-onnx", type: "file", accept: ".onnx" });
    f.inputAxes = el("input", { id: "pkg-input-axes", type: "text", placeholder: "bcyx", spellcheck: false });
    f.outputAxes = el("input", { id: "pkg-output-axes", type: "text", placeholder: "bcyx", spellcheck: false });
    f.sample = el("input", { id: "pkg-sample", type: "file", accept: "image/*,.tif,.tiff,.npy" });
    f.sampleAxes = el("input", { id: "pkg-sample-axes", type: "text", placeholder: "from the file", spellcheck: false });
    f.halo = el("input", { id: "pkg-halo", type: "number", min: 0, value: 0 });
    f.preprocess = el("select", { id: "pkg-preprocess" }, PROCESSING.preprocess.map(([v, t]) => el("option", { value: v, textContent: t })));
    f.postprocess = el("select", { id: "pkg-postprocess" }, PROCESSING.postprocess.map(([v, t]) => el("option", { value: v, textContent: t })));
    f.name = el("input", { id: "pkg-name", type: "text", placeholder: "Nucleus segmenter" });
    f.authors = el("textarea", { id: "pkg-authors", rows: 2, placeholder: "Ada Lovelace" });
    f.license = el("input", { id: "pkg-license", type: "text", value: "", placeholder: "MIT" });
    f.license.setAttribute("list", "pkg-licenses");
    f.description = el("input", { id: "pkg-description", type: "text", placeholder: "one sentence" });
    f.tags = el("input", { id: "pkg-tags", type: "text", placeholder: "segmentation, nuclei, fluorescence" });
    f.cite = el("input", { id: "pkg-cite", type: "text", placeholder: "Ada et al. 2026=10.1234/abcd" });
    f.inputChannels = el("input", { id: "pkg-input-channels", type: "text", placeholder: "gray" });
    f.outputChannels = el("input", { id: "pkg-output-channels", type: "text", placeholder: "background, nucleus" });
    this.sizes = el("div", { id: "pkg-sizes", className: "pkg-sizes", tabIndex: -1 });
    this.network = el("p", { id: "pkg-network", className: "hint" });
    this.message = el("p", { id: "pkg-message", className: "byom-message", role: "status" });
    this.command = el("code", { id: "pkg-command", className: "pkg-command" });
    this.buildBtn = el("button", { id: "pkg-build", type: "button", className: "primary", textContent: "Build the package" });
    this.cover = el("img", { id: "pkg-cover", className: "pkg-cover", alt: "Cover: test input (left) and output (right)" });
    this.files = el("ul", { id: "pkg-files", className: "hint" });
    this.downloadBtn = el("button", { id: "pkg-download", type: "button", textContent: "Download the package" });
    this.useBtn = el("button", { id: "pkg-use", type: "button", className: "primary", textContent: "Use this model" });
    this.done = el("section", { id: "pkg-done", hidden: true }, [el("h3", { textContent: "4 · Your package" }),
      this.cover, this.files, el("div", { className: "row" }, [this.useBtn, this.downloadBtn])]);
    const field = (text, hint, input) => el("label", { className: "byom-field" }, [
      el("span", { textContent: text }), input, el("small", { textContent: hint })]);
    const close = el("button", { type: "button", className: "ghost", id: "pkg-close", textContent: "Close" });
    this.root = el("aside", { id: "package-panel", className: "byom-panel", ariaLabel: "Package a model" }, [
      el("header", {}, [el("h2", { textContent: "Package a model" }), close]),
      el("p", { className: "hint", textContent: "Turn your trained network (.onnx) into a bioimage.io package " +
        "that runs here, in deepImageJ, ilastik and the other zoo tools. Nothing leaves this device." }),
      el("div", { className: "row pkg-have" }, [el("label", { className: "button", htmlFor: "pkg-zip",
        textContent: "Use a package (.zip) you have…" }), f.zip]),
      el("datalist", { id: "pkg-licenses" }, LICENSES.map((l) => el("option", { value: l }))),
      el("section", {}, [el("h3", { textContent: "1 · Network" }),
        field("Network (.onnx)", "Your trained network, exported to ONNX (PyTorch: torch.onnx.export; a zoo " +
              "model with PyTorch weights: pyapp convert).", f.onnx), this.network,
        field("Input axes", "One letter per axis of the network's input, in order: b batch, c channel, z y x " +
              "space, t time (PyTorch images: bcyx).", f.inputAxes),
        field("Output axes", "The same for its output (bcyx for a segmentation, bc for class scores).", f.outputAxes),
        el("div", { className: "byom-field" }, [el("span", { textContent: "Tile sizes" }), this.sizes,
          el("small", { textContent: "Image sizes the network accepts on each space axis: a minimum and a step " +
            "(64 and 16: 64, 80, 96…), or step 0 for one fixed size." })]),
        field("Halo", "Pixels cut from each side of every tile when a big image is tiled (about the " +
              "network's receptive field radius); 0 for none.", f.halo)]),
      el("section", {}, [el("h3", { textContent: "2 · Processing and sample" }),
        field("Preprocessing", "What happens to an image before the network sees it.", f.preprocess),
        field("Postprocessing", "What happens to the network's output.", f.postprocess),
        field("Sample image", "An example image (tif, png, jpg, npy): its centre becomes the test input, and " +
              "the test output is computed from it here.", f.sample),
        field("Sample axes", "The sample's axes when the file does not say (yx, cyx…); usually empty.", f.sampleAxes),
        field("Input channel names", "Comma-separated, one per input channel (optional).", f.inputChannels),
        field("Output channel names", "Comma-separated, one per output channel (optional).", f.outputChannels)]),
      el("section", {}, [el("h3", { textContent: "3 · About the model" }),
        field("Name", "5 to 128 characters: what the zoo and the app will show.", f.name),
        field("Authors", "One person per line.", f.authors),
        field("License", "An SPDX license id (MIT, CC-BY-4.0…): what others may do with it.", f.license),
        field("Description", "One sentence: what it does, on which images.", f.description),
        field("Tags", "Comma-separated words people search for (task, organism, modality).", f.tags),
        field("Cite", "Your publication as TEXT=DOI (optional; else the zoo's paper is cited).", f.cite),
        this.buildBtn]),
      this.message,
      el("details", {}, [el("summary", { textContent: "The same on the command line" }), this.command]),
      this.done,
    ]);
    document.body.append(this.root);
    close.addEventListener("click", () => this.toggle(false));
    this.root.addEventListener("keydown", (e) => { if (e.key === "Escape") this.toggle(false); });
    f.onnx.addEventListener("change", () => this.guard(() => this.inspect()));
    f.inputAxes.addEventListener("input", () => this.drawSizes());
    f.zip.addEventListener("change", () => this.guard(() => this.useZip()));
    this.buildBtn.addEventListener("click", () => this.guard(() => this.build()));
    this.downloadBtn.addEventListener("click", () => this.download());
    this.useBtn.addEventListener("click", () => this.guard(() => this.use()));
    this.root.addEventListener("input", () => { this.command.textContent = this.commandLine(); });
  }

  toggle(open = !this.root.classList.contains("open")) {
    this.root.classList.toggle("open", open);
  }

  say(text, cls = "") {
    this.message.textContent = text;
    this.message.className = `byom-message ${cls}`.trim();
  }

  async guard(action) {
    for (const node of this.root.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
    try {
      await action();
    } catch (err) {
      const { field, text } = fieldError(err.message);
      this.say(text, "bad");
      log(`package: ${err.message}`);
      const node = field && document.getElementById(field);
      if (node) {
        node.setAttribute("aria-invalid", "true");
        node.focus();
      }
      document.body.dataset.package = "error";
    }
  }

  async inspect() {
    const file = this.inputs.onnx.files[0];
    if (!file) return;
    this.say(`Reading ${file.name}…`);
    this.info = await pyapp.inspectOnnx(await file.arrayBuffer(), file.name);
    const dims = (shape) => Array.from(shape, (d) => (d ?? "any")).join(" × ");
    this.network.textContent = `input “${this.info.input.name}”: ${dims(this.info.input.shape)} · output ` +
      `“${this.info.output.name}”: ${dims(this.info.output.shape)} · opset ${this.info.opset}`;
    const f = this.inputs;
    f.inputAxes.value = GUESS[this.info.input.shape.length] || "";  // a new network: guess again
    f.outputAxes.value = GUESS[this.info.output.shape.length] || "";
    this.drawSizes();
    this.say("Check the axes, then fill in the rest.", "ok");
    document.body.dataset.package = "inspected";
  }

  /** One min/step pair per space axis the network leaves free (axes it fixes are shown, not asked). */
  drawSizes() {
    const letters = this.inputs.inputAxes.value.trim().toLowerCase();
    const shape = this.info ? this.info.input.shape : [];
    const rows = [];
    [...letters].forEach((axis, i) => {
      if (!"zyx".includes(axis)) return;
      if (shape[i]) {
        rows.push(el("span", { className: "hint", textContent: `${axis}: ${shape[i]} (fixed by the network)` }));
        return;
      }
      const old = (k) => (this.sizes.querySelector(`#pkg-size-${axis}-${k}`) || {}).value;
      rows.push(el("span", { className: "pkg-size" }, [el("b", { textContent: axis }), el("span", { textContent: "min" }),
        el("input", { id: `pkg-size-${axis}-min`, type: "number", min: 1, value: old("min") || 16, ariaLabel: `${axis} minimum` }),
        el("span", { textContent: "step" }),
        el("input", { id: `pkg-size-${axis}-step`, type: "number", min: 0, value: old("step") ?? 16, ariaLabel: `${axis} step` })]));
    });
    this.sizes.replaceChildren(...rows);
    this.command.textContent = this.commandLine();
  }

  /** The form as `pyapp package --onnx` options (without --onnx, --sample and -o). */
  argv() {
    const f = this.inputs;
    const v = (input) => input.value.trim();
    const list = (text, sep) => text.split(sep).map((s) => s.trim()).filter(Boolean);
    const argv = [];
    if (v(f.inputAxes)) argv.push("--input-axes", v(f.inputAxes));
    if (v(f.outputAxes)) argv.push("--output-axes", v(f.outputAxes));
    const sizes = [...this.sizes.querySelectorAll(".pkg-size")].map((row) => {
      const [min, step] = row.querySelectorAll("input");
      return { axis: row.querySelector("b").textContent, min: min.value, step: step.value };
    });
    if (sizes.length) argv.push("--size", sizeOption(sizes));
    if (v(f.sampleAxes)) argv.push("--sample-axes", v(f.sampleAxes));
    if (Number(f.halo.value)) argv.push("--halo", String(Number(f.halo.value)));
    if (f.preprocess.value) argv.push("--preprocess", f.preprocess.value);
    if (f.postprocess.value) argv.push("--postprocess", f.postprocess.value);
    if (v(f.name)) argv.push("--name", v(f.name));
    for (const author of list(f.authors.value, "\n")) argv.push("--author", author);
    if (v(f.license)) argv.push("--license", v(f.license));
    if (v(f.description)) argv.push("--description", v(f.description));
    for (const tag of list(f.tags.value, ",")) argv.push("--tag", tag);
    if (v(f.cite)) argv.push("--cite", v(f.cite));
    if (v(f.inputChannels)) argv.push("--input-channels", list(f.inputChannels.value, ",").join(","));
    if (v(f.outputChannels)) argv.push("--output-channels", list(f.outputChannels.value, ",").join(","));
    return argv;
  }

  commandLine() {
    const onnx = this.inputs.onnx.files[0], sample = this.inputs.sample.files[0];
    const out = `${slug(this.inputs.name.value)}.zip`;
    return ["pyapp", "package", "--onnx", onnx ? onnx.name : "model.onnx", "--sample", sample ? sample.name : "image.tif",
            ...this.argv(), "-o", out].map(quote).join(" ");
  }

  async build() {
    const onnx = this.inputs.onnx.files[0], sample = this.inputs.sample.files[0];
    if (!onnx) throw new Error("--onnx: choose your network's .onnx file");
    if (!sample) throw new Error("--sample: choose a sample image");
    this.done.hidden = true;
    this.buildBtn.disabled = true;
    this.say("Building: running your network on the sample…");
    const t0 = performance.now();
    try {
      this.result = await pyapp.packageOnnx({ onnx: await onnx.arrayBuffer(), onnxName: onnx.name,
        sample: await sample.arrayBuffer(), sampleName: sample.name, argv: this.argv() });
    } finally {
      this.buildBtn.disabled = false;
    }
    this.result.name = this.inputs.name.value.trim();
    if (this.coverUrl) URL.revokeObjectURL(this.coverUrl);
    this.coverUrl = URL.createObjectURL(new Blob([this.result.cover], { type: "image/png" }));
    this.cover.src = this.coverUrl;
    this.files.replaceChildren(...this.result.files.map((n) => el("li", { textContent: n })));
    this.done.hidden = false;
    this.say(`Package built in ${Math.round(performance.now() - t0)} ms and checked: use it here or download it.`, "ok");
    log(`package: ${this.result.name}: ${this.result.zip.byteLength} bytes, files ${this.result.files.join(", ")}`);
    document.body.dataset.package = "built";
    this.done.scrollIntoView({ block: "nearest" });
  }

  download() {
    const url = URL.createObjectURL(new Blob([this.result.zip], { type: "application/zip" }));
    const link = el("a", { href: url, download: `${slug(this.result.name)}.zip` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  async useZipBytes(zip, name) {
    const id = `pkg-${slug(name)}`;
    const description = await pyapp.describe(zip.slice().buffer);
    const entry = pyapp.addModel({ id, name: description.name, description: description.description,
                                   kind: description.kind, zip });
    chooseInApp(id, entry.name, "Packaged here");
    document.body.dataset.package = `used:${id}`;
    this.say(`${entry.name} is chosen in the Model menu: open an image and press Run model.`, "ok");
    return id;
  }

  use() {
    return this.useZipBytes(this.result.zip, this.result.name);
  }

  async useZip() {
    const file = this.inputs.zip.files[0];
    if (!file) return;
    await this.useZipBytes(new Uint8Array(await file.arrayBuffer()), file.name.replace(/\.zip$/i, ""));
    this.inputs.zip.value = "";
  }
}

export function togglePanel(open) {
  if (!panel) panel = new PackagePanel();
  panel.toggle(open);
  return panel;
}
