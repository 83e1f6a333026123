// The plugin workbench (plugins.html): plugin list with status and progress, a run form built from each plugin's
// `ui`, windows (messages, alerts, create_window), a log per plugin, restart, workspaces, workflows and install by
// URL (?plugin=URL&w=WORKSPACE&start=NAME, after a confirmation that shows the URL and the source's sha256).
// Uses only the plugin host's public API (window.pyapp.plugins: load, list, call, kill, events).
// For tests and automation: window.pyapp.workbench (see the object at the end); document.body.dataset.workbench is
// "ready" once the workspace's plugins were started (each one ready or failed).

import host from "./plugins.js";
import * as store from "./workspace.js";
import * as flows from "./workflows.js";
import { installWindows } from "./plugin-windows.js";

// ---- reading a plugin's manifest in the page (the subset the UI needs) ------------------------------------------

/** Parse one TOML value at text[i] (strings, numbers, booleans, arrays, inline tables); returns [value, next]. */
function tomlValue(text, i) {
  const skip = () => {
    for (;;) {
      while (i < text.length && /\s/.test(text[i])) i++;
      if (text[i] === "#") while (i < text.length && text[i] !== "\n") i++;
      else return;
    }
  };
  skip();
  const c = text[i];
  if (c === '"' && text.startsWith('"""', i)) {
    const end = text.indexOf('"""', i + 3);
    return [text.slice(i + 3, end).replace(/^\n/, ""), end + 3];
  }
  if (c === "'" && text.startsWith("'''", i)) {
    const end = text.indexOf("'''", i + 3);
    return [text.slice(i + 3, end).replace(/^\n/, ""), end + 3];
  }
  if (c === '"') {
    let j = i + 1;
    while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
    return [JSON.parse(text.slice(i, j + 1)), j + 1];
  }
  if (c === "'") {
    const end = text.indexOf("'", i + 1);
    return [text.slice(i + 1, end), end + 1];
  }
  if (c === "[" || c === "{") {
    const close = c === "[" ? "]" : "}";
    const out = c === "[" ? [] : {};
    i++;
    for (;;) {
      skip();
      if (text[i] === close) return [out, i + 1];
      if (text[i] === ",") { i++; continue; }
      if (i >= text.length) throw new Error("unterminated TOML value");
      if (c === "[") {
        const [v, j] = tomlValue(text, i);
        out.push(v);
        i = j;
      } else {
        const m = /^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[\w.-]+)\s*=/.exec(text.slice(i));
        if (!m) throw new Error("bad inline table");
        const key = m[1].startsWith('"') ? JSON.parse(m[1]) : m[1].replace(/^'|'$/g, "");
        const [v, j] = tomlValue(text, i + m[0].length);
        out[key] = v;
        i = j;
      }
    }
  }
  const m = /^[^,\]}\s#]+/.exec(text.slice(i));
  const raw = m ? m[0] : "";
  const value = raw === "true" ? true : raw === "false" ? false : Number.isNaN(Number(raw)) ? raw : Number(raw);
  return [value, i + raw.length];
}

