// Annotation on the input pane: brush, eraser and polygon tools paint one label per object (New object picks the
// next free label), Undo, kept in IndexedDB per image (and plane) and restored when the image is opened again,
// exported as a uint16 label TIFF, usable as ground truth (pyapp.evaluate) and as training pairs (pyapp.engine).
//   pyapp.annotations.list()        -> [{key, name, shape, objects, updated}]
//   pyapp.annotations.get(image?)   -> {key, name, shape, dtype: "uint16", data} (key or name; default: current)
//   pyapp.annotations.clear(image?) -> forgets one image's annotation (default: all)
//   pyapp.annotations.pairs()       -> [{name, image: {data, shape, dtype, axes}, mask}] for pyapp.engine.train
//   pyapp.annotations.flush()       -> resolves when every change is saved
// The shell attaches the image on display: attach(image, plane) (viewer-image.js arrays), detach().
import * as store from "./annotate-store.js";
import { fillPolygon, paintLabels, paintSegment } from "./annotate-draw.js";
import { encodeTiff, saveFile } from "./tiff.js";
import { channelPlane, layout } from "./viewer-image.js";

const UNDO_STEPS = 30, UNDO_BYTES = 256 * 2 ** 20;  // fewer steps for very large images
const $ = (id) => document.getElementById(id);

function planeImage(image, plane) {  // the annotated plane as a trainer takes it: yx, or yxc for colour
  const { width: w, height: h, channels } = layout(image);
  if (channels === 1) return { data: channelPlane(image, plane, 0), shape: [h, w], dtype: image.dtype, axes: "yx" };
  const parts = Array.from({ length: channels }, (_, c) => channelPlane(image, plane, c));
  const out = new parts[0].constructor(w * h * channels);
  parts.forEach((p, c) => { for (let i = 0; i < p.length; i++) out[i * channels + c] = p[i]; });
  return { data: out, shape: [h, w, channels], dtype: image.dtype, axes: "yxc" };
}

/** A training pair as pyapp.engine takes it; the arrays carry names for the Train panel's list. */
function pairOf(name, stem, image, labels, shape) {
  return { name, image: { ...image, name }, mask: { data: labels, shape: [...shape], dtype: "uint16", name: `${stem}_labels.tif` } };
}

function objects(labels) {
  const seen = new Set();
  for (const v of labels) if (v) seen.add(v);
  return seen.size;
}

export class Annotator {
  constructor(pyapp, viewer, canvas) {
    Object.assign(this, { pyapp, viewer, canvas, tool: "pan", label: 1, size: 5, current: null, vertices: [],
                          history: [], saving: Promise.resolve(), imageSaved: new Set() });
    viewer.tool = this;
    document.querySelectorAll("[data-tool]").forEach((b) => b.addEventListener("click", () => this.setTool(b.dataset.tool)));
    const on = (id, event, fn) => $(id) && $(id).addEventListener(event, () => Promise.resolve().then(fn).catch((e) => this.say(e.message, true)));
    on("brush-size", "input", () => { this.size = Number($("brush-size").value); });
    on("ann-label", "change", () => { this.label = Math.max(1, Math.min(65535, Math.round(Number($("ann-label").value) || 1))); });
    on("ann-new", "click", () => this.newObject());
    on("ann-undo", "click", () => this.undo());
    on("ann-export", "click", () => this.exportTiff());
    on("ann-train", "click", () => this.addToTraining());
    on("ann-clear", "click", () => this.clearCurrent());
    document.addEventListener("keydown", (e) => {
      if (this.tool !== "polygon" || !this.vertices.length) return;
      if (e.key === "Escape") { this.vertices = []; this.render(); }
      if (e.key === "Enter") this.closePolygon();
    });
  }

  say(text, bad = false) {
    const note = $("ann-note");
    if (note) { note.textContent = text; note.classList.toggle("bad", bad); }
  }

  active() { return !!this.current && this.tool !== "pan"; }

