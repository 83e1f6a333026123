// Installing plugins into a workspace: from a URL (an install link may pin `&sha256=`), from an imported workspace
// file, from the built-in list, or a new one from the template. Every path shows the install dialog with what the
// Python parser read (name, description, permissions) and the sha256 of the exact bytes; nothing replaces a
// plugin or a workspace without saying so in that dialog.
import host from "./plugins.js";
import * as store from "./workspace.js";
import { $, el, filenameOf, sha256Hex } from "./plugin-ui.js";
import { askName, confirmInstall } from "./plugin-dialogs.js";

export const MAX_PLUGIN_BYTES = 2 * 1024 * 1024;
export const TEMPLATE = `# /// script
# dependencies = ["numpy"]
#
# [tool.pyapp]
# name = "My plugin"
# description = "What it does, in one sentence."
# ui = "Threshold {id: 'threshold', type: 'number', placeholder: 0.5}"
# permissions = []          # e.g. ["network:https://example.org"]: asked for when installed
# ///
"""My plugin: replace this text with what it does (shown as its documentation)."""

import numpy as np
from imjoy import api


class Plugin:
    async def setup(self):
        await api.log("ready")

    async def run(self, ctx):
        image = np.random.default_rng(0).random((64, 64))
        mask = image > float(ctx.config.threshold)
        await api.create_window({"type": "imageviewer", "name": "mask", "data": mask.astype("uint8")})
        return int(mask.sum())


api.export(Plugin())
`;