/** {name, version, description, ui} from a PEP 723 [tool.pyapp] table or an ImJoy <config lang="json">. */
export function readManifest(source) {
  const out = { name: "", version: "", description: "", ui: "" };
  const config = /<config[^>]*lang=["']?json["']?[^>]*>([\s\S]*?)<\/config>/i.exec(source);
  if (config) {
    try {
      const c = JSON.parse(config[1]);
      for (const k of Object.keys(out)) if (c[k] != null) out[k] = c[k];
    } catch { /* the host reports the error when it loads the plugin */ }
    return out;
  }
  const yaml = /<config[^>]*>([\s\S]*?)<\/config>/i.exec(source);
  if (yaml) {
    for (const k of Object.keys(out)) {
      const m = new RegExp(`^${k}\\s*:\\s*(.+)$`, "m").exec(yaml[1]);
      if (m) out[k] = m[1].trim().replace(/^(["'])(.*)\1$/, "$2");
    }
    return out;
  }
  const block = /^# \/\/\/ script[ \t]*\r?\n([\s\S]*?)^# \/\/\/[ \t]*$/m.exec(source);
  if (!block) return out;
  const toml = block[1].split(/\r?\n/).map((l) => l.replace(/^# ?/, "")).join("\n");
  const section = /^\[tool\.pyapp\][ \t]*$/m.exec(toml);
  if (!section) return out;
  let body = toml.slice(section.index + section[0].length);
  const next = /^\[[^\]]+\][ \t]*$/m.exec(body);
  if (next) body = body.slice(0, next.index);
  for (const key of Object.keys(out)) {
    const m = new RegExp(`^${key}[ \\t]*=`, "m").exec(body);
    if (!m) continue;
    try {
      out[key] = tomlValue(body, m.index + m[0].length)[0];
    } catch { /* leave the default */ }
  }
  return out;
}

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

// ---- helpers ---------------------------------------------------------------------------------------------------

export async function sha256Hex(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function filenameOf(url) {
  try {
    return decodeURIComponent(new URL(url, location.href).pathname.split("/").pop()) || "plugin.py";
  } catch {
    return "plugin.py";
  }
}

function show(value) {
  if (value === undefined) return "undefined";
  try {
    const text = JSON.stringify(value, (k, v) => (typeof v === "bigint" ? v.toString() : ArrayBuffer.isView(v)
      ? `[${v.constructor.name} × ${v.length}]` : typeof v === "function" ? `[function ${v.name}]` : v));
    return text === undefined ? String(value) : text;
  } catch {
    return String(value);
  }
}

const $ = (id) => document.getElementById(id);
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

// ---- the workbench state ---------------------------------------------------------------------------------------

const state = {
  workspace: null,     // set by main(): ?w=, else the last one used
  entries: new Map(),   // plugin name -> {name, manifest, status, error, source, url, sha256, filename, loadedAt}
  selected: null,
  offered: null,        // a workflow opened from the URL
  workflow: null,       // name of the workflow in the editor
};

function setError(message) {
  const box = $("wb-error");
  box.textContent = message || "";
  box.hidden = !message;
  if (message) document.body.dataset.errors = String(Number(document.body.dataset.errors || 0) + 1);
}

function setStatus(text, cls = "") {
  const pill = $("wb-status");
  pill.textContent = text;
  pill.className = `pill ${cls}`.trim();
}

// The host's status wins once it knows the plugin: ready, killed, crashed, failed.
function statusOf(entry) {
  const live = host.list().find((p) => p.name === entry.name && p.session === entry.session);
  if (live && live.status !== "ready") return { status: live.status === "killed" ? "killed" : "error", live };
  if (live) return { status: "ready", live };
  return { status: entry.status, live: null };
}

function renderList() {
  const list = $("plugin-list");
  list.replaceChildren();
  for (const entry of state.entries.values()) {
    const { status, live } = statusOf(entry);
    const progress = live && typeof live.progress === "number" ? live.progress : null;
    const text = entry.error ? entry.error.split("\n")[0] : live && live.statusText ? live.statusText : entry.manifest.description;
    const item = el("li", { class: entry.name === state.selected ? "selected" : "", dataset: { plugin: entry.name, status },
                            tabindex: "0" },
      el("div", { class: "top" }, el("span", { class: "pname" }, entry.name), el("span", { class: `status ${status}` }, status)),
      text ? el("div", { class: "ptext" }, text) : null,
      progress !== null ? el("progress", { value: String(progress > 1 ? progress / 100 : progress), max: "1" }) : null);
    item.addEventListener("click", () => select(entry.name));
    item.addEventListener("keydown", (e) => { if (e.key === "Enter") select(entry.name); });
    list.append(item);
  }
  $("plugin-list-empty").hidden = state.entries.size > 0;
  renderDetailStatus();
}

function renderDetailStatus() {
  const entry = state.entries.get(state.selected);
  if (!entry) return;
  const { status } = statusOf(entry);
  const badge = $("detail-status");
  badge.textContent = status;
  badge.className = `status ${status}`;
  $("plugin-detail").dataset.status = status;
  $("run-plugin").disabled = status !== "ready";
  $("kill-plugin").disabled = status !== "ready";
}

function renderLog() {
  const entry = state.entries.get(state.selected);
  if (!entry) return;
  const lines = host.events.filter((e) => e.plugin === entry.name && e.time >= entry.loadedAt - 1)
    .map((e) => `${new Date(e.time).toLocaleTimeString()} ${e.type}: ${e.args.filter((a) => a !== null).map((a) => (typeof a === "string" ? a : show(a))).join(" ")}`);
  if (entry.error) lines.push(`error: ${entry.error}`);
  $("plugin-log").textContent = lines.join("\n");
}

function renderForm(entry) {
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
function formConfig() {
  const config = {};
  for (const input of $("run-form").querySelectorAll("[name]")) {
    const raw = input.value === "" && input.placeholder ? input.placeholder : input.value;
    config[input.name] = input.dataset.type === "number" ? (raw === "" ? null : Number(raw)) : raw;
  }
  return config;
}

function select(name) {
  state.selected = name;
  const entry = state.entries.get(name);
  $("plugin-detail").hidden = !entry;
  if (!entry) { renderList(); return; }
  $("plugin-detail").dataset.plugin = name;
  $("detail-name").textContent = entry.manifest.version ? `${name} ${entry.manifest.version}` : name;
  $("detail-description").textContent = entry.manifest.description || "";
  $("detail-source").textContent = entry.url ? `from ${entry.url}${entry.sha256 ? ` · sha256 ${entry.sha256.slice(0, 16)}…` : ""}` : "";
  $("run-result").textContent = "";
  $("run-result").className = "result";
  renderForm(entry);
  renderList();
  renderLog();
}

// ---- plugins ---------------------------------------------------------------------------------------------------

/** Start one plugin from its source (the workspace entry): status loading -> ready | error. */
async function startPlugin(info) {
  const manifest = readManifest(info.source);
  const name = manifest.name || info.name;
  const entry = { ...state.entries.get(name), ...info, name, manifest, status: "loading", error: "", session: null,
                  loadedAt: Date.now() };
  state.entries.set(name, entry);
  if (!state.selected) state.selected = name;
  renderList();
  try {
    const summary = await host.load(info.source, { filename: info.filename || filenameOf(info.url || "plugin.py") });
    if (summary.name !== name) {           // the host's name is the truth (e.g. a header the page did not read)
      state.entries.delete(name);
      entry.name = summary.name;
      state.entries.set(summary.name, entry);
      if (state.selected === name) state.selected = summary.name;
    }
    entry.session = summary.session;
    entry.status = "ready";
    entry.description = summary.description;
    if (!entry.manifest.description) entry.manifest.description = summary.description || "";
  } catch (err) {
    entry.status = "error";
    entry.error = err.remoteTraceback || err.message;
  }
  if (state.selected === entry.name) select(entry.name);
  else renderList();
  return entry;
}

async function restartPlugin(name) {
  const entry = state.entries.get(name);
  if (!entry) throw new Error(`no plugin named ${JSON.stringify(name)}`);
  host.kill(name);
  return startPlugin(entry);
}

async function runPlugin(name = state.selected, config = null) {
  const out = $("run-result");
  if (name !== state.selected) select(name);
  const cfg = config || formConfig();
  out.className = "result";
  out.textContent = "running…";
  $("plugin-detail").dataset.run = "running";
  try {
    const result = await host.call(name, "run", [{ config: cfg, data: {} }]);
    out.textContent = show(result);
    $("plugin-detail").dataset.run = "done";
    return result;
  } catch (err) {
    out.textContent = err.message;
    out.className = "result bad";
    out.title = err.remoteTraceback || "";
    $("plugin-detail").dataset.run = "error";
    throw err;
  } finally {
    renderLog();
  }
}

async function loadWorkspacePlugins() {
  const ws = await store.getWorkspace(state.workspace);
  const entries = ws ? Object.values(ws.plugins) : [];
  await Promise.all(entries.map((p) => startPlugin(p)));
}

// ---- windows ---------------------------------------------------------------------------------------------------

const WINDOW_EVENTS = new Set(["show_message", "alert", "create_window", "window", "message", "show_dialog"]);

function addWindow(event) {
  const box = $("windows");
  box.querySelector(":scope > .hint")?.remove();
  const [first] = event.args;
  let body;
  if (event.type === "create_window" || event.type === "window") {
    const spec = first && typeof first === "object" ? first : { data: first };
    const content = spec.data && typeof spec.data === "object" && "content" in spec.data ? spec.data.content
      : spec.content ?? spec.data;
    body = el("div", {}, el("b", {}, spec.name || spec.type || "window"), el("div", { class: "md" },
      typeof content === "string" ? content : show(content)));
  } else {
    body = el("div", { class: "md" }, typeof first === "string" ? first : show(first));
  }
  box.prepend(el("div", { class: `window ${event.type === "alert" ? "alert" : ""}`, dataset: { type: event.type, plugin: event.plugin } },
    el("div", { class: "from" }, `${event.plugin} · ${event.type}`), body));
}

/** A window a plugin opened (api.create_window / show_dialog, through the host's createWindow handler). */
function addWindowEntry(entry) {
  const box = $("windows");
  box.querySelector(":scope > .hint")?.remove();
  const data = entry.data;
  const content = data && typeof data === "object" && "content" in data ? data.content : data;
  const node = el("div", { class: "window", dataset: { type: entry.dialog ? "show_dialog" : "create_window",
                                                       plugin: entry.plugin || "", windowId: entry.id } },
    el("div", { class: "from" }, `${entry.plugin || "page"} · ${entry.type || "window"}`),
    el("b", {}, entry.name || entry.type || "window"),
    el("div", { class: "md" }, content == null ? "" : typeof content === "string" ? content : show(content)));
  box.prepend(node);
}

function askDialog(message, fallback, withInput = true) {
  const dialog = $("prompt-dialog");
  $("prompt-message").textContent = message;
  $("prompt-input").hidden = !withInput;
  $("prompt-input").value = fallback == null ? "" : String(fallback);
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok" ? (withInput ? $("prompt-input").value : true)
      : (withInput ? null : false)), { once: true });
  });
}

function installHandlers() {
  if (typeof host.setHandlers !== "function") return false;   // an older host: events only
  host.setHandlers({
    prompt: ({ plugin, message, default: fallback }) => askDialog(`${plugin}: ${message}`, fallback),
    confirm: ({ plugin, message }) => askDialog(`${plugin}: ${message}`, null, false),
    createWindow: (entry) => { addWindowEntry(entry); return null; },
    closeWindow: (entry) => { document.querySelector(`#windows [data-window-id="${CSS.escape(entry.id)}"]`)?.remove(); },
  });
  return true;
}

// ---- workspaces ------------------------------------------------------------------------------------------------

async function renderWorkspaces() {
  const names = await store.listWorkspaces();
  if (!names.includes(state.workspace)) names.push(state.workspace);
  const pick = $("workspace");
  pick.replaceChildren(...names.sort().map((n) => el("option", { value: n }, n)));
  pick.value = state.workspace;
  const ws = await store.getWorkspace(state.workspace);
  const n = ws ? Object.keys(ws.plugins).length : 0;
  const m = ws ? Object.keys(ws.workflows).length : 0;
  $("ws-info").textContent = `“${state.workspace}”: ${n} plugin${n === 1 ? "" : "s"}, ${m} workflow${m === 1 ? "" : "s"}`;
  document.body.dataset.workspace = state.workspace;
  await renderWorkflowSelect();
}

/** Switch to another workspace: stop this one's plugins, start the other's. */
async function switchWorkspace(name) {
  await store.createWorkspace(name);
  for (const entry of state.entries.values()) host.kill(entry.name);
  state.entries.clear();
  state.selected = null;
  $("plugin-detail").hidden = true;
  state.workspace = name;
  store.setCurrentWorkspaceName(name);
  document.body.dataset.workbench = "starting";
  await renderWorkspaces();
  renderList();
  await loadWorkspacePlugins();
  document.body.dataset.workbench = "ready";
}

async function deleteWorkspace(name = state.workspace) {
  await store.deleteWorkspace(name);
  const left = await store.listWorkspaces();
  if (name === state.workspace) await switchWorkspace(left[0] || store.DEFAULT_WORKSPACE);
  else await renderWorkspaces();
}

async function importWorkspace(text, options = {}) {
  const ws = await store.importWorkspace(text, options);
  await switchWorkspace(ws.name);
  return ws;
}

function download(name, text) {
  const a = el("a", { href: URL.createObjectURL(new Blob([text], { type: "application/json" })), download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

function askName(message, fallback = "") {
  const dialog = $("name-dialog");
  $("name-message").textContent = message;
  $("name-input").value = fallback;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok" ? $("name-input").value.trim() || null : null),
      { once: true });
  });
}

// ---- workflows -------------------------------------------------------------------------------------------------

async function renderWorkflowSelect() {
  const ws = await store.getWorkspace(state.workspace);
  const saved = ws ? Object.keys(ws.workflows).sort() : [];
  const pick = $("workflow-select");
  const example = flows.EXAMPLE_WORKFLOW.name;
  pick.replaceChildren(el("option", { value: "" }, "— choose —"),
    ...saved.map((n) => el("option", { value: n }, n)),
    saved.includes(example) ? null : el("option", { value: `example:${example}` }, `${example} (example)`));
  pick.value = state.workflow && saved.includes(state.workflow) ? state.workflow : "";
}

function showWorkflow(wf) {
  $("workflow-json").value = JSON.stringify(wf, null, 2);
  $("workflow-result").textContent = "";
  $("share-url").hidden = true;
}

function editorWorkflow() {
  return flows.validateWorkflow(JSON.parse($("workflow-json").value));
}

function promptNumber(message, fallback) {
  return askDialog(message, fallback);
}

async function runWorkflow(wf, out = $("workflow-result")) {
  out.className = "result";
  out.textContent = "running…";
  document.body.dataset.workflow = "running";
  try {
    const { result } = await flows.runWorkflow(wf, {
      plugins: host, prompt: promptNumber,
      onStep: ({ index, state: s }) => { if (s === "running") out.textContent = `step ${index + 1} of ${wf.steps.length}…`; },
    });
    out.textContent = show(result);
    document.body.dataset.workflow = "done";
    return result;
  } catch (err) {
    out.textContent = err.message;
    out.className = "result bad";
    document.body.dataset.workflow = "error";
    throw err;
  }
}

async function saveWorkflow(wf) {
  flows.validateWorkflow(wf);
  await store.saveWorkflow(state.workspace, wf);
  state.workflow = wf.name;
  await renderWorkspaces();
}

async function shareWorkflow(wf) {
  const url = await flows.workflowUrl(wf, location.href);
  const box = $("share-url");
  box.value = url;
  box.hidden = false;
  try { await navigator.clipboard.writeText(url); } catch { /* no permission: the link is shown */ }
  return url;
}

async function offerWorkflowFromHash() {
  const encoded = flows.workflowFromHash(location.hash);
  if (!encoded) return null;
  const wf = await flows.decodeWorkflow(encoded);
  state.offered = wf;
  $("offer-name").textContent = wf.name;
  $("offer-steps").textContent = wf.steps.map((s, i) => `${i + 1}. ${s.plugin}.${s.fn}(${(s.args || []).map(show).join(", ")})`).join("\n");
  $("workflow-offer").hidden = false;
  showWorkflow(wf);
  return wf;
}

// ---- install by URL --------------------------------------------------------------------------------------------

/** Fetch a plugin, ask (dialog with URL + sha256), then save it into the workspace and start it. */
async function installFromUrl(url, { workspace = state.workspace, start = null } = {}) {
  const abs = new URL(url, location.href).href;
  const response = await fetch(abs);
  if (!response.ok) throw new Error(`${abs}: HTTP ${response.status}`);
  const source = await response.text();
  const sha256 = await sha256Hex(source);
  const manifest = readManifest(source);
  const dialog = $("install-dialog");
  $("install-name").textContent = manifest.name ? `“${manifest.name}”` : "";
  $("install-url").textContent = abs;
  $("install-sha256").textContent = sha256;
  $("install-workspace").textContent = workspace;
  $("install-description").textContent = manifest.description || "—";
  dialog.returnValue = "";
  document.body.dataset.install = "asking";
  dialog.showModal();
  const answer = await new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true }));
  if (answer !== "accept") {
    document.body.dataset.install = "rejected";
    return null;
  }
  if (workspace !== state.workspace) await switchWorkspace(workspace);
  const info = { name: manifest.name || filenameOf(abs), source, url: abs, sha256, filename: filenameOf(abs) };
  document.body.dataset.install = "loading";
  await store.savePlugin(workspace, info);
  const entry = await startPlugin(info);
  if (entry.name !== info.name) {          // the host read another name than the page: keep the host's
    await store.removePlugin(workspace, info.name);
    await store.savePlugin(workspace, { ...info, name: entry.name });
  }
  await renderWorkspaces();
  if (entry.status !== "ready") {
    document.body.dataset.install = "error";
    throw new Error(`plugin from ${abs} did not start: ${entry.error.split("\n").filter(Boolean).pop()}`);
  }
  document.body.dataset.install = "installed";
  select(entry.name);
  if (start) {
    if (start !== entry.name) throw new Error(`start=${start}: the installed plugin is named ${JSON.stringify(entry.name)}`);
    await runPlugin(entry.name);
  }
  return entry.name;
}

