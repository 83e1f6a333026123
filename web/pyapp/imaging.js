// Pixels in the page: decode png/jpg, crop for classifiers, draw inputs, outputs and overlays, top-k.
// The shell's Python calls these through window.pyapp.imaging; pixel loops stay in JavaScript.

// A File or Blob -> {kind: "pixels", width, height, bitmap, rgb: {data, shape, dtype}} for png/jpg/webp/gif,
// or {kind: "url", url, name} for tif/npy and anything else the worker reads itself (an object URL).
export async function decodeFile(file) {
  const name = file.name || "image";
  if (/\.(tiff?|npy)$/i.test(name) || !/^image\/(png|jpeg|webp|gif|bmp)$/.test(file.type || "")) {
    // the fragment carries the file name, from which the worker tells the format
    return { kind: "url", url: `${URL.createObjectURL(file)}#${encodeURIComponent(name)}`, name };
  }
  const bitmap = await createImageBitmap(file);
  return { kind: "pixels", name, width: bitmap.width, height: bitmap.height, bitmap };
}

function context(width, height) {
  const canvas = new OffscreenCanvas(width, height);
  return canvas.getContext("2d", { willReadFrequently: true });
}

// RGBA pixels of a drawable, optionally cropped to its centre square and resized to size×size.
function rgba(source, width, height, size = null) {
  if (!size) {
    const ctx = context(width, height);
    ctx.drawImage(source, 0, 0);
    return ctx.getImageData(0, 0, width, height).data;
  }
  const side = Math.min(width, height);
  const ctx = context(size, size);
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(source, (width - side) / 2, (height - side) / 2, side, side, 0, 0, size, size);
  return ctx.getImageData(0, 0, size, size).data;
}

// {data: Uint8Array, shape, dtype: "uint8"} for pyapp.predict with axes "yxc" (channels 3) or "yx" (channels 1).
export function pixels(source, width, height, { size = null, channels = 3 } = {}) {
  const px = rgba(source, width, height, size);
  const w = size || width, h = size || height, n = w * h;
  const out = new Uint8Array(n * channels);
  for (let i = 0; i < n; i++) {
    if (channels === 1) out[i] = Math.round(0.299 * px[4 * i] + 0.587 * px[4 * i + 1] + 0.114 * px[4 * i + 2]);
    else { out[3 * i] = px[4 * i]; out[3 * i + 1] = px[4 * i + 1]; out[3 * i + 2] = px[4 * i + 2]; }
  }
  return { data: out, shape: channels === 1 ? [h, w] : [h, w, 3], dtype: "uint8" };
}

export function drawBitmap(canvas, source, width, height) {
  canvas.width = width; canvas.height = height;
  canvas.getContext("2d").drawImage(source, 0, 0, width, height);
}

// A uint8 grey {shape: [h, w], data} (from pyapp.preview) onto a canvas.
export function drawGrey(canvas, image) {
  const [h, w] = image.shape;
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) img.data.set([image.data[i], image.data[i], image.data[i], 255], 4 * i);
  ctx.putImageData(img, 0, 0);
}

// The (y, x) plane of an output at `channel` (other axes at 0), with its min and max; axes are ids in order.
export function plane(output, axes, channel = 0) {
  const shape = output.shape, strides = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) strides[i] = strides[i + 1] * shape[i + 1];
  const iy = axes.indexOf("y"), ix = axes.indexOf("x"), ic = axes.indexOf("channel");
  if (iy < 0 || ix < 0) throw new Error(`output ${output.id} has no y and x axes (axes ${axes.join(",")})`);
  const h = shape[iy], w = shape[ix], base = ic >= 0 ? channel * strides[ic] : 0;
  const values = new Float32Array(h * w);
  let lo = Infinity, hi = -Infinity;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const v = output.data[base + y * strides[iy] + x * strides[ix]];
    values[y * w + x] = v; if (v < lo) lo = v; if (v > hi) hi = v;
  }
  return { values, width: w, height: h, lo, hi };
}

// A probability map (values in [0, 1]) as a colour overlay (magenta, alpha = value × opacity) over `base` (the
// input); any other output, or one without a base, as grey levels stretched from its min to its max.
export function drawOverlay(canvas, output, axes, { channel = 0, opacity = 0.6, base = null } = {}) {
  const p = plane(output, axes, channel);
  canvas.width = p.width; canvas.height = p.height;
  const ctx = canvas.getContext("2d");
  const probability = p.lo >= 0 && p.hi <= 1;
  if (!probability) base = null;  // not a probability map: the output itself, in grey levels
  const lo = probability ? 0 : p.lo, span = probability ? 1 : (p.hi - p.lo) || 1;
  if (base) ctx.drawImage(base, 0, 0, p.width, p.height);
  const img = base ? ctx.getImageData(0, 0, p.width, p.height) : ctx.createImageData(p.width, p.height);
  const d = img.data;
  for (let i = 0; i < p.values.length; i++) {
    const v = Math.min(1, Math.max(0, (p.values[i] - lo) / span));
    if (!base) { const g = Math.round(255 * v); d[4 * i] = g; d[4 * i + 1] = g; d[4 * i + 2] = g; d[4 * i + 3] = 255; continue; }
    const a = v * opacity;
    d[4 * i] = d[4 * i] * (1 - a) + 255 * a;
    d[4 * i + 1] = d[4 * i + 1] * (1 - a) + 20 * a;
    d[4 * i + 2] = d[4 * i + 2] * (1 - a) + 200 * a;
  }
  ctx.putImageData(img, 0, 0);
  return { lo: p.lo, hi: p.hi, width: p.width, height: p.height, overlay: !!base };
}

// The k largest entries of a classifier output (softmax already applied by the model) as [{label, p}].
export function topK(output, names, k = 5) {
  const data = output.data, idx = Array.from(data.keys());
  idx.sort((a, b) => data[b] - data[a]);
  return idx.slice(0, k).map((i) => ({ label: (names && names[i]) || `class ${i}`, p: data[i], index: i }));
}
