// Results in the page: object outlines and their label on hover, matched / missed / false objects against ground
// truth, downloads. Pixel loops stay here; the shell (pyapp/shell/results.py) calls these as pyapp.results.*.
// labels: {shape: [h, w], dtype, data: Uint16Array | Int32Array, count} as pyapp.predict({labels: true}) gives.

const shown = new WeakMap();  // canvas -> the labels drawn on it (for the tooltip)

// Outline every object of `labels` on `canvas` (already holding the overlay, same size): a pixel whose right or
// lower neighbour has another label is a border pixel. Remembers the labels for hover().
export function drawOutlines(canvas, labels, { color = [255, 230, 0] } = {}) {
  const [h, w] = labels.shape;
  shown.set(canvas, labels);
  if (canvas.width !== w || canvas.height !== h) return false;
  const ctx = canvas.getContext("2d");
  const img = ctx.getImageData(0, 0, w, h), d = img.data, l = labels.data;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = y * w + x, v = l[i];
    const edge = (x + 1 < w && l[i + 1] !== v) || (y + 1 < h && l[i + w] !== v);
    if (!edge) continue;
    const j = v ? i : (x + 1 < w && l[i + 1] !== v ? i + 1 : i + w);  // the border pixel inside the object
    d[4 * j] = color[0]; d[4 * j + 1] = color[1]; d[4 * j + 2] = color[2]; d[4 * j + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return true;
}

export function forget(canvas) { shown.delete(canvas); }

// The label under a client (mouse) position on `canvas`, 0 for background, -1 outside or without labels.
export function labelAt(canvas, clientX, clientY) {
  const labels = shown.get(canvas);
  if (!labels) return -1;
  const rect = canvas.getBoundingClientRect(), [h, w] = labels.shape;
  const x = Math.floor(((clientX - rect.left) / rect.width) * w), y = Math.floor(((clientY - rect.top) / rect.height) * h);
  return x >= 0 && y >= 0 && x < w && y < h ? labels.data[y * w + x] : -1;
}

// A tooltip `tip` that follows the mouse over `canvas` and names the object under it ("object 12"); on touch
// screens a tap shows it.
export function hover(canvas, tip) {
  const show = (event) => {
    const label = labelAt(canvas, event.clientX, event.clientY);
    tip.hidden = label <= 0;
    if (label <= 0) return;
    tip.textContent = `object ${label}`;
    const frame = tip.parentElement.getBoundingClientRect();
    tip.style.left = `${event.clientX - frame.left + 12}px`;
    tip.style.top = `${event.clientY - frame.top + 12}px`;
  };
  canvas.addEventListener("mousemove", show);
  canvas.addEventListener("click", show);
  canvas.addEventListener("mouseleave", () => { tip.hidden = true; });
}

// Connected parts (8-connected) of the nonzero pixels of a 2D image, numbered 1.. in raster order.
function connected(data, h, w) {
  const out = new Int32Array(h * w), stack = [];
  let n = 0;
  for (let start = 0; start < h * w; start++) {
    if (!data[start] || out[start]) continue;
    out[start] = ++n; stack.push(start);
    while (stack.length) {
      const i = stack.pop(), y = Math.floor(i / w), x = i % w;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
        const yy = y + dy, xx = x + dx, j = yy * w + xx;
        if (yy >= 0 && yy < h && xx >= 0 && xx < w && data[j] && !out[j]) { out[j] = n; stack.push(j); }
      }
    }
  }
  return { data: out, count: n };
}