// ---- wiring ----------------------------------------------------------------------------------------------------

function guard(fn) {
  return async (...args) => {
    try {
      setError("");
      return await fn(...args);
    } catch (err) {
      setError(err.message);
      return undefined;
    }
  };
}

function wire() {
  $("run-plugin").addEventListener("click", guard(() => runPlugin()));
  $("run-form").addEventListener("submit", (e) => { e.preventDefault(); guard(() => runPlugin())(); });
  $("restart-plugin").addEventListener("click", guard(() => restartPlugin(state.selected)));
  $("kill-plugin").addEventListener("click", () => { host.kill(state.selected); renderList(); });
  $("remove-plugin").addEventListener("click", guard(async () => {
    const name = state.selected;
    host.kill(name);
    state.entries.delete(name);
    await store.removePlugin(state.workspace, name);
    select([...state.entries.keys()][0] || null);
    await renderWorkspaces();
  }));
  $("add-plugin").addEventListener("click", guard(() => installFromUrl($("add-url").value.trim())));
  $("workspace").addEventListener("change", guard((e) => switchWorkspace(e.target.value)));
  $("ws-new").addEventListener("click", guard(async () => {
    const name = await askName("Name of the new workspace");
    if (name) await switchWorkspace(name);
  }));
  $("ws-delete").addEventListener("click", guard(async () => {
    if (await askDialog(`Delete the workspace “${state.workspace}” with its plugins and workflows?`, null, false)) {
      await deleteWorkspace();
    }
  }));
  $("ws-export").addEventListener("click", guard(async () => download(`${state.workspace}.pyapp-workspace.json`,
    await store.exportWorkspace(state.workspace))));
  $("ws-import").addEventListener("change", guard(async (e) => {
    const file = e.target.files[0];
    if (file) await importWorkspace(await file.text());
    e.target.value = "";
  }));
  $("workflow-select").addEventListener("change", guard(async (e) => {
    const value = e.target.value;
    if (value.startsWith("example:")) { state.workflow = null; showWorkflow(flows.EXAMPLE_WORKFLOW); return; }
    const ws = await store.getWorkspace(state.workspace);
    if (ws && ws.workflows[value]) { state.workflow = value; showWorkflow(ws.workflows[value]); }
  }));
  $("workflow-new").addEventListener("click", () => {
    state.workflow = null;
    showWorkflow({ name: "my workflow", steps: [{ plugin: "Calculator", fn: "add", args: [1, 2] },
                                                  { plugin: "Calculator", fn: "mul", args: [flows.PREV, 10] }] });
  });
  $("workflow-delete").addEventListener("click", guard(async () => {
    const name = $("workflow-select").value;
    if (!name || name.startsWith("example:")) return;
    await store.removeWorkflow(state.workspace, name);
    state.workflow = null;
    await renderWorkspaces();
  }));
  $("run-workflow").addEventListener("click", guard(() => runWorkflow(editorWorkflow())));
  $("save-workflow").addEventListener("click", guard(() => saveWorkflow(editorWorkflow())));
  $("share-workflow").addEventListener("click", guard(() => shareWorkflow(editorWorkflow())));
  $("offer-run").addEventListener("click", guard(() => runWorkflow(state.offered)));
  $("offer-save").addEventListener("click", guard(() => saveWorkflow(state.offered)));
  $("offer-dismiss").addEventListener("click", () => {
    $("workflow-offer").hidden = true;
    history.replaceState(null, "", location.pathname + location.search);
  });
  window.addEventListener("hashchange", guard(offerWorkflowFromHash));
  const handled = installHandlers() && installWindows(host);
  window.addEventListener("pyapp-plugin-event", (e) => {
    const windowEvent = e.detail.type === "create_window" || e.detail.type === "show_dialog";
    if (WINDOW_EVENTS.has(e.detail.type) && !(handled && windowEvent)) addWindow(e.detail);
    if (e.detail.plugin === state.selected) renderLog();
    renderList();
  });
  // kills and crashes do not raise events: look at the host's statuses now and then
  setInterval(() => { if (state.entries.size) renderList(); }, 500);
}

