// Workflows: a chain of plugin calls, {name, steps: [{plugin, fn, args}]}. A step's args may hold "$prev" (anywhere
// inside lists and objects): it becomes the previous step's result.
//   validateWorkflow(wf)                         -> wf (throws naming the bad field)
//   await runWorkflow(wf, {plugins, prompt, onStep}) -> {result, results}
//   await encodeWorkflow(wf) / decodeWorkflow(text) -> base64url of deflate-raw JSON (CompressionStream) and back
//   await workflowUrl(wf, base)                  -> base + "#workflow=" + encodeWorkflow(wf)
//   workflowFromHash(hash)                       -> the encoded text after "#workflow=", or null
// Built-in steps (plugin "pyapp"): fn "value" returns args[0]; fn "prompt" asks the user for a number through
// options.prompt(message, default) (the page shows a dialog). They stand in for api.prompt, which the plugin host
// does not offer yet.

export const PREV = "$prev";
export const BUILTIN = "pyapp";

export const EXAMPLE_WORKFLOW = Object.freeze({
  name: "number prompt → calculator",
  description: "Asks for a number, then Calculator adds 2 to it.",
  steps: [
    { plugin: BUILTIN, fn: "prompt", args: ["A number for the Calculator", 40] },
    { plugin: "Calculator", fn: "add", args: [PREV, 2] },
  ],
});

export function validateWorkflow(wf) {
  if (!wf || typeof wf !== "object" || Array.isArray(wf)) throw new Error("a workflow is an object {name, steps}");
  if (typeof wf.name !== "string" || !wf.name.trim()) throw new Error("workflow.name: expected a non-empty string");
  if (!Array.isArray(wf.steps) || !wf.steps.length) throw new Error("workflow.steps: expected a non-empty list");
  wf.steps.forEach((step, i) => {
    const where = `workflow.steps[${i}]`;
    if (!step || typeof step !== "object") throw new Error(`${where}: expected {plugin, fn, args}`);
    if (typeof step.plugin !== "string" || !step.plugin) throw new Error(`${where}.plugin: expected a plugin name`);
    if (typeof step.fn !== "string" || !step.fn) throw new Error(`${where}.fn: expected a function name`);
    if (step.args !== undefined && !Array.isArray(step.args)) throw new Error(`${where}.args: expected a list`);
    if (i === 0 && JSON.stringify(step.args || []).includes(JSON.stringify(PREV))) {
      throw new Error(`${where}.args: "$prev" in the first step has no previous result`);
    }
  });
  return wf;
}

/** Replace every "$prev" inside value by prev. */
export function substitute(value, prev) {
  if (value === PREV) return prev;
  if (Array.isArray(value)) return value.map((v) => substitute(v, prev));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, prev)]));
  }
  return value;
}

async function builtin(step, args, options) {
  if (step.fn === "value") return args[0];
  if (step.fn === "prompt") {
    const [message = "A number", fallback = 0] = args;
    if (!options.prompt) return fallback;
    const answer = await options.prompt(String(message), fallback);
    if (answer === null || answer === undefined) throw new Error("workflow cancelled at the prompt");
    const number = Number(answer);
    if (answer === "" || Number.isNaN(number)) throw new Error(`not a number: ${JSON.stringify(answer)}`);
    return number;
  }
  throw new Error(`no built-in step ${JSON.stringify(step.fn)} (there are "value" and "prompt")`);
}

/** Run the steps in order; each step's "$prev" is the result before it. */
export async function runWorkflow(wf, options = {}) {
  validateWorkflow(wf);
  const plugins = options.plugins || (typeof window !== "undefined" && window.pyapp && window.pyapp.plugins);
  const results = [];
  let prev = null;
  for (const [i, step] of wf.steps.entries()) {
    const args = substitute(step.args || [], prev);
    if (options.onStep) options.onStep({ index: i, step, args, state: "running" });
    try {
      prev = step.plugin === BUILTIN ? await builtin(step, args, options) : await plugins.call(step.plugin, step.fn, args);
    } catch (err) {
      const wrapped = new Error(`step ${i + 1} (${step.plugin}.${step.fn}): ${err.message}`);
      wrapped.remoteTraceback = err.remoteTraceback;
      wrapped.step = i;
      if (options.onStep) options.onStep({ index: i, step, args, state: "error", error: wrapped });
      throw wrapped;
    }
    results.push(prev);
    if (options.onStep) options.onStep({ index: i, step, args, state: "done", result: prev });
  }
  return { result: prev, results };
}

function toBase64Url(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

async function pipe(bytes, stream) {
  const out = new Response(new Blob([bytes]).stream().pipeThrough(stream));
  return new Uint8Array(await out.arrayBuffer());
}

export async function encodeWorkflow(wf) {
  validateWorkflow(wf);
  const json = new TextEncoder().encode(JSON.stringify(wf));
  return toBase64Url(await pipe(json, new CompressionStream("deflate-raw")));
}

/** A workflow link's text, inflated: at most MAX_LINK_CHARS in, MAX_WORKFLOW_BYTES out (a small link cannot
 * inflate into a huge one). */
export const MAX_LINK_CHARS = 32 * 1024;
export const MAX_WORKFLOW_BYTES = 256 * 1024;

async function inflateCapped(bytes) {
  const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw")).getReader();
  const parts = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_WORKFLOW_BYTES) {
      await reader.cancel();
      throw new RangeError(`it inflates to more than ${MAX_WORKFLOW_BYTES} bytes`);
    }
    parts.push(value);
  }
  return new Uint8Array(await new Blob(parts).arrayBuffer());
}

export async function decodeWorkflow(text) {
  if (text.length > MAX_LINK_CHARS) throw new Error(`the workflow link is too long (${text.length} characters, at most ${MAX_LINK_CHARS})`);
  let json;
  try {
    json = new TextDecoder().decode(await inflateCapped(fromBase64Url(text.trim())));
  } catch (err) {
    throw new Error(`the workflow link is damaged (${err.message})`, { cause: err });
  }
  return validateWorkflow(JSON.parse(json));
}

export async function workflowUrl(wf, base) {
  const url = new URL(base);
  url.hash = "";
  url.search = "";
  return `${url.href}#workflow=${await encodeWorkflow(wf)}`;
}

export function workflowFromHash(hash) {
  const m = /^#?workflow=([A-Za-z0-9_-]+)/.exec(hash || "");
  return m ? m[1] : null;
}
