// Small pieces of the plugin workbench's page: DOM helpers, the run form built from a plugin's `ui` (ImJoy's
// "{id: 'a', type: 'number', ...}" elements, parsed without eval), hashing.

/** Parse an ImJoy ui element "{id: 'a', type: 'number', placeholder: 1, options: ['x']}" (no eval). */
export function parseUiElement(text) {
  let i = 0;
  const ws = () => { while (/\s/.test(text[i] || "")) i++; };
  function value() {
    ws();
    const c = text[i];
    if (c === "'" || c === '"') {
      let s = "";
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === "\\") i++;
        s += text[i++];
      }
      i++;
      return s;
    }
    if (c === "[") {
      i++;
      const out = [];
      for (;;) {
        ws();
        if (text[i] === "]") { i++; return out; }
        if (text[i] === ",") { i++; continue; }
        if (i >= text.length) throw new Error("unterminated list");
        out.push(value());
      }
    }
    if (c === "{") {
      i++;
      const out = {};
      for (;;) {
        ws();
        if (text[i] === "}") { i++; return out; }
        if (text[i] === ",") { i++; continue; }
        if (i >= text.length) throw new Error("unterminated element");
        const key = /^['"]?([\w$-]+)['"]?\s*:/.exec(text.slice(i));
        if (!key) throw new Error(`bad key at ${JSON.stringify(text.slice(i, i + 12))}`);
        i += key[0].length;
        out[key[1]] = value();
      }
    }
    const m = /^[^,\]}\s]+/.exec(text.slice(i)) || [""];
    i += m[0].length;
    const raw = m[0];
    if (raw === "true" || raw === "false") return raw === "true";
    if (raw === "null" || raw === "undefined") return null;
    return Number.isNaN(Number(raw)) ? raw : Number(raw);
  }
  return value();
}

/** The ui field (a string, or a list of strings and one-key tables) as [{kind: "text"|"input", ...}]. */
export function parseUi(ui) {
  const parts = [];
  const chunks = [];
  for (const item of Array.isArray(ui) ? ui : [ui]) {
    if (typeof item === "string") chunks.push([item, null]);
    else if (item && typeof item === "object") for (const [k, v] of Object.entries(item)) chunks.push([String(v), k]);
  }
  for (const [text, label] of chunks) {
    let pending = label ? `${label}` : "";
    let i = 0;
    while (i < text.length) {
      const start = text.indexOf("{", i);
      if (start < 0) { pending += text.slice(i); break; }
      let depth = 0;
      let end = start;
      let quote = null;
      for (; end < text.length; end++) {
        const ch = text[end];
        if (quote) { if (ch === "\\") end++; else if (ch === quote) quote = null; continue; }
        if (ch === "'" || ch === '"') quote = ch;
        else if (ch === "{") depth++;
        else if (ch === "}" && --depth === 0) break;
      }
      pending += text.slice(i, start);
      try {
        const el = parseUiElement(text.slice(start, end + 1));
        if (el && typeof el === "object" && el.id) {
          parts.push({ kind: "input", label: pending.trim().replace(/:$/, "").trim() || String(el.id), ...el });
        }
      } catch (err) {
        parts.push({ kind: "text", text: `(ui element not understood: ${err.message})` });
      }
      pending = "";
      i = end + 1;
    }
    if (pending.trim()) parts.push({ kind: "text", text: pending.trim() });
  }
  return parts;
}

/** The sha256 (hex) of the bytes given (text is hashed as UTF-8). */
export async function sha256Hex(bytesOrText) {
  const bytes = typeof bytesOrText === "string" ? new TextEncoder().encode(bytesOrText) : bytesOrText;
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function filenameOf(url) {
  try {
    return decodeURIComponent(new URL(url, location.href).pathname.split("/").pop()) || "plugin.py";
  } catch {
    return "plugin.py";
  }
}

export function show(value) {
  if (value === undefined) return "undefined";
  try {
    const text = JSON.stringify(value, (k, v) => (typeof v === "bigint" ? v.toString() : ArrayBuffer.isView(v)
      ? `[${v.constructor.name} × ${v.length}]` : typeof v === "function" ? `[function ${v.name}]` : v));
    return text === undefined ? String(value) : text;
  } catch {
    return String(value);
  }
}

export const $ = (id) => document.getElementById(id);
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

/** The run form of a plugin, from its manifest's `ui`. */
export function renderForm(entry) {
  const form = $("run-form");
  form.replaceChildren();
  for (const part of parseUi(entry.manifest.ui || "")) {
    if (part.kind === "text") { form.append(el("span", { class: "text" }, part.text)); continue; }
    let input;
    const type = String(part.type || "string").toLowerCase();
    if (type === "choose" || type === "select" || Array.isArray(part.options)) {
      input = el("select", { name: part.id, "data-type": "choose" },
        ...(part.options || []).map((o) => el("option", { value: String(o) }, String(o))));
      if (part.placeholder != null) input.value = String(part.placeholder);
    } else {
      input = el("input", { name: part.id, "data-type": type === "number" ? "number" : "string",
                            type: type === "number" ? "number" : "text", step: type === "number" ? "any" : null,
                            placeholder: part.placeholder != null ? String(part.placeholder) : null,
                            value: part.placeholder != null ? String(part.placeholder) : null });
    }
    form.append(el("label", {}, part.label, input));
  }
  if (!form.children.length) form.append(el("span", { class: "hint" }, "This plugin's run() takes no form values."));
}

/** The run form's values, by id (ctx.config). */
export function formConfig() {
  const config = {};
  for (const input of $("run-form").querySelectorAll("[name]")) {
    const raw = input.value === "" && input.placeholder ? input.placeholder : input.value;
    config[input.name] = input.dataset.type === "number" ? (raw === "" ? null : Number(raw)) : raw;
  }
  return config;
}
