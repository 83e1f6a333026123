// Workspaces in IndexedDB: named sets of plugin sources and workflows; the current one loads on page start.
//   await listWorkspaces()                 -> ["default", ...]
//   await getWorkspace(name)               -> {name, plugins: {pluginName: {source, url, sha256, filename, permissions,
//                                              added}},
//                                              workflows: {workflowName: {name, steps}}, created, modified} | null
//   await createWorkspace(name)            -> the new (or existing) workspace
//   await deleteWorkspace(name)
//   await savePlugin(ws, entry) / removePlugin(ws, name) / saveWorkflow(ws, workflow) / removeWorkflow(ws, name)
//   await exportWorkspace(name)            -> JSON text {format: "pyapp-workspace", version: 1, workspace}
//   await importWorkspace(text, {name})    -> the imported workspace (renamed to `name` when given)
//   currentWorkspaceName() / setCurrentWorkspaceName(name)   (kept in localStorage)
// One object store ("workspaces", key: name) in the database "pyapp-workspaces".

const DB_NAME = "pyapp-workspaces";
const STORE = "workspaces";
const CURRENT_KEY = "pyapp.workspace";
export const DEFAULT_WORKSPACE = "default";
export const EXPORT_FORMAT = "pyapp-workspace";

let dbPromise = null;

function openDb() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE, { keyPath: "name" });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return dbPromise;
}

async function tx(mode, fn) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const store = t.objectStore(STORE);
    let result;
    const request = fn(store);
    if (request) request.onsuccess = () => { result = request.result; };
    t.oncomplete = () => resolve(result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error || new Error("IndexedDB transaction aborted"));
  });
}

function checkName(name, what = "workspace") {
  if (typeof name !== "string" || !name.trim()) throw new Error(`a ${what} needs a non-empty name`);
  return name.trim();
}

function blank(name) {
  const now = new Date().toISOString();
  return { name, plugins: {}, workflows: {}, created: now, modified: now };
}

export async function listWorkspaces() {
  const keys = await tx("readonly", (s) => s.getAllKeys());
  return (keys || []).map(String).sort();
}

export async function getWorkspace(name) {
  const ws = await tx("readonly", (s) => s.get(name));
  return ws || null;
}

export async function putWorkspace(ws) {
  checkName(ws.name);
  const record = { ...blank(ws.name), ...ws, modified: new Date().toISOString() };
  await tx("readwrite", (s) => s.put(record));
  return record;
}

export async function createWorkspace(name) {
  name = checkName(name);
  return (await getWorkspace(name)) || putWorkspace(blank(name));
}

export async function deleteWorkspace(name) {
  await tx("readwrite", (s) => s.delete(name));
  if (currentWorkspaceName() === name) setCurrentWorkspaceName(DEFAULT_WORKSPACE);
}

async function update(wsName, change) {
  const ws = (await getWorkspace(wsName)) || blank(checkName(wsName));
  change(ws);
  return putWorkspace(ws);
}

/** entry: {name, source, url, sha256, filename} */
export function savePlugin(wsName, entry) {
  const name = checkName(entry.name, "plugin");
  return update(wsName, (ws) => {
    ws.plugins[name] = { name, source: String(entry.source), url: entry.url || "", sha256: entry.sha256 || "",
                         filename: entry.filename || "plugin.py", permissions: permissionsOf(entry),
                         added: new Date().toISOString() };
  });
}

// The permissions the user approved for a plugin (network:… grants); anything else is dropped.
function permissionsOf(entry) {
  return Array.isArray(entry.permissions) ? entry.permissions.map(String).filter((p) => p.startsWith("network:")) : [];
}

export function removePlugin(wsName, name) {
  return update(wsName, (ws) => { delete ws.plugins[name]; });
}

export function saveWorkflow(wsName, workflow) {
  const name = checkName(workflow.name, "workflow");
  return update(wsName, (ws) => { ws.workflows[name] = JSON.parse(JSON.stringify(workflow)); });
}

export function removeWorkflow(wsName, name) {
  return update(wsName, (ws) => { delete ws.workflows[name]; });
}

export async function exportWorkspace(name) {
  const ws = await getWorkspace(name);
  if (!ws) throw new Error(`no workspace named ${JSON.stringify(name)}`);
  return JSON.stringify({ format: EXPORT_FORMAT, version: 1, workspace: ws }, null, 2);
}

export async function importWorkspace(text, { name = null } = {}) {
  let data;
  try {
    data = typeof text === "string" ? JSON.parse(text) : text;
  } catch (err) {
    throw new Error(`not a workspace export (JSON): ${err.message}`, { cause: err });
  }
  if (!data || data.format !== EXPORT_FORMAT || typeof data.workspace !== "object") {
    throw new Error(`not a workspace export: expected {"format": "${EXPORT_FORMAT}", "workspace": {...}}`);
  }
  const src = data.workspace;
  const ws = blank(checkName(name || src.name));
  for (const [key, p] of Object.entries(src.plugins || {})) {
    if (!p || typeof p.source !== "string") throw new Error(`plugin ${JSON.stringify(key)}: source must be text`);
    ws.plugins[key] = { name: key, source: p.source, url: p.url || "", sha256: p.sha256 || "",
                        filename: p.filename || "plugin.py", permissions: permissionsOf(p), added: p.added || ws.created };
  }
  for (const [key, wf] of Object.entries(src.workflows || {})) {
    if (!wf || !Array.isArray(wf.steps)) throw new Error(`workflow ${JSON.stringify(key)}: steps must be a list`);
    ws.workflows[key] = wf;
  }
  return putWorkspace(ws);
}

export function currentWorkspaceName() {
  try {
    return localStorage.getItem(CURRENT_KEY) || DEFAULT_WORKSPACE;
  } catch {
    return DEFAULT_WORKSPACE;
  }
}

export function setCurrentWorkspaceName(name) {
  try {
    localStorage.setItem(CURRENT_KEY, name);
  } catch { /* private mode: the choice lasts for this page only */ }
}
