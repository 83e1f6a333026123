// Training pairs on the page: read image/mask pairs into arrays (on this device, by the model worker), check
// them, and summarise them for the consent dialog. Nothing here talks to an engine.
//   const pairs = normalizePairs([{image, mask, name?}] | [[image, mask], ...])
//   const read = await readPairs(pyapp, pairs)   -> [{name, image: {data, shape, dtype, axes}, mask: {...}}]
//   consentSummary(read, target)                 -> {host, socket, items: [{image, mask, shape, bytes}], bytes}
// image/mask: a URL (.tif/.npy/.png/.jpg), a File/Blob, or {data: TypedArray, shape, dtype}.

function sourceName(source, fallback) {
  if (typeof source === "string") {
    const [url, fragment] = source.split("#");
    const last = decodeURIComponent(fragment || url.split("?")[0].split("/").pop() || "");
    return last || fallback;
  }
  if (source && typeof source.name === "string" && source.name) return source.name;
  return fallback;
}

/** Pairs as [{name, image, mask, imageName, maskName}]; Error naming the bad entry. */
export function normalizePairs(pairs) {
  if (!Array.isArray(pairs) || !pairs.length) throw new Error("add at least one image with its mask to train on");
  return pairs.map((pair, i) => {
    const [image, mask] = Array.isArray(pair) ? pair : [pair && pair.image, pair && pair.mask];
    if (!image || !mask) throw new Error(`training pair ${i + 1}: it needs an image and a mask`);
    const imageName = sourceName(image, `image ${i + 1}`);
    const maskName = sourceName(mask, `mask ${i + 1}`);
    return { name: (pair && pair.name) || imageName, image, mask, imageName, maskName };
  });
}

async function readOne(pyapp, source, name) {
  if (source && source.data && source.shape) {
    return { data: source.data, shape: Array.from(source.shape, Number), dtype: source.dtype || "float32",
             axes: source.axes || (source.shape.length === 2 ? "yx" : null) };
  }
  let url = source, made = null;
  if (typeof Blob !== "undefined" && source instanceof Blob) {
    made = URL.createObjectURL(source);
    url = `${made}#${encodeURIComponent(name)}`;
  }
  try {
    return await pyapp.read(url);
  } catch (err) {
    throw new Error(`${name}: cannot read it as an image (${err.message})`, { cause: err });
  } finally {
    if (made) URL.revokeObjectURL(made);
  }
}

/** The 2D (y, x) plane a trainer takes: grey images stay, a colour image is averaged over its channels. */
export function toPlane(array, name, { label = false } = {}) {
  const axes = array.axes || "";
  const shape = array.shape;
  if (shape.length === 2) return array;
  const squeezable = shape.map((s, i) => (s === 1 && axes[i] !== "y" && axes[i] !== "x"));
  if (shape.filter((s, i) => !squeezable[i]).length === 2) {
    return { ...array, shape: shape.filter((s, i) => !squeezable[i]), axes: "yx" };
  }
  const c = axes.indexOf("c");
  if (!label && shape.length === 3 && c >= 0 && shape[c] <= 4) {
    const [h, w] = shape.filter((_, i) => i !== c);
    const n = h * w, channels = Math.min(shape[c], 3);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let k = 0; k < channels; k++) sum += c === 2 ? array.data[i * shape[2] + k] : array.data[k * n + i];
      out[i] = sum / channels;
    }
    return { data: out, shape: [h, w], dtype: "float32", axes: "yx" };
  }
  throw new Error(`${name}: a ${shape.join("×")} ${label ? "mask" : "image"} (axes ${axes || "?"}); ` +
                  "training takes 2D images (one plane, grey or colour) and 2D masks");
}

/** A mask as integer labels: float masks holding whole numbers (e.g. from a float tif) become int32. */
export function labels(mask, name) {
  if (/^u?int/.test(mask.dtype)) return mask;
  const out = new Int32Array(mask.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = mask.data[i];
    if (!Number.isInteger(v) || v < 0) {
      throw new Error(`${name}: a mask holds whole numbers ≥ 0 (object labels, 0 = background), but it has ${v}`);
    }
    out[i] = v;
  }
  return { ...mask, data: out, dtype: "int32" };
}

/** Read every pair on this device and check that each image and its mask have the same size. */
export async function readPairs(pyapp, pairs, { onProgress = () => {} } = {}) {
  const out = [];
  for (const [i, pair] of pairs.entries()) {
    onProgress(i, pairs.length, pair.name);
    const image = toPlane(await readOne(pyapp, pair.image, pair.imageName), pair.imageName);
    const mask = toPlane(await readOne(pyapp, pair.mask, pair.maskName), pair.maskName, { label: true });
    if (image.shape[0] !== mask.shape[0] || image.shape[1] !== mask.shape[1]) {
      throw new Error(`${pair.maskName}: the mask is ${mask.shape.join("×")} but its image ${pair.imageName} is ` +
                      `${image.shape.join("×")}; a mask must have the image's size`);
    }
    out.push({ ...pair, image, mask: labels(mask, pair.maskName) });
  }
  onProgress(pairs.length, pairs.length, "");
  return out;
}

/** What the consent dialog lists: each pair's names, size and bytes, the host they go to. */
export function consentSummary(read, target) {
  const items = read.map((p) => ({ image: p.imageName, mask: p.maskName, shape: p.image.shape,
                                   bytes: p.image.data.byteLength + p.mask.data.byteLength }));
  return { host: target.host, socket: target.socket, items, bytes: items.reduce((a, b) => a + b.bytes, 0) };
}
