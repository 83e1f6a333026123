// The viewer's image as an array: {name, data, shape, dtype, axes} with all its pixels (png/jpg decoded by the
// browser, tif/npy read by the model worker), its planes (z, t), channels, contrast and drawing. The shell's
// Python calls these through window.pyapp.viewer; pixel loops stay here.
//   const image = await load(pyapp, decoded)          // decoded: imaging.decodeFile's result
//   layout(image) -> {width, height, channels, planes, planeLabel, colour, dtype, key}
//   autoContrast(image, plane) -> {lo, hi, min, max};  draw(canvas, image, plane, {lo, hi, channel})
//   modelInput(image, plane, {want, choice}) -> {input: {data, shape, dtype}, axes: "yx" | "yxc"}
//   conversion(image, want, choice) -> a sentence for the page ("" when nothing is converted)
//   withAxes(image, "zyx") -> the same pixels as z planes (the user's reading of a 3D array)

const SPACE = new Set(["y", "x", "c"]);
const LUMA = [0.299, 0.587, 0.114];  // ITU-R BT.601, as browsers and Pillow make grey from RGB

function strides(shape) {
  const out = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) out[i] = out[i + 1] * shape[i + 1];
  return out;
}

/** RGBA of a decoded png/jpg as yx (all pixels grey) or yxc (3 channels) uint8. */
function fromBitmap(bitmap, name) {
  const { width: w, height: h } = bitmap;
  const ctx = new OffscreenCanvas(w, h).getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  const px = ctx.getImageData(0, 0, w, h).data;
  let colour = false;
  for (let i = 0; i < px.length && !colour; i += 4) colour = px[i] !== px[i + 1] || px[i + 1] !== px[i + 2];
  const n = w * h, data = new Uint8Array(colour ? 3 * n : n);
  for (let i = 0; i < n; i++) {
    if (!colour) data[i] = px[4 * i];
    else { data[3 * i] = px[4 * i]; data[3 * i + 1] = px[4 * i + 1]; data[3 * i + 2] = px[4 * i + 2]; }
  }
  return { name, data, dtype: "uint8", shape: colour ? [h, w, 3] : [h, w], axes: colour ? "yxc" : "yx", photo: true };
}

