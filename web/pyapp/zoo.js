// window.pyapp.zoo: browse the BioImage Model Zoo (its collection.json), find models, load one into the app and
// keep it for offline use. The panel (zoo-panel.js, built on first use by the header's "Zoo" button) and tests
// use the same calls:
//   await pyapp.zoo.list({collection})      -> {models: [entry], offline, fetched, url}
//   pyapp.zoo.search(models, {text, tag, modality}) -> the entries that match
//   await pyapp.zoo.load(idOrNickname)      -> the app's model id ("zoo-<key>"), chosen in the Model menu
//   await pyapp.zoo.cover(entry)            -> a blob: URL of its first cover image, or null
//   await pyapp.zoo.forget()                -> drops the offline copies (list, covers, packages)
// entry: {key, id, nickname, name, description, tags, modalities, covers, download_url, rdf_source, weights,
//         runs: true | false | null (ONNX weights: yes, no, not listed)}.
// The collection, covers and model packages are kept in Cache Storage under CACHE (not the service worker's
// "pyapp-<build>" caches, which it replaces on each new build), so a model loaded once loads again offline.
import pyapp from "./app.js";

/** The bioimage.io collection: only the default of the panel's "Collection" setting (saved per browser). */
export const DEFAULT_COLLECTION = "https://uk1s3.embassy.ebi.ac.uk/public-datasets/bioimage.io/collection.json";
export const CACHE = "pyapp.zoo";
const SETTING = "pyapp-zoo-collection";
let last = null;  // the last list() answer: load() finds keys there
// Tags that name an imaging modality (bioimage.io has no controlled vocabulary: matched by these words).
const MODALITY_WORDS = ["fluorescence", "electron", "brightfield", "bright-field", "phase-contrast", "dic",
  "light-sheet", "confocal", "histology", "histopathology", "h&e", "microscopy", "super-resolution", "x-ray", "mri"];
const WEIGHT_TAGS = { onnx: "onnx", torchscript: "torchscript", pytorch: "pytorch_state_dict",
  tensorflow: "tensorflow_saved_model_bundle", keras: "keras_hdf5" };

export function collectionUrl() {
  return localStorage.getItem(SETTING) || DEFAULT_COLLECTION;
}

export function setCollectionUrl(url) {
  if (!url || url === DEFAULT_COLLECTION) localStorage.removeItem(SETTING);
  else localStorage.setItem(SETTING, url);
}

