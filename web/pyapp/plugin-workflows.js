// The workbench's Workflows card: choose, edit (JSON), run, save and share workflows (workflows.js), and offer one
// opened from a link (#workflow=…).
import host from "./plugins.js";
import * as store from "./workspace.js";
import * as flows from "./workflows.js";
import { $, el, show } from "./plugin-ui.js";
import { askDialog } from "./plugin-dialogs.js";

/** The workflow functions for one workbench; `panel` gives {state, renderWorkspaces}. */
export function createWorkflowsUi({ state, renderWorkspaces }) {
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

  return { renderWorkflowSelect, showWorkflow, editorWorkflow, runWorkflow, saveWorkflow, shareWorkflow,
           offerWorkflowFromHash };
}
