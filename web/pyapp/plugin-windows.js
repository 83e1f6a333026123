// Plugin windows in the workbench: what api.create_window / api.show_dialog open, drawn in the page.
//
//   import { installWindows } from "./plugin-windows.js";
//   installWindows(host);      // host = window.pyapp.plugins; sets its createWindow, closeWindow and dialog handlers
//
// Window types (the `type` of the plugin's config):
//   imageviewer  data: an ndarray (NDArray {data, shape, dtype}) of shape (h, w), (h, w, 1|3|4) or (1|3|4, h, w),
//                any numeric dtype; contrast-stretched (min..max -> 0..255) into a <canvas> of w × h pixels, with a
//                caption "h×w dtype · min … max".
//   plot         data: {x: [...], y: [...]} (lists, typed arrays or ndarrays; y may be a list of series), optional
//                title (config.title or data.title), xlabel, ylabel: an inline SVG line plot with ticks on both axes.
//   markdown     data: text. A small renderer: headings, paragraphs, **bold**, *italic*, `code`, ``` blocks,
//                - / 1. lists, [links](https://...) (http and https only). Everything is built with createElement
//                and textContent: HTML in the text is shown as text, never parsed.
//   other        data shown as text (JSON for objects).
// api.show_file_dialog opens a <dialog class="file-dialog"> with a file input (Cancel: the plugin's call fails with
// "no file was chosen").
// A window is a <div class="window"> prepended to #windows; a dialog is a <dialog class="plugin-dialog"> with the
// same content and a Close button. Both carry data-window-id, data-window-type and data-plugin; close() (the
// plugin's window.close(), or the host's closeWindow) removes them.

const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c != null) node.append(c);   // strings become text nodes
  return node;
}

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text != null) node.textContent = text;
  return node;
}

function showValue(value) {
  if (value == null) return "";
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value, (k, v) => (typeof v === "bigint" ? Number(v)
      : ArrayBuffer.isView(v) ? `[${v.constructor.name} × ${v.length}]` : v), 2);
  } catch {
    return String(value);
  }
}

// ---- imageviewer ------------------------------------------------------------------------------------------------

function isNdarray(v) {
  return v != null && typeof v === "object" && Array.isArray(v.shape) && v.data != null && typeof v.dtype === "string";
}

/** Pixel layout of an ndarray: {h, w, c, at(y, x, k)} (channels last or first, at most 4 channels). */
function layout(nd) {
  const shape = nd.shape.map(Number);
  const complex = nd.dtype.startsWith("complex");
  const raw = nd.data;
  const big = typeof raw[0] === "bigint";
  const value = (i) => {
    const v = raw[complex ? 2 * i : i];   // complex: the real part
    return big ? Number(v) : v;
  };
  if (shape.length === 2) {
    const [h, w] = shape;
    return { h, w, c: 1, at: (y, x) => value(y * w + x) };
  }
  if (shape.length !== 3) throw new Error(`an imageviewer needs a 2-d or 3-d ndarray, got shape ${JSON.stringify(shape)}`);
  const [a, b, d] = shape;
  if (d <= 4 || a > 4) {   // (h, w, c): channels last; more than 4 channels: the first 3 (or 1) are shown
    const c = d <= 4 ? d : 1;
    return { h: a, w: b, c: c === 2 ? 1 : c, at: (y, x, k) => value((y * b + x) * d + k) };
  }
  const c = a === 2 ? 1 : a;   // (c, h, w): channels first
  return { h: b, w: d, c, at: (y, x, k) => value((k * b + y) * d + x) };
}