/** GET url as a Response: the network first (and the copy kept), else the kept copy; {offline} says which. */
async function fetchKept(url, { networkFirst = true } = {}) {
  const cache = await caches.open(CACHE);
  if (!networkFirst) {
    const hit = await cache.match(url);
    if (hit) return { response: hit, offline: false };
  }
  try {
    const response = await fetch(url, { mode: "cors", credentials: "omit" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    await cache.put(url, response.clone());
    return { response, offline: false };
  } catch (err) {
    const hit = await cache.match(url);
    if (hit) return { response: hit, offline: true };
    throw new Error(`${url}: download failed (${err.message}); a server other than this app's must allow it ` +
                    "(CORS), and without a network only what was loaded before is available", { cause: err });
  }
}

function absoluteFrom(value, base) {
  try { return value ? new URL(value, base).href : null; } catch { return null; }
}

/** One collection entry as the panel shows it (null for what is not a model). */
export function normalise(raw, base) {
  if (!raw || raw.type !== "model" || !raw.id) return null;
  const tags = (raw.tags || []).map(String);
  const rdf = absoluteFrom(raw.rdf_source || raw.source, base);
  const listed = raw.weights && typeof raw.weights === "object" ? Object.keys(raw.weights)
    : tags.map((t) => WEIGHT_TAGS[t.toLowerCase()]).filter(Boolean);
  const weights = [...new Set(listed)];
  return {
    key: raw.nickname || raw.id, id: String(raw.id), nickname: raw.nickname || null,
    name: String(raw.name || raw.nickname || raw.id), description: String(raw.description || ""), tags,
    modalities: tags.filter((t) => MODALITY_WORDS.some((w) => t.toLowerCase().includes(w))),
    covers: (raw.covers || []).map((c) => absoluteFrom(c, rdf || base)).filter(Boolean),
    download_url: absoluteFrom(raw.download_url, rdf || base), rdf_source: rdf, weights,
    runs: weights.length ? weights.includes("onnx") : null,
  };
}

/** The models of the collection at ``collection`` (default: the saved setting). */
async function list({ collection = collectionUrl() } = {}) {
  const { response, offline } = await fetchKept(collection);
  let body;
  try { body = await response.json(); } catch {
    throw new Error(`${collection} is not a bioimage.io collection (not JSON)`);
  }
  const raw = Array.isArray(body) ? body : body.collection;
  if (!Array.isArray(raw)) throw new Error(`${collection} is not a bioimage.io collection (no "collection" list)`);
  const models = raw.map((e) => normalise(e, collection)).filter(Boolean);
  last = { models, offline, url: collection, fetched: response.headers.get("date") };
  return last;
}

/** The entries whose name, id, nickname, description or tags contain ``text``, with ``tag``/``modality``. */
export function search(models, { text = "", tag = "", modality = "" } = {}) {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  return models.filter((m) => {
    const hay = [m.name, m.id, m.nickname || "", m.description, ...m.tags].join(" ").toLowerCase();
    return words.every((w) => hay.includes(w)) && (!tag || m.tags.includes(tag))
      && (!modality || m.modalities.includes(modality));
  });
}

function find(key) {
  const models = last ? last.models : [];
  const k = String(key).trim().toLowerCase();
  return models.find((m) => [m.key, m.id, m.nickname].some((v) => v && v.toLowerCase() === k));
}

/** The command that adds ONNX weights to a model that has none (docs/packaging.md). */
export function convertHint(entry) {
  const source = entry.download_url || entry.rdf_source || entry.key;
  return `download it (${source}) and convert it on a computer with Python: pip install 'pyapp[zoo]', then ` +
         "pyapp convert MODEL.zip --to onnx -o model-onnx.zip; load model-onnx.zip here (Package a model → Use a package)";
}

/** Load a zoo model into the app by id or nickname: fetched (or taken from the offline copy) and chosen. */
async function load(key) {
  if (!last) await list();
  const entry = find(key);
  if (!entry) throw new Error(`no model ${JSON.stringify(key)} in the collection ${last.url}; search by name or tag`);
  if (entry.runs === false) {
    throw new Error(`${entry.name} cannot run in the browser: it has no ONNX weights (it has ` +
                    `${entry.weights.join(", ")}); ${convertHint(entry)}`);
  }
  const id = `zoo-${entry.key.replace(/[^\w-]/g, "-")}`;
  let source;
  if (entry.download_url) {
    source = await kept(entry.download_url);
  } else if (entry.rdf_source) {
    source = await packageOf(entry);  // null: weights elsewhere, loaded by URL (not kept offline)
  } else {
    throw new Error(`${entry.name}: the collection gives neither download_url nor rdf_source`);
  }
  if (source) {
    const described = await pyapp.describe(source.slice().buffer);
    if (described.cannot_run) throw new Error(`${entry.name} cannot run in the browser: ${described.cannot_run}`);
  }
  const added = source ? pyapp.addModel({ id, name: `${entry.name} (zoo)`, description: entry.description,
                                          kind: "segmentation", zip: source }) : null;
  const value = added ? id : entry.rdf_source;
  chooseInApp(value, added ? added.name : `${entry.name} (zoo)`);
  return value;
}

async function kept(url) {
  const { response } = await fetchKept(url, { networkFirst: false });
  return new Uint8Array(await response.arrayBuffer());
}

/** A package zip (description + ONNX weights) for an entry that has only ``rdf_source``, from kept copies; null
 * when its weights are not a file next to the description (then the app loads it by URL, online only). */
async function packageOf(entry) {
  const rdf = await kept(entry.rdf_source);
  const described = await pyapp.describe(rdf.slice().buffer);
  if (described.cannot_run) throw new Error(`${entry.name} cannot run in the browser: ${described.cannot_run}`);
  const source = described.onnx_source;
  if (!source || /^[a-z]+:/i.test(source)) return null;
  const name = new URL(source, "http://package/").pathname.slice(1);
  const yamlName = entry.rdf_source.split("?")[0].endsWith("bioimageio.yaml") ? "bioimageio.yaml" : "rdf.yaml";
  return storedZip({ [yamlName]: rdf, [name]: await kept(new URL(source, entry.rdf_source).href) });
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A zip archive (stored, no compression) of {name: Uint8Array}. */
export function storedZip(files) {
  const parts = [], central = [];
  let offset = 0;
  for (const [name, data] of Object.entries(files)) {
    const path = new TextEncoder().encode(name);
    const crc = crc32(data);
    const header = (signature, extra) => {
      const h = new DataView(new ArrayBuffer(extra ? 46 : 30));
      h.setUint32(0, signature, true);
      let at = 4;
      if (extra) { h.setUint16(at, 20, true); at += 2; }  // version made by
      for (const v of [20, 0x0800, 0, 0, 0x21]) { h.setUint16(at, v, true); at += 2; }  // version, utf-8, stored
      h.setUint32(at, crc, true); h.setUint32(at + 4, data.length, true); h.setUint32(at + 8, data.length, true);
      h.setUint16(at + 12, path.length, true);
      if (extra) h.setUint32(42, offset, true);  // local header offset (comment, disk, attributes: 0)
      return new Uint8Array(h.buffer);
    };
    parts.push(header(0x04034b50, false), path, data);
    central.push(header(0x02014b50, true), path);
    offset += 30 + path.length + data.length;
  }
  const size = central.reduce((n, p) => n + p.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, central.length / 2, true);
  end.setUint16(10, central.length / 2, true);
  end.setUint32(12, size, true);
  end.setUint32(16, offset, true);
  const blob = [...parts, ...central, new Uint8Array(end.buffer)];
  const out = new Uint8Array(blob.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of blob) { out.set(p, at); at += p.length; }
  return out;
}

/** Put the model in the app's Model menu (a "From the zoo" group) and choose it, as the user would. */
export function chooseInApp(value, label, group = "From the zoo") {
  const select = document.getElementById("model");
  if (!select) return;
  let option = [...select.options].find((o) => o.value === value);
  if (!option) {
    let box = [...select.querySelectorAll("optgroup")].find((g) => g.label === group);
    if (!box) {
      box = Object.assign(document.createElement("optgroup"), { label: group });
      select.append(box);
    }
    option = Object.assign(document.createElement("option"), { value, textContent: label });
    box.append(option);
  }
  select.value = value;
  select.dispatchEvent(new Event("change", { bubbles: true }));
}

/** A blob: URL of the entry's first cover (the page's policy allows images from this site and blob: only). */
async function cover(entry) {
  if (!entry.covers.length) return null;
  try {
    const { response } = await fetchKept(entry.covers[0], { networkFirst: false });
    return URL.createObjectURL(await response.blob());
  } catch {
    return null;
  }
}

/** Drop everything kept for offline use (the list, covers, packages); returns whether there was anything. */
async function forget() {
  last = null;
  return caches.delete(CACHE);
}

const zoo = { list, search, load, cover, find, forget, convertHint, collectionUrl, setCollectionUrl,
              DEFAULT_COLLECTION, CACHE };
pyapp.zoo = zoo;

for (const [id, module] of [["zoo-btn", "./zoo-panel.js"], ["package-btn", "./package-form.js"]]) {
  const button = document.getElementById(id);
  if (button) {
    button.addEventListener("click", async () => {
      const { togglePanel } = await import(module);
      togglePanel();
    });
  }
}
export default zoo;
