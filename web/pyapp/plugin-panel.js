// The plugin workbench (plugins.html): plugin list with status and progress, a run form built from each plugin's
// `ui`, windows (messages, alerts, create_window), a log per plugin, restart, workspaces, workflows, built-in
// plugins, a new-plugin template, and installs (by URL: ?plugin=URL&sha256=HEX&w=WORKSPACE&start=NAME, from an
// imported workspace file, or built-in) that always pass the install dialog (plugin-dialogs.js).
// Manifests are read by the Python parser in a sandboxed worker (host.parseManifest), never in the page.
// For tests and automation: window.pyapp.workbench (see the object at the end); document.body.dataset.workbench is
// "ready" once the workspace's plugins were started (each one ready or failed).

import host from "./plugins.js";
import * as store from "./workspace.js";
import * as flows from "./workflows.js";
import { installWindows } from "./plugin-windows.js";
import { $, el, filenameOf, formConfig, parseUi, renderForm, sha256Hex, show } from "./plugin-ui.js";
import { askDialog, askName, download } from "./plugin-dialogs.js";
import { WINDOW_EVENTS, addWindow, installHandlers } from "./plugin-messages.js";
import { createInstaller } from "./plugin-install.js";
import { createWorkflowsUi } from "./plugin-workflows.js";

export { sha256Hex } from "./plugin-ui.js";

// ---- the workbench state ---------------------------------------------------------------------------------------

const state = {
  workspace: null,     // set by main(): ?w=, else the last one used
  entries: new Map(),   // plugin name -> {name, manifest, status, error, source, url, sha256, filename, loadedAt}
  selected: null,
  offered: null,        // a workflow opened from the URL
  workflow: null,       // name of the workflow in the editor
};

const { renderWorkflowSelect, showWorkflow, editorWorkflow, runWorkflow, saveWorkflow, shareWorkflow,
        offerWorkflowFromHash } = createWorkflowsUi({ state, renderWorkspaces: () => renderWorkspaces() });

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

/** Start one plugin from its source (the workspace entry): status loading -> ready | error. Its name, form and
 * description come from the host (the Python parser), its network permissions from what the user approved. */
async function startPlugin(info) {
  const name = info.name;
  const entry = { ...state.entries.get(name), ...info, name, manifest: { name, description: "", ui: "", version: "" },
                  status: "loading", error: "", session: null, loadedAt: Date.now() };
  state.entries.set(name, entry);
  if (!state.selected) state.selected = name;
  renderList();
  try {
    const summary = await host.load(info.source, { filename: info.filename || filenameOf(info.url || "plugin.py"),
                                                  permissions: info.permissions || [] });
    if (summary.name !== name) {           // the parser's name is the truth
      state.entries.delete(name);
      entry.name = summary.name;
      state.entries.set(summary.name, entry);
      if (state.selected === name) state.selected = summary.name;
    }
    entry.session = summary.session;
    entry.status = "ready";
    entry.manifest = summary.manifest || entry.manifest;
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
  $("add-plugin").addEventListener("click", guard(() => installer.installFromUrl($("add-url").value.trim())));
  $("new-plugin").addEventListener("click", guard(() => installer.newPlugin()));
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
    if (file) await installer.importWorkspace(await file.text());
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
  await installer.renderBuiltins();
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
    await guard(() => installer.installFromUrl(pluginUrl, { workspace: state.workspace, start: params.get("start"),
                                                             sha256: params.get("sha256") }))();
  }
}

const installer = createInstaller({ state, startPlugin, switchWorkspace, renderWorkspaces, select, runPlugin, guard });

export const workbench = {
  state, parseUi, sha256Hex, startPlugin, restartPlugin, runPlugin, formConfig,
  installFromUrl: installer.installFromUrl, importWorkspace: installer.importWorkspace, newPlugin: installer.newPlugin,
  switchWorkspace, deleteWorkspace, exportWorkspace: (name = state.workspace) => store.exportWorkspace(name),
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
