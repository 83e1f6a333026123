// The plugin editor of the workbench (plugins.html): "Edit" on the selected plugin opens its source (from the
// workspace) in CodeMirror 6; "Save & reload" (or Ctrl/Cmd-S) restarts the plugin from the edited source (kill + load)
// and, once it loaded, stores that source in the workspace with its new sha256. When the new source does not load
// (a manifest error, a syntax error, ...), the error's last line shows under the editor, the workspace keeps the old
// source and the old plugin is started again.
// CodeMirror comes from pyapp/editor.bundle.js (build step "editor"), imported on the first "Edit".
// For tests and automation: window.pyapp.workbench.editor = {open(name), save(), close(), view, name, source};
// document.body.dataset.editor is "opening" | "open" | "saving" | "saved" | "error" | "closed".

import host from "./plugins.js";
import * as store from "./workspace.js";
import { workbench, sha256Hex } from "./plugin-panel.js";

const $ = (id) => document.getElementById(id);
let cm = null;                      // the bundle's exports, once loaded

const editor = {
  view: null,                       // the CodeMirror EditorView
  name: null,                       // the plugin being edited
  get source() { return this.view ? this.view.state.doc.toString() : null; },
  open, save, close,
};

function setState(value) {
  document.body.dataset.editor = value;
  $("plugin-editor").dataset.state = value;
}

function showError(message) {
  const box = $("editor-error");
  box.textContent = message || "";
  box.hidden = !message;
}

function setNote(text) {
  $("editor-note").textContent = text || "";
}

/** The last non-empty line of an error or traceback: the line that says what went wrong. */
function oneLine(text) {
  return String(text || "").split("\n").map((l) => l.trim()).filter(Boolean).pop() || "the plugin did not load";
}

async function workspaceEntry(name) {
  const ws = await store.getWorkspace(workbench.state.workspace);
  return ws && ws.plugins[name] ? ws.plugins[name] : null;
}

/** Open the editor on plugin `name` (default: the selected one) with its workspace source. */
async function open(name = workbench.state.selected) {
  const entry = workbench.state.entries.get(name);
  if (!entry) throw new Error(`no plugin named ${JSON.stringify(name)}`);
  setState("opening");
  if (!cm) cm = await import("./editor.bundle.js");
  const saved = await workspaceEntry(name);
  const doc = saved ? saved.source : entry.source || "";
  editor.name = name;
  $("editor-name").textContent = name;
  showError("");
  setNote(saved && saved.sha256 ? `sha256 ${saved.sha256.slice(0, 16)}…` : "");
  $("plugin-editor").hidden = false;
  if (editor.view) editor.view.destroy();
  $("editor-host").replaceChildren();
  editor.view = cm.createEditor($("editor-host"), { doc, onSave: () => report(save()) });
  editor.view.focus();
  setState("open");
  return editor.view;
}

/** Save & reload: restart the plugin from the editor's text; store it in the workspace only when it loaded. */
async function save() {
  if (!editor.view || !editor.name) throw new Error("the editor is not open");
  const oldName = editor.name;
  const source = editor.source;
  setState("saving");
  showError("");
  setNote("reloading…");
  $("editor-save").disabled = true;
  try {
    const sha256 = await sha256Hex(source);
    const before = (await workspaceEntry(oldName)) || { ...workbench.state.entries.get(oldName), name: oldName };
    host.kill(oldName);
    const started = await workbench.startPlugin({ ...before, source, sha256 });
    if (started.status !== "ready") {
      const message = oneLine(started.error);
      if (started.name !== oldName) workbench.state.entries.delete(started.name);
      await workbench.startPlugin(before);          // the old source runs again, the workspace is untouched
      workbench.select(oldName);
      showError(message);
      setNote("not saved: the workspace keeps the previous source");
      setState("error");
      return { ok: false, error: message };
    }
    const ws = workbench.state.workspace;
    if (started.name !== oldName) {                  // renamed in [tool.pyapp]: the workspace follows
      workbench.state.entries.delete(oldName);
      await store.removePlugin(ws, oldName);
    }
    await store.savePlugin(ws, { ...before, name: started.name, source, sha256 });
    editor.name = started.name;
    $("editor-name").textContent = started.name;
    workbench.select(started.name);
    setNote(`saved · sha256 ${sha256.slice(0, 16)}…`);
    setState("saved");
    return { ok: true, name: started.name, sha256 };
  } finally {
    $("editor-save").disabled = false;
  }
}

function close() {
  if (editor.view) editor.view.destroy();
  editor.view = null;
  editor.name = null;
  $("editor-host").replaceChildren();
  $("plugin-editor").hidden = true;
  setState("closed");
}

function report(promise) {
  promise.catch((err) => { showError(err.message); setState("error"); });
}

function wire() {
  $("edit-plugin").addEventListener("click", () => report(open()));
  $("editor-save").addEventListener("click", () => report(save()));
  $("editor-close").addEventListener("click", close);
  // Ctrl/Cmd-S anywhere in the pane (the CodeMirror keymap handles it inside the text)
  $("plugin-editor").addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s" && !e.defaultPrevented) {
      e.preventDefault();
      report(save());
    }
  });
}

if (typeof window !== "undefined" && $("plugin-editor")) {
  workbench.editor = editor;
  wire();
}

export default editor;