async function main() {
  wire();
  const params = new URLSearchParams(location.search);
  state.workspace = params.get("w") || store.currentWorkspaceName();
  await store.createWorkspace(state.workspace);
  store.setCurrentWorkspaceName(state.workspace);
  await renderWorkspaces();
  showWorkflow(flows.EXAMPLE_WORKFLOW);
  setStatus("Starting plugins…");
  await loadWorkspacePlugins();
  const failed = [...state.entries.values()].filter((e) => e.status === "error").length;
  setStatus(failed ? `${failed} plugin${failed === 1 ? "" : "s"} failed` : "Ready", failed ? "bad" : "ok");
  await guard(offerWorkflowFromHash)();
  document.body.dataset.workbench = "ready";
  const pluginUrl = params.get("plugin");
  if (pluginUrl) {
    // the query is consumed: a reload does not ask again
    history.replaceState(null, "", location.pathname + location.hash);
    await guard(() => installFromUrl(pluginUrl, { workspace: state.workspace, start: params.get("start") }))();
  }
}

export const workbench = {
  state, readManifest, parseUi, sha256Hex, startPlugin, restartPlugin, runPlugin, installFromUrl, formConfig,
  switchWorkspace, deleteWorkspace, importWorkspace, exportWorkspace: (name = state.workspace) => store.exportWorkspace(name),
  getWorkspace: (name = state.workspace) => store.getWorkspace(name), listWorkspaces: () => store.listWorkspaces(),
  runWorkflow, saveWorkflow, shareWorkflow, select,
  status: (name) => (state.entries.get(name) ? statusOf(state.entries.get(name)).status : null),
};

if (typeof window !== "undefined" && document.getElementById("plugin-list")) {
  window.pyapp = window.pyapp || {};
  window.pyapp.workbench = workbench;
  workbench.ready = main().catch((err) => {
    setError(`The workbench did not start: ${err.message}`);
    document.body.dataset.workbench = "error";
    throw err;
  });
}