/** A canvas (w × h pixels) with the ndarray contrast-stretched to 0..255, and its caption text. */
export function renderImage(nd) {
  if (!isNdarray(nd)) throw new Error("an imageviewer window needs data: an ndarray");
  const { h, w, c, at } = layout(nd);
  const colour = c >= 3 ? 3 : 1;
  let lo = Infinity;
  let hi = -Infinity;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < colour; k++) {
        const v = at(y, x, k);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
  }
  const finite = Number.isFinite(lo) && Number.isFinite(hi);
  const scale = finite && hi > lo ? 255 / (hi - lo) : 0;
  const stretch = (v) => (Number.isFinite(v) ? (v - lo) * scale : 0);
  const canvas = el("canvas", { width: w, height: h, class: "imageviewer" });
  if (w > 0 && h > 0) {
    const ctx = canvas.getContext("2d");
    const image = ctx.createImageData(w, h);
    const px = image.data;   // Uint8ClampedArray: rounds and clamps
    let alphaLo = Infinity;
    let alphaHi = -Infinity;
    if (c === 4) {
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
        const v = at(y, x, 3);
        if (v < alphaLo) alphaLo = v;
        if (v > alphaHi) alphaHi = v;
      }
    }
    const alpha = (v) => (nd.dtype === "uint8" ? v : alphaHi > alphaLo ? (v - alphaLo) * 255 / (alphaHi - alphaLo) : 255);
    for (let y = 0, i = 0; y < h; y++) {
      for (let x = 0; x < w; x++, i += 4) {
        if (colour === 1) {
          px[i] = px[i + 1] = px[i + 2] = stretch(at(y, x, 0));
        } else {
          px[i] = stretch(at(y, x, 0));
          px[i + 1] = stretch(at(y, x, 1));
          px[i + 2] = stretch(at(y, x, 2));
        }
        px[i + 3] = c === 4 ? alpha(at(y, x, 3)) : 255;
      }
    }
    ctx.putImageData(image, 0, 0);
  }
  // small images are shown larger, pixels kept sharp
  const zoom = Math.max(1, Math.min(16, Math.floor(256 / Math.max(w, h, 1))));
  canvas.style.width = `${w * zoom}px`;
  canvas.style.maxWidth = "100%";
  canvas.style.imageRendering = "pixelated";
  const range = finite ? ` · ${fmt(lo)} … ${fmt(hi)}` : "";
  const caption = `${nd.shape.join("×")} ${nd.dtype}${range}`;
  return { canvas, caption };
}

// ---- plot -------------------------------------------------------------------------------------------------------

function numbers(v) {
  if (v == null) return [];
  if (isNdarray(v)) return Array.from(v.data, Number);
  if (ArrayBuffer.isView(v)) return Array.from(v, Number);
  if (Array.isArray(v)) return v.map((x) => (x == null ? NaN : Number(x)));
  return [];
}

function fmt(v) {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2).replace(/\.?0+e/, "e");
  return String(Number(v.toPrecision(4)));
}

/** About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5 × 10^k). */
export function ticks(lo, hi, count = 5) {
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) return [];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => raw <= s) || 10 * power;
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

/** An <svg> line plot of {x, y} (y: one series or a list of series) with axes, ticks and an optional title. */
export function renderPlot(data, options = {}) {
  const W = 400;
  const H = 260;
  const m = { left: 52, right: 14, top: options.title ? 28 : 14, bottom: options.xlabel ? 44 : 32 };
  const xs = numbers(data && data.x);
  const ys = data && Array.isArray(data.y) && data.y.length && (Array.isArray(data.y[0]) || ArrayBuffer.isView(data.y[0]) || isNdarray(data.y[0]))
    ? data.y.map(numbers) : [numbers(data && data.y)];
  const finite = (a) => a.filter(Number.isFinite);
  const allX = finite(xs);
  const allY = finite(ys.flat());
  let [x0, x1] = allX.length ? [Math.min(...allX), Math.max(...allX)] : [0, 1];
  let [y0, y1] = allY.length ? [Math.min(...allY), Math.max(...allY)] : [0, 1];
  if (x0 === x1) { x0 -= 0.5; x1 += 0.5; }
  if (y0 === y1) { y0 -= 0.5; y1 += 0.5; }
  const px = (v) => m.left + (v - x0) / (x1 - x0) * (W - m.left - m.right);
  const py = (v) => H - m.bottom - (v - y0) / (y1 - y0) * (H - m.top - m.bottom);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "plot", role: "img" });
  root.style.maxWidth = "100%";
  root.style.height = "auto";
  if (options.title) root.append(svg("text", { x: W / 2, y: 16, "text-anchor": "middle", "font-size": 13, "font-weight": "bold", class: "title" }, String(options.title)));
  const axes = svg("g", { class: "axes", stroke: "#888", "font-size": 10, fill: "#444" });
  axes.append(svg("line", { x1: m.left, y1: H - m.bottom, x2: W - m.right, y2: H - m.bottom }));
  axes.append(svg("line", { x1: m.left, y1: m.top, x2: m.left, y2: H - m.bottom }));
  for (const t of ticks(x0, x1)) {
    const x = px(t);
    axes.append(svg("line", { x1: x, y1: H - m.bottom, x2: x, y2: H - m.bottom + 4, class: "tick x" }));
    axes.append(svg("text", { x, y: H - m.bottom + 15, "text-anchor": "middle", stroke: "none", class: "tick-label x" }, fmt(t)));
  }
  for (const t of ticks(y0, y1)) {
    const y = py(t);
    axes.append(svg("line", { x1: m.left - 4, y1: y, x2: m.left, y2: y, class: "tick y" }));
    axes.append(svg("text", { x: m.left - 6, y: y + 3, "text-anchor": "end", stroke: "none", class: "tick-label y" }, fmt(t)));
  }
  if (options.xlabel) axes.append(svg("text", { x: (m.left + W - m.right) / 2, y: H - 8, "text-anchor": "middle", stroke: "none" }, String(options.xlabel)));
  if (options.ylabel) axes.append(svg("text", { x: 12, y: (m.top + H - m.bottom) / 2, "text-anchor": "middle", stroke: "none", transform: `rotate(-90 12 ${(m.top + H - m.bottom) / 2})` }, String(options.ylabel)));
  root.append(axes);
  const colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"];
  ys.forEach((series, s) => {
    let d = "";
    let pen = "M";
    for (let i = 0; i < Math.min(xs.length, series.length); i++) {
      if (!(Number.isFinite(xs[i]) && Number.isFinite(series[i]))) { pen = "M"; continue; }
      d += `${pen}${px(xs[i]).toFixed(2)} ${py(series[i]).toFixed(2)} `;
      pen = "L";
    }
    if (d) root.append(svg("path", { d: d.trim(), fill: "none", stroke: colours[s % colours.length], "stroke-width": 1.6, class: "line" }));
  });
  return root;
}