  setTool(name) {
    this.tool = name;
    this.vertices = [];
    document.querySelectorAll("[data-tool]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.tool === name)));
    this.viewer.frames.input.classList.toggle("drawing", name !== "pan");
    if (this.current) this.render();
  }

  /** Show the annotation of `plane` of `image` (restored from this browser when it has one). */
  async attach(image, plane = 0) {
    const { width: w, height: h, planes, planeLabel } = layout(image);
    const key = planes > 1 ? `${image.key}@${plane}` : image.key;
    const name = planes > 1 ? `${image.name} (${planeLabel} ${plane + 1})` : image.name;
    const stem = image.name.replace(/\.[^.]*$/, "").replace(/[^\w.-]+/g, "_") + (planes > 1 ? `_${planeLabel}${plane + 1}` : "");
    const saved = await store.get(key).catch(() => undefined);
    const labels = saved && saved.shape[0] === h && saved.shape[1] === w ? new Uint16Array(saved.labels) : new Uint16Array(w * h);
    this.current = { key, name, stem, w, h, labels, image, plane };
    this.history = [];
    this.vertices = [];
    this.canvas.width = w; this.canvas.height = h;
    this.img = this.canvas.getContext("2d").createImageData(w, h);
    this.canvas.hidden = false;
    this.render();
    this.viewer.apply();
    const count = saved ? objects(labels) : 0;
    this.label = 1;
    this.newObject();
    this.say(count ? `${count} annotated object${count === 1 ? "" : "s"} restored from this browser.` : "");
    return { key, name, objects: count };
  }

  detach() {
    this.current = null;
    this.canvas.hidden = true;
  }

  render(box = null) {
    const c = this.current;
    if (!c) return;
    const ctx = this.canvas.getContext("2d");
    const [x0, y0, x1, y1] = box || [0, 0, c.w - 1, c.h - 1];
    paintLabels(this.img, c.labels, c.w, [x0, y0, x1, y1]);
    ctx.putImageData(this.img, 0, 0, x0, y0, x1 - x0 + 1, y1 - y0 + 1);
    if (!box && this.vertices.length) {
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = Math.max(0.5, 2 / this.viewer.transform("input").k);
      ctx.beginPath();
      this.vertices.forEach(([x, y], i) => (i ? ctx.lineTo(x + 0.5, y + 0.5) : ctx.moveTo(x + 0.5, y + 0.5)));
      ctx.stroke();
    }
  }

  remember() {
    this.history.push(this.current.labels.slice());
    const bytes = this.current.labels.byteLength;
    while (this.history.length > 1 && (this.history.length > UNDO_STEPS || this.history.length * bytes > UNDO_BYTES)) {
      this.history.shift();
    }
  }

  stroke(p0, p1) {
    const c = this.current;
    const box = paintSegment(c.labels, c.w, c.h, p0, p1, this.size / 2, this.tool === "eraser" ? 0 : this.label);
    if (box) this.render(box);
  }

  down(x, y) {
    const p = [Math.floor(x), Math.floor(y)];
    if (this.tool === "polygon") {
      const first = this.vertices[0], last = this.vertices[this.vertices.length - 1];
      if (this.vertices.length >= 3 && p[0] === first[0] && p[1] === first[1]) return this.closePolygon();
      if (!last || last[0] !== p[0] || last[1] !== p[1]) this.vertices.push(p);
      return this.render();
    }
    this.remember();
    this.last = p;
    this.stroke(p, p);
  }

  move(x, y) {
    if (!this.last) return;
    const p = [Math.floor(x), Math.floor(y)];
    this.stroke(this.last, p);
    this.last = p;
  }

  up() {
    if (!this.last) return;
    this.last = null;
    this.save();
  }

  dblclick() { if (this.tool === "polygon") this.closePolygon(); }

  closePolygon() {
    const points = this.vertices;
    this.vertices = [];
    if (points.length >= 3) {
      this.remember();
      fillPolygon(this.current.labels, this.current.w, this.current.h, points, this.label);
      this.save();
    }
    this.render();
  }

  newObject() {
    let max = 0;
    if (this.current) for (const v of this.current.labels) if (v > max) max = v;
    this.label = Math.min(65535, max + 1);
    if ($("ann-label")) $("ann-label").value = String(this.label);
  }

  undo() {
    if (!this.current || !this.history.length) return this.say("Nothing to undo.");
    this.current.labels.set(this.history.pop());
    this.vertices = [];
    this.render();
    this.save();
  }

  save() {
    const c = this.current;
    const record = { key: c.key, name: c.name, stem: c.stem, shape: [c.h, c.w], labels: c.labels.slice().buffer,
                     objects: objects(c.labels), updated: Date.now() };
    const first = !this.imageSaved.has(c.key);
    this.imageSaved.add(c.key);
    this.saving = this.saving.then(async () => {
      await store.put(record);
      if (first) await store.putImage(c.key, planeImage(c.image, c.plane));
    }).catch((err) => this.say(err.message, true));
    document.body.dataset.annotationObjects = String(record.objects);
    return this.saving;
  }

  async clearCurrent() {
    if (!this.current) return;
    this.remember();
    this.current.labels.fill(0);
    this.render();
    await this.save();
    this.newObject();
  }

  exportTiff() {
    const c = this.current;
    if (!c || !objects(c.labels)) throw new Error("nothing to export yet: draw objects with the brush or polygon first");
    saveFile(encodeTiff({ data: c.labels, shape: [c.h, c.w], dtype: "uint16" }), `${c.stem}_labels.tif`, "image/tiff");
  }

  async addToTraining() {
    const c = this.current;
    if (!c || !objects(c.labels)) throw new Error("annotate at least one object before training on this image");
    const pair = pairOf(c.name, c.stem, planeImage(c.image, c.plane), c.labels.slice(), [c.h, c.w]);
    const count = await this.pyapp.engine.addPairs([pair]);
    this.say(`Added to the Train panel (${count} pair${count === 1 ? "" : "s"}).`);
  }
}

/** window.pyapp.annotations over an Annotator. */
export function annotationsApi(annotator) {
  const asArray = (r) => ({ key: r.key, name: r.name, shape: [...r.shape], dtype: "uint16", data: new Uint16Array(r.labels) });
  const find = async (image) => {
    await annotator.saving;
    const records = await store.all();
    const hits = records.filter((r) => r.key === image || r.name === image).sort((a, b) => b.updated - a.updated);
    return hits[0];
  };
  return {
    annotator,
    attach: (image, plane) => annotator.attach(image, plane),
    detach: () => annotator.detach(),
    flush: () => annotator.saving,
    tool: (name) => annotator.setTool(name),
    async list() {
      await annotator.saving;
      return (await store.all()).map(({ key, name, shape, objects: n, updated }) => ({ key, name, shape, objects: n, updated }));
    },
    async get(image = null) {
      const c = annotator.current;
      if (c && (image === null || image === c.key || image === c.name)) {
        return { key: c.key, name: c.name, shape: [c.h, c.w], dtype: "uint16", data: c.labels.slice() };
      }
      const record = await find(image);
      if (!record) throw new Error(`no annotation of ${image} in this browser`);
      return asArray(record);
    },
    async clear(image = null) {
      await annotator.saving;
      if (image === null) await store.removeAll();
      else { const record = await find(image); if (record) await store.remove(record.key); }
      if (annotator.current && (image === null || image === annotator.current.key || image === annotator.current.name)) {
        annotator.current.labels.fill(0);
        annotator.history = [];
        annotator.imageSaved.clear();
        annotator.render();
      }
    },
    async pairs() {
      await annotator.saving;
      const out = [];
      for (const r of await store.all()) {
        const image = r.objects ? await store.getImage(r.key) : null;
        if (image) out.push(pairOf(r.name, r.stem || r.name, image, new Uint16Array(r.labels), r.shape));
      }
      return out;
    },
  };
}