async function digest(image) {
  const bytes = new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(hash.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The image of imaging.decodeFile's result as an array, with its layout and a content key. */
export async function load(pyapp, decoded) {
  const image = decoded.kind === "pixels" ? fromBitmap(decoded.bitmap, decoded.name)
    : { name: decoded.name, ...(await pyapp.read(decoded.url)) };
  if (!image.axes || !image.axes.includes("y") || !image.axes.includes("x")) {
    throw new Error(`${image.name}: an image of shape ${image.shape.join("×")} without y and x axes`);
  }
  image.strides = strides(image.shape);
  image.key = `${image.name}:${await digest(image)}`;
  return image;
}

/** The same pixels read with other axis letters of the same length (e.g. "zyx" for a stack read as "cyx"). */
export function withAxes(image, axes) {
  if (axes.length !== image.shape.length || !axes.includes("y") || !axes.includes("x") || new Set(axes).size !== axes.length) {
    throw new Error(`axes ${axes} do not fit an image of shape ${image.shape.join("×")}`);
  }
  return { ...image, axes };
}

/** Sizes the page shows: width, height, channels, planes (the product of z, t, … sizes) and their label; colour:
 * RGB(A) samples (a photo, or a TIFF's last axis of 3 or 4). */
export function layout(image) {
  const { axes, shape } = image;
  const stack = [...axes].map((a, i) => i).filter((i) => !SPACE.has(axes[i]) && shape[i] > 1);
  const c = axes.indexOf("c");
  const planeLabel = stack.length === 1 ? axes[stack[0]] : "plane";
  return { width: shape[axes.indexOf("x")], height: shape[axes.indexOf("y")], channels: c >= 0 ? shape[c] : 1,
           planes: stack.reduce((n, i) => n * shape[i], 1), planeLabel,
           colour: c >= 0 && (!!image.photo || (c === axes.length - 1 && (shape[c] === 3 || shape[c] === 4))),
           dtype: image.dtype, key: image.key, name: image.name, stackAxes: stack.map((i) => axes[i]).join("") };
}

/** Offset of plane `plane` (row-major over the stack axes), other axes at 0. */
function planeBase(image, plane) {
  const { axes, shape, strides: st } = image;
  let base = 0, rest = plane;
  for (let i = axes.length - 1; i >= 0; i--) {
    if (SPACE.has(axes[i]) || shape[i] <= 1) continue;
    base += (rest % shape[i]) * st[i];
    rest = Math.floor(rest / shape[i]);
  }
  if (rest > 0) throw new Error(`${image.name}: no plane ${plane + 1}`);
  return base;
}

/** One channel of one plane as a typed array of the image's dtype (row-major y, x). */
export function channelPlane(image, plane = 0, channel = 0) {
  const { axes, shape, strides: st, data } = image;
  const iy = axes.indexOf("y"), ix = axes.indexOf("x"), ic = axes.indexOf("c");
  const h = shape[iy], w = shape[ix], sy = st[iy], sx = st[ix];
  const base = planeBase(image, plane) + (ic >= 0 ? channel * st[ic] : 0);
  const out = new data.constructor(h * w);
  for (let y = 0, k = 0; y < h; y++) for (let x = 0, at = base + y * sy; x < w; x++, k++, at += sx) out[k] = data[at];
  return out;
}

/** Display range of a plane: the 0.5 and 99.5 percentiles (auto contrast) and its min and max. */
export function autoContrast(image, plane = 0, { low = 0.5, high = 99.5 } = {}) {
  const { channels } = layout(image);
  const parts = Array.from({ length: Math.min(channels, 3) }, (_, c) => channelPlane(image, plane, c));
  const n = parts[0].length * parts.length, step = Math.max(1, Math.ceil(n / 400000));
  const sample = new Float64Array(Math.ceil(n / step));
  let min = Infinity, max = -Infinity, k = 0;
  for (const part of parts) {
    for (let i = 0; i < part.length; i++) { const v = part[i]; if (v < min) min = v; if (v > max) max = v; }
  }
  for (let i = 0; i < n; i += step) sample[k++] = parts[Math.floor(i / parts[0].length)][i % parts[0].length];
  const sorted = sample.subarray(0, k).sort();
  const at = (p) => sorted[Math.min(k - 1, Math.max(0, Math.round((p / 100) * (k - 1))))];
  let lo = at(low), hi = at(high);
  if (!(hi > lo)) { lo = min; hi = max > min ? max : min + 1; }
  return { lo, hi, min, max: max > min ? max : min + 1 };
}

/** A plane onto `canvas` (its size becomes the image's), values lo..hi stretched to 0..255: one channel in grey
 * (`channel` ≥ 0, or a one-channel image), else the first three channels as red, green, blue. */
export function draw(canvas, image, plane = 0, { lo = 0, hi = 255, channel = -1 } = {}) {
  const { width: w, height: h, channels } = layout(image);
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h), d = img.data, scale = 255 / ((hi - lo) || 1);
  const grey = channels === 1 || channel >= 0;
  const parts = grey ? [channelPlane(image, plane, Math.max(0, channel))]
    : Array.from({ length: Math.min(channels, 3) }, (_, c) => channelPlane(image, plane, c));
  for (let i = 0; i < w * h; i++) {  // ImageData clamps to 0..255
    if (grey) { const v = (parts[0][i] - lo) * scale; d[4 * i] = v; d[4 * i + 1] = v; d[4 * i + 2] = v; }
    else for (let c = 0; c < 3; c++) d[4 * i + c] = parts[c] ? (parts[c][i] - lo) * scale : 0;
    d[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return { width: w, height: h };
}

/** What the model gets from a plane: `want` channels (1 for grey models); `choice` "grey" or "c<k>" says how
 * a colour or multi-channel image becomes one channel. Error (in the user's terms) when nothing fits. */
export function modelInput(image, plane = 0, { want = 1, choice = null } = {}) {
  const { width: w, height: h, channels } = layout(image), n = w * h;
  if (want <= 1 && channels === 1) {
    return { input: { data: channelPlane(image, plane, 0), shape: [h, w], dtype: image.dtype }, axes: "yx" };
  }
  if (want <= 1) {
    if (choice && /^c\d+$/.test(choice) && Number(choice.slice(1)) < channels) {
      return { input: { data: channelPlane(image, plane, Number(choice.slice(1))), shape: [h, w], dtype: image.dtype },
               axes: "yx" };
    }
    if (choice !== "grey") {
      throw new Error(`${image.name} has ${channels} channels and the model takes one: pick a channel (or grey) ` +
                      "under the image");
    }
    const parts = Array.from({ length: channels }, (_, c) => channelPlane(image, plane, c));
    const weights = channels === 3 || channels === 4 ? LUMA : parts.map(() => 1 / channels);
    const out = new Float32Array(n);
    parts.forEach((part, c) => { if (weights[c]) for (let i = 0; i < n; i++) out[i] += weights[c] * part[i]; });
    return { input: { data: out, shape: [h, w], dtype: "float32" }, axes: "yx" };
  }
  if (channels !== want && channels !== 1) {
    throw new Error(`${image.name} has ${channels} channels and the model takes ${want}: open an image with ` +
                    `${want} channels`);
  }
  const parts = Array.from({ length: want }, (_, c) => channelPlane(image, plane, channels === 1 ? 0 : c));
  const out = new parts[0].constructor(n * want);
  parts.forEach((part, c) => { for (let i = 0; i < n; i++) out[i * want + c] = part[i]; });
  return { input: { data: out, shape: [h, w, want], dtype: image.dtype }, axes: "yxc" };
}

/** The sentence the page shows when the image is converted for the model ("" when it goes as it is). */
export function conversion(image, want = 1, choice = null) {
  const { channels, colour } = layout(image);
  const kind = colour ? "colour (RGB) image" : `${channels}-channel image`;
  if (want <= 1 && channels > 1) {
    if (choice === "grey") {
      return channels === 3 || channels === 4 ? `${kind} → grey for this one-channel model ` +
        "(0.299 R + 0.587 G + 0.114 B)" : `${kind} → grey (the mean of its channels) for this one-channel model`;
    }
    if (choice && /^c\d+$/.test(choice)) return `${kind} → channel ${Number(choice.slice(1)) + 1} only, for this one-channel model`;
    return `${kind}, and the model takes one channel: pick a channel or grey`;
  }
  if (want > 1 && channels === 1) return `grey image → the same values in each of the model's ${want} channels`;
  return "";
}