// ---- markdown ---------------------------------------------------------------------------------------------------

const INLINE = /`([^`]+)`|\*\*(.+?)\*\*|__(.+?)__|\*([^*\s](?:[^*]*[^*\s])?)\*|(?<![\w])_([^_\s](?:[^_]*[^_\s])?)_(?![\w])|\[([^\]]+)\]\(([^)\s]+)\)/;

/** Inline Markdown of `text` as DOM nodes appended to `parent` (text only; links only to http(s) URLs). */
function inline(parent, text) {
  let rest = text;
  while (rest) {
    const match = INLINE.exec(rest);
    if (!match) { parent.append(rest); break; }
    if (match.index) parent.append(rest.slice(0, match.index));
    const [, code, bold1, bold2, em1, em2, label, href] = match;
    if (code != null) parent.append(el("code", {}, code));
    else if (bold1 != null || bold2 != null) inline(parent.appendChild(el("strong")), bold1 ?? bold2);
    else if (em1 != null || em2 != null) inline(parent.appendChild(el("em")), em1 ?? em2);
    else if (/^https?:\/\//i.test(href)) inline(parent.appendChild(el("a", { href, target: "_blank", rel: "noopener noreferrer" })), label);
    else inline(parent.appendChild(el("span", { class: "link-refused", title: "only http(s) links are shown" })), label);
    rest = rest.slice(match.index + match[0].length);
  }
  return parent;
}

/** A <div class="markdown"> of the text: safe by construction (no innerHTML). */
export function renderMarkdown(text) {
  const root = el("div", { class: "markdown" });
  const lines = String(text ?? "").replace(/\r\n?/g, "\n").split("\n");
  let para = [];
  let list = null;
  const flush = () => {
    if (para.length) root.append(inline(el("p"), para.join(" ")));
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = /^\s*(```|~~~)\s*([\w+-]*)\s*$/.exec(line);
    if (fence) {
      flush();
      list = null;
      const body = [];
      for (i++; i < lines.length && !lines[i].trim().startsWith(fence[1]); i++) body.push(lines[i]);
      root.append(el("pre", {}, el("code", fence[2] ? { class: `language-${fence[2]}` } : {}, body.join("\n"))));
      continue;
    }
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    const item = /^\s*(?:([-*+])|(\d+)[.)])\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      list = null;
      root.append(inline(el(`h${heading[1].length}`), heading[2]));
    } else if (item) {
      flush();
      const tag = item[1] ? "ul" : "ol";
      if (!list || list.tagName.toLowerCase() !== tag) {
        list = el(tag, tag === "ol" && item[2] !== "1" ? { start: item[2] } : {});
        root.append(list);
      }
      list.append(inline(el("li"), item[3]));
    } else if (!line.trim()) {
      flush();
      list = null;
    } else if (list && /^\s{2,}\S/.test(line)) {
      list.lastElementChild.append(" ");   // continuation of the last list item
      inline(list.lastElementChild, line.trim());
    } else {
      list = null;
      para.push(line.trim());
    }
  }
  flush();
  return root;
}

// ---- windows and dialogs ----------------------------------------------------------------------------------------

