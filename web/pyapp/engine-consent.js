// The consent step before any training data leaves the device: a dialog that lists exactly which images go
// to which host. Nothing is uploaded unless it resolves true.
//   const ok = await askConsent({host, socket, items: [{image, mask, shape, bytes}], bytes});
// Scripts and tests may confirm programmatically with options.consent = (summary) => true | false: they get
// the same summary the dialog shows, and the dialog's wording is the same summary's text (summaryLines).
import { el } from "./page-dom.js";

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

/** The consent text as lines: the host, then one line per image pair (names, size, bytes). */
export function summaryLines(summary) {
  const lines = [`Send ${summary.items.length} training pair${summary.items.length === 1 ? "" : "s"} ` +
                 `(${formatBytes(summary.bytes)}) to ${summary.host}:`];
  for (const item of summary.items) {
    lines.push(`${item.image} + mask ${item.mask} · ${item.shape.join("×")} · ${formatBytes(item.bytes)}`);
  }
  return lines;
}

/** Show the dialog; resolves true only when the user presses "Send to <host>". */
export function showConsentDialog(summary) {
  const lines = summaryLines(summary);
  const list = el("ul", { className: "engine-consent-list" },
    summary.items.map((item, i) => el("li", { textContent: lines[i + 1] })));
  const send = el("button", { type: "button", className: "primary", id: "engine-consent-send",
                              textContent: `Send to ${summary.host}` });
  const cancel = el("button", { type: "button", id: "engine-consent-cancel", textContent: "Cancel" });
  const dialog = el("dialog", { id: "engine-consent", className: "engine-consent" }, [
    el("h2", { textContent: "Send these images for training?" }),
    el("p", { textContent: lines[0] }),
    list,
    el("p", { className: "hint", textContent:
      `Only the images listed here leave this device, and only to ${summary.host} (${summary.socket}). ` +
      "They are kept there with the training job until you delete it. Running a model never sends images anywhere." }),
    el("div", { className: "row engine-consent-buttons" }, [cancel, send]),
  ]);
  dialog.setAttribute("aria-labelledby", "engine-consent-title");
  dialog.querySelector("h2").id = "engine-consent-title";
  document.body.append(dialog);
  document.body.dataset.engineConsent = "asking";
  return new Promise((resolve) => {
    const finish = (answer) => {
      document.body.dataset.engineConsent = answer ? "given" : "refused";
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    send.addEventListener("click", () => finish(true), { once: true });
    cancel.addEventListener("click", () => finish(false), { once: true });
    dialog.addEventListener("cancel", (event) => { event.preventDefault(); finish(false); }, { once: true });
    dialog.showModal();
    cancel.focus();  // the safe choice has the focus
  });
}

/** The consent step: `consent` (a function from options) or the dialog. Resolves true or false. */
export async function askConsent(summary, consent) {
  if (typeof consent === "function") {
    const answer = await consent({ ...summary, lines: summaryLines(summary) });
    document.body.dataset.engineConsent = answer === true ? "given" : "refused";
    return answer === true;
  }
  return showConsentDialog(summary);
}
