// The workbench's dialogs: questions for plugins (prompt/confirm), names, downloads, and the install dialog that
// every plugin passes before it is saved into a workspace (by URL, from an imported workspace file, or from the
// built-in list): it shows the name, source, sha256 of the bytes fetched and the permissions, as the Python
// manifest parser read them.
import { $, el } from "./plugin-ui.js";

function modal(dialog) {
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true }));
}

/** Ask for a line of text (null when cancelled), or yes/no when `withInput` is false. */
export async function askDialog(message, fallback, withInput = true) {
  $("prompt-message").textContent = message;
  $("prompt-input").hidden = !withInput;
  $("prompt-input").value = fallback == null ? "" : String(fallback);
  const answer = await modal($("prompt-dialog"));
  if (withInput) return answer === "ok" ? $("prompt-input").value : null;
  return answer === "ok";
}

/** Ask for a name (null when cancelled or empty). */
export async function askName(message, fallback = "") {
  $("name-message").textContent = message;
  $("name-input").value = fallback;
  const answer = await modal($("name-dialog"));
  return answer === "ok" ? $("name-input").value.trim() || null : null;
}

export function download(name, text) {
  const a = el("a", { href: URL.createObjectURL(new Blob([text], { type: "application/json" })), download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** A permission in words, for the install dialog. */
export function describePermission(permission) {
  const m = /^network:(.+)$/.exec(permission);
  return m ? `connect to ${m[1]} (what it sends there leaves this device)` : permission;
}

/**
 * The install dialog: {name, source, sha256, workspace, description, permissions, replaces} -> true when the
 * user pressed Install. document.body.dataset.install is "asking" while it is open.
 */
export async function confirmInstall(info) {
  $("install-name").textContent = info.name ? `“${info.name}”` : "";
  $("install-url").textContent = info.source;
  $("install-sha256").textContent = info.sha256;
  $("install-workspace").textContent = info.workspace;
  $("install-description").textContent = info.description || "—";
  const permissions = info.permissions || [];
  $("install-permissions").replaceChildren(...(permissions.length
    ? permissions.map((p) => el("div", { dataset: { permission: p } }, describePermission(p)))
    : [el("span", {}, "none: no network, no access to your other data")]));
  $("install-replaces").textContent = info.replaces || "—";
  $("install-replaces-row").hidden = !info.replaces;
  document.body.dataset.install = "asking";
  const accepted = (await modal($("install-dialog"))) === "accept";
  if (!accepted) document.body.dataset.install = "rejected";
  return accepted;
}
