// Messages and windows of plugins in the workbench's Windows area, and the page's handlers for their prompts and
// confirmations (the plugin's name is always shown: it comes from the host, not from the plugin).
import host from "./plugins.js";
import { $, el, show } from "./plugin-ui.js";
import { askDialog } from "./plugin-dialogs.js";

export const WINDOW_EVENTS = new Set(["show_message", "alert", "create_window", "window", "message", "show_dialog"]);

export function addWindow(event) {
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

export function installHandlers() {
  if (typeof host.setHandlers !== "function") return false;   // an older host: events only
  host.setHandlers({
    prompt: ({ plugin, message, default: fallback }) => askDialog(`${plugin}: ${message}`, fallback),
    confirm: ({ plugin, message }) => askDialog(`${plugin}: ${message}`, null, false),
    createWindow: (entry) => { addWindowEntry(entry); return null; },
    closeWindow: (entry) => { document.querySelector(`#windows [data-window-id="${CSS.escape(entry.id)}"]`)?.remove(); },
  });
  return true;
}