// Objects of the prediction and of the ground truth matched at IoU > 0.5 (as pyapp.evaluate matches them);
// a 0/1 ground truth counts its connected parts as objects. -> {pred, truth: Uint8Array status per label
// (1 matched, 0 not), tp, fp, fn, truthLabels}
export function matchObjects(pred, truth) {
  const n = pred.data.length;
  if (truth.data.length !== n) throw new Error(`the ground truth has ${truth.shape.join("×")} pixels, the result ${pred.shape.join("×")}`);
  let t = truth.data, tmax = 0;
  for (let i = 0; i < n; i++) if (t[i] > tmax) tmax = t[i];
  if (tmax === 1) { const parts = connected(t, pred.shape[0], pred.shape[1]); t = parts.data; tmax = parts.count; }
  let pmax = 0;
  for (let i = 0; i < n; i++) if (pred.data[i] > pmax) pmax = pred.data[i];
  const areaP = new Float64Array(pmax + 1), areaT = new Float64Array(tmax + 1), inter = new Map();
  for (let i = 0; i < n; i++) {
    const p = pred.data[i], q = t[i];
    areaP[p]++; areaT[q]++;
    if (p && q) { const key = p * (tmax + 1) + q; inter.set(key, (inter.get(key) || 0) + 1); }
  }
  const predOk = new Uint8Array(pmax + 1), truthOk = new Uint8Array(tmax + 1);
  for (const [key, count] of inter) {
    const p = Math.floor(key / (tmax + 1)), q = key % (tmax + 1);
    if (count / (areaP[p] + areaT[q] - count) > 0.5) { predOk[p] = 1; truthOk[q] = 1; }
  }
  const present = (area, ok, value) => area.reduce((s, a, k) => s + (k > 0 && a > 0 && ok[k] === value ? 1 : 0), 0);
  return { pred: predOk, truth: truthOk, truthLabels: t, tp: present(areaP, predOk, 1),
           fp: present(areaP, predOk, 0), fn: present(areaT, truthOk, 0) };
}

export const COMPARE_COLORS = { matched: [30, 200, 90], missed: [255, 150, 0], false: [230, 40, 200] };

// The comparison picture on `canvas`: `base` (the input) with matched objects green, missed true objects orange
// and false predicted objects magenta. -> the counts {tp, fp, fn}
export function drawComparison(canvas, base, pred, truth, { opacity = 0.55 } = {}) {
  const [h, w] = pred.shape, m = matchObjects(pred, truth);
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d");
  if (base) ctx.drawImage(base, 0, 0, w, h);
  else { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, w, h); }
  const img = ctx.getImageData(0, 0, w, h), d = img.data, t = m.truthLabels;
  for (let i = 0; i < w * h; i++) {
    const p = pred.data[i], q = t[i];
    let c = null;
    if (p && m.pred[p]) c = COMPARE_COLORS.matched;
    else if (p) c = COMPARE_COLORS.false;
    else if (q && !m.truth[q]) c = COMPARE_COLORS.missed;
    else if (q) c = COMPARE_COLORS.matched;  // the part of a matched true object the prediction left out
    if (!c) continue;
    for (let k = 0; k < 3; k++) d[4 * i + k] = d[4 * i + k] * (1 - opacity) + c[k] * opacity;
  }
  ctx.putImageData(img, 0, 0);
  return { tp: m.tp, fp: m.fp, fn: m.fn };
}

// CSV text of table rows (objects): a header of the first row's keys, then one line per row.
export function csv(rows) {
  if (!rows.length) return "label\n";
  const keys = Object.keys(rows[0]);
  const cell = (v) => (v === null || v === undefined ? "" : String(v));
  return [keys.join(","), ...rows.map((r) => keys.map((k) => cell(r[k])).join(","))].join("\n") + "\n";
}

// Save `data` (bytes, text or a Blob) as a file called `name`.
export function download(name, data, mime = "application/octet-stream") {
  const blob = data instanceof Blob ? data : new Blob([data], { type: mime });
  const url = URL.createObjectURL(blob), a = document.createElement("a");
  a.href = url; a.download = name; a.hidden = true;
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// The PNG bytes of a canvas, as a Blob.
export function canvasPng(canvas) {
  return new Promise((resolve, reject) => canvas.toBlob(
    (blob) => (blob ? resolve(blob) : reject(new Error("the picture could not be saved as PNG"))), "image/png"));
}

// A file the user picked, as a URL the model worker reads (its name in the fragment tells the format).
export function fileUrl(file) {
  return `${URL.createObjectURL(file)}#${encodeURIComponent(file.name || "image")}`;
}

// pyapp.describe's result without the bytes of a packaged sample (the shell reads the rest as JSON).
export function plainInfo(info) {
  const { sample, ...rest } = info;
  return sample ? { ...rest, sample: { name: sample.name, url: sample.url || null, packaged: !!sample.data } } : rest;
}

// A File of the sample a model declares: fetched from its URL, or the bytes inside the model's zip.
export async function sampleFile(info) {
  const sample = info.sample;
  if (!sample) throw new Error("this model declares no sample or test input");
  if (sample.data) return new File([sample.data], sample.name);
  const response = await fetch(sample.url);
  if (!response.ok) throw new Error(`the sample ${sample.name} could not be downloaded (HTTP ${response.status})`);
  return new File([await response.blob()], sample.name);
}