/** The content of a window entry ({type, name, data, config}) as a DOM element. */
export function renderWindowBody(entry) {
  const config = entry.config || {};
  const data = entry.data;
  const body = el("div", { class: `window-body window-${entry.type || "other"}` });
  try {
    if (entry.type === "imageviewer") {
      const { canvas, caption } = renderImage(data);
      body.append(canvas, el("div", { class: "caption" }, caption));
    } else if (entry.type === "plot") {
      const pick = (k) => config[k] ?? (data && typeof data === "object" ? data[k] : null);
      body.append(renderPlot(data, { title: pick("title"), xlabel: pick("xlabel"), ylabel: pick("ylabel") }));
    } else if (entry.type === "markdown") {
      const text = data && typeof data === "object" && "content" in data ? data.content : data;
      body.append(renderMarkdown(typeof text === "string" ? text : showValue(text)));
    } else {
      const content = data && typeof data === "object" && "content" in data ? data.content : data;
      body.append(el("div", { class: "md" }, showValue(content)));
    }
  } catch (err) {
    body.append(el("div", { class: "window-error" }, `cannot show this ${entry.type} window: ${err.message}`));
  }
  return body;
}

function frame(entry, tag, cls) {
  return el(tag, { class: cls, dataset: { type: entry.dialog ? "show_dialog" : "create_window", plugin: entry.plugin || "",
                                           windowId: entry.id, windowType: entry.type || "" } },
    el("div", { class: "from" }, `${entry.plugin || "page"} · ${entry.type || "window"}`),
    el("b", { class: "window-name" }, entry.name || entry.type || "window"),
    renderWindowBody(entry));
}

const STYLE = `
.window .markdown, .plugin-dialog .markdown { white-space: normal; }
.window .markdown pre, .plugin-dialog .markdown pre { background: #eef1f4; padding: .4rem; overflow: auto; }
.window .markdown :is(h1,h2,h3,h4,h5,h6) { margin: .3rem 0; font-size: 1rem; }
.window-body .caption { font-size: .75rem; color: #667; }
.window-body canvas { display: block; border: 1px solid #ccd; background: #000; }
.window-error { color: #b00020; }
.plugin-dialog { max-width: min(90vw, 44rem); }
.plugin-dialog .window-body { margin: .4rem 0; }
`;

/** api.show_file_dialog: a <dialog> with a file input (config.accept, config.title); resolves with the File or null. */
export function chooseFile(config = {}) {
  const input = el("input", { type: "file", class: "file-input", accept: typeof config.accept === "string" ? config.accept : null });
  const ok = el("button", { value: "ok", class: "primary-sm", disabled: "" }, "Open");
  const dialog = el("dialog", { class: "plugin-dialog file-dialog", dataset: { plugin: config.plugin || "" } },
    el("div", { class: "from" }, `${config.plugin || "page"} · show_file_dialog`),
    el("b", {}, config.title || "Choose a file"),
    el("div", { class: "window-body" }, input),
    el("form", { method: "dialog" }, el("button", { value: "cancel", class: "cancel" }, "Cancel"), " ", ok));
  input.addEventListener("change", () => { ok.disabled = !input.files.length; });
  document.body.append(dialog);
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok" && input.files.length ? input.files[0] : null);
      dialog.remove();
    }, { once: true });
  });
}

/** Draw windows, dialogs and the file dialog of `host` (window.pyapp.plugins) in `container` (default #windows). */
export function installWindows(host, { container = null } = {}) {
  if (!host || typeof host.setHandlers !== "function") return false;
  if (!document.getElementById("pyapp-plugin-windows-style")) {
    document.head.append(el("style", { id: "pyapp-plugin-windows-style" }, STYLE));
  }
  const box = () => container || document.getElementById("windows") || document.body;
  const find = (id) => document.querySelectorAll(`[data-window-id="${CSS.escape(id)}"]`);
  host.setHandlers({
    createWindow(entry) {
      const target = box();
      target.querySelector(":scope > .hint")?.remove();
      target.prepend(frame(entry, "div", "window"));
      return null;
    },
    dialog(entry) {
      const dialog = frame(entry, "dialog", "plugin-dialog");
      const form = el("form", { method: "dialog" }, el("button", { value: "close", class: "close" }, "Close"));
      dialog.append(form);
      dialog.addEventListener("close", () => dialog.remove(), { once: true });
      document.body.append(dialog);
      dialog.showModal();
      return null;   // the plugin goes on at once; its window.close() closes the dialog
    },
    fileDialog(config) {
      return chooseFile(config);
    },
    closeWindow(entry) {
      for (const node of find(entry.id)) {
        if (node.tagName === "DIALOG" && node.open) node.close();
        node.remove();
      }
    },
  });
  return true;
}