function decodeText(bytes, where) {
  if (bytes.byteLength > MAX_PLUGIN_BYTES) throw new Error(`${where}: a plugin file is at most ${MAX_PLUGIN_BYTES} bytes, this one has ${bytes.byteLength}`);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${where}: not a UTF-8 text file`);
  }
}

/** Installs for one workbench; `panel` gives {state, startPlugin, switchWorkspace, renderWorkspaces, select, runPlugin}. */
export function createInstaller(panel) {
  const { state } = panel;

  /** Parse, ask, save, start. Returns the started entry, or null when the user said no. */
  async function offer({ source, sha256, origin, url = "", filename, workspace = state.workspace, approve = confirmInstall }) {
    const manifest = await host.parseManifest(source, filename);
    const ws = await store.getWorkspace(workspace);
    const old = ws && ws.plugins[manifest.name];
    const replaces = old && old.sha256 !== sha256 ? `the plugin “${manifest.name}” already in “${workspace}” (from ${old.url || "an earlier install"}, sha256 ${String(old.sha256).slice(0, 16)}…)` : "";
    const ok = await approve({ name: manifest.name, source: origin, sha256, workspace, description: manifest.description,
                               permissions: manifest.permissions, replaces });
    if (!ok) return null;
    const info = { name: manifest.name, source, url, sha256, filename, permissions: manifest.permissions };
    await store.savePlugin(workspace, info);
    if (workspace !== state.workspace) return { name: manifest.name, status: "saved" };
    return panel.startPlugin(info);
  }

  async function installFromUrl(url, { workspace = state.workspace, start = null, sha256: expected = null, approve } = {}) {
    const abs = new URL(url, location.href).href;
    const response = await fetch(abs);
    if (!response.ok) throw new Error(`${abs}: HTTP ${response.status}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const sha256 = await sha256Hex(bytes);
    if (expected && expected.toLowerCase() !== sha256) {
      document.body.dataset.install = "refused";
      throw new Error(`the plugin at ${abs} is not the one the link names: its sha256 is ${sha256}, the link says ${expected}; nothing was installed`);
    }
    if (workspace !== state.workspace) await panel.switchWorkspace(workspace);
    const entry = await offer({ source: decodeText(bytes, abs), sha256, origin: abs, url: abs, filename: filenameOf(abs), approve });
    if (!entry) return null;
    await panel.renderWorkspaces();
    if (entry.status !== "ready") {
      document.body.dataset.install = "error";
      throw new Error(`plugin from ${abs} did not start: ${entry.error.split("\n").filter(Boolean).pop()}`);
    }
    document.body.dataset.install = "installed";
    panel.select(entry.name);
    if (start) {
      if (start !== entry.name) throw new Error(`start=${start}: the installed plugin is named ${JSON.stringify(entry.name)}`);
      await panel.runPlugin(entry.name);
    }
    return entry.name;
  }

  /**
   * Import a workspace file: a new workspace (asks for another name when one of that name exists: never
   * replaced), each plugin through the install dialog (a refused one is left out), then switch to it.
   */
  async function importWorkspace(text, { name = null, approve = confirmInstall } = {}) {
    let data;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new Error(`not a workspace export (JSON): ${err.message}`, { cause: err });
    }
    if (!data || data.format !== store.EXPORT_FORMAT || !data.workspace || typeof data.workspace !== "object") {
      throw new Error(`not a workspace export: expected {"format": "${store.EXPORT_FORMAT}", "workspace": {...}}`);
    }
    let target = name || String(data.workspace.name || "imported");
    const existing = await store.listWorkspaces();
    while (existing.includes(target)) {
      target = await askName(`A workspace “${target}” exists already and is kept. Name for the imported one`, `${target} (imported)`);
      if (!target) return null;
    }
    const plugins = {};
    for (const [key, p] of Object.entries(data.workspace.plugins || {})) {
      if (!p || typeof p.source !== "string") throw new Error(`plugin ${JSON.stringify(key)}: source must be text`);
      const bytes = new TextEncoder().encode(p.source);
      const sha256 = await sha256Hex(bytes);
      const filename = String(p.filename || "plugin.py");
      const manifest = await host.parseManifest(p.source, filename);
      const ok = await approve({ name: manifest.name, source: `workspace file (${p.url || "no URL"})`, sha256,
                                 workspace: target, description: manifest.description, permissions: manifest.permissions });
      if (ok) plugins[manifest.name] = { source: p.source, url: String(p.url || ""), sha256, filename, added: p.added, permissions: manifest.permissions };
    }
    const ws = await store.importWorkspace({ ...data, workspace: { ...data.workspace, plugins } }, { name: target });
    document.body.dataset.install = "imported";
    await panel.switchWorkspace(ws.name);
    return ws;
  }

  async function renderBuiltins() {
    let index;
    try {
      index = await (await fetch(new URL("../plugins/index.json", import.meta.url))).json();
    } catch {
      index = [];
    }
    $("builtin-list").replaceChildren(...index.map((p) => {
      const add = el("button", { type: "button", dataset: { builtin: p.name } }, "Add");
      add.addEventListener("click", () => panel.guard(() => installFromUrl(new URL(`../${p.url}`, import.meta.url).href))());
      return el("li", { dataset: { plugin: p.name } }, el("div", { class: "top" }, el("span", { class: "pname" }, p.name), add),
        p.description ? el("div", { class: "ptext" }, p.description) : null);
    }));
    return index;
  }

  /** A new plugin from the template, under a name not yet in the workspace; opens the editor when there is one. */
  async function newPlugin() {
    const ws = await store.getWorkspace(state.workspace);
    let name = "My plugin";
    for (let i = 2; ws && ws.plugins[name]; i++) name = `My plugin ${i}`;
    const source = TEMPLATE.replace('name = "My plugin"', `name = ${JSON.stringify(name)}`);
    const info = { name, source, url: "", sha256: await sha256Hex(source), filename: "my_plugin.py", permissions: [] };
    await store.savePlugin(state.workspace, info);
    const entry = await panel.startPlugin(info);
    await panel.renderWorkspaces();
    panel.select(entry.name);
    if (window.pyapp.workbench && window.pyapp.workbench.editor) await window.pyapp.workbench.editor.open(entry.name);
    return entry.name;
  }

  return { installFromUrl, importWorkspace, renderBuiltins, newPlugin };
}
