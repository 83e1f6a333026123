// The "Browse the zoo" panel: the bioimage.io collection as cards (cover, name, tags), searched by text, tag
// and modality; "Load" puts a model into the app's Model menu (kept for offline use). Built on first use by
// zoo.js; every action goes through window.pyapp.zoo. document.body.dataset.zoo tells tests what happened:
// "listed:<n>", "offline:<n>", "loaded:<model id>" or "error".
import zoo from "./zoo.js";
import { el, log } from "./page-dom.js";

const PAGE = 48;  // cards drawn at once (covers are fetched for these only)
let panel = null;

class ZooPanel {
  constructor() {
    this.models = [];
    this.covers = [];
    this.collection = el("input", { id: "zoo-collection", type: "url", value: zoo.collectionUrl() });
    this.text = el("input", { id: "zoo-search", type: "search", placeholder: "nucleus, affable-shark, unet…",
                              ariaLabel: "Search the zoo" });
    this.tag = el("select", { id: "zoo-tag", ariaLabel: "Tag" });
    this.modality = el("select", { id: "zoo-modality", ariaLabel: "Modality" });
    this.key = el("input", { id: "zoo-key", type: "text", placeholder: "id or nickname, e.g. affable-shark",
                             ariaLabel: "Model id or nickname" });
    this.message = el("p", { id: "zoo-message", className: "byom-message", role: "status" });
    this.cards = el("ul", { id: "zoo-cards", className: "zoo-cards" });
    const refresh = el("button", { id: "zoo-refresh", type: "button", textContent: "Show models" });
    const loadKey = el("button", { id: "zoo-load-key", type: "button", textContent: "Load" });
    const close = el("button", { type: "button", className: "ghost", id: "zoo-close", textContent: "Close" });
    const forget = el("button", { type: "button", className: "ghost", id: "zoo-forget",
                                  textContent: "Forget downloaded models" });
    const field = (text, hint, input) => el("label", { className: "byom-field" }, [
      el("span", { textContent: text }), input, el("small", { textContent: hint })]);
    this.root = el("aside", { id: "zoo-panel", className: "byom-panel wide", ariaLabel: "Browse the zoo" }, [
      el("header", {}, [el("h2", { textContent: "Browse the zoo" }), close]),
      el("p", { className: "hint", textContent: "Models of the BioImage Model Zoo (bioimage.io). A model you load " +
        "is kept on this device and loads again without a network. Models without ONNX weights cannot run in " +
        "the browser: they are marked, with how to convert them." }),
      el("section", {}, [
        field("Collection", "Where the list of models comes from (bioimage.io's collection.json by default).",
              this.collection),
        el("div", { className: "row" }, [refresh])]),
      el("section", {}, [
        field("Search", "Words in the name, id, nickname, description or tags.", this.text),
        el("div", { className: "row byom-two" }, [
          field("Tag", "Only models with this tag.", this.tag),
          field("Modality", "Only models for this kind of imaging.", this.modality)]),
        field("Load by id or nickname", "The zoo's id (e.g. 10.5281/zenodo.5764892) or nickname.", this.key),
        el("div", { className: "row" }, [loadKey])]),
      this.message, this.cards,
      el("section", {}, [el("p", { className: "hint", textContent: "Downloaded models, covers and the list are " +
        "kept on this device for offline use." }), forget]),
    ]);
    document.body.append(this.root);
    close.addEventListener("click", () => this.toggle(false));
    this.root.addEventListener("keydown", (e) => { if (e.key === "Escape") this.toggle(false); });
    forget.addEventListener("click", () => this.guard(async () => {
      await zoo.forget();
      this.say("Forgotten: models load from the network again.", "ok");
    }));
    refresh.addEventListener("click", () => this.guard(() => this.refresh()));
    for (const input of [this.text, this.tag, this.modality]) input.addEventListener("input", () => this.draw());
    loadKey.addEventListener("click", () => this.guard(() => this.load(this.key.value)));
    this.key.addEventListener("keydown", (e) => e.key === "Enter" && this.guard(() => this.load(this.key.value)));
  }

  say(text, cls = "") {
    this.message.textContent = text;
    this.message.className = `byom-message ${cls}`.trim();
  }

  async guard(action) {
    try {
      await action();
    } catch (err) {
      this.say(err.message, "bad");
      log(`zoo: ${err.message}`);
      document.body.dataset.zoo = "error";
    }
  }

  toggle(open = !this.root.classList.contains("open")) {
    this.root.classList.toggle("open", open);
    if (open && !this.models.length) this.guard(() => this.refresh());
  }

  async refresh() {
    const url = this.collection.value.trim() || zoo.DEFAULT_COLLECTION;
    zoo.setCollectionUrl(url);
    this.say("Reading the collection…");
    const seq = this.seq = (this.seq || 0) + 1;
    let listing;
    try {
      listing = await zoo.list({ collection: url });
    } catch (err) {
      if (seq === this.seq) throw err;
      return;  // a newer request (another collection) answers instead
    }
    if (seq !== this.seq) return;
    this.models = listing.models;
    const options = (select, values, all) => {
      const keep = select.value;
      select.replaceChildren(el("option", { value: "", textContent: all }),
        ...[...new Set(values)].sort().map((v) => el("option", { value: v, textContent: v })));
      select.value = keep;
    };
    options(this.tag, this.models.flatMap((m) => m.tags), "any tag");
    options(this.modality, this.models.flatMap((m) => m.modalities), "any modality");
    const count = (runs) => this.models.filter((m) => m.runs === runs).length;
    const unknown = count(null);
    this.say(`${this.models.length} models: ${count(true)} run here, ${count(false)} cannot run in the browser` +
             (unknown ? `, ${unknown} do not list their weights` : "") +
             (listing.offline ? " (offline: the list kept from your last visit)" : "") + ".",
             listing.offline ? "warn" : "ok");
    log(`zoo: ${this.models.length} models from ${url}${listing.offline ? " (kept copy, offline)" : ""}`);
    document.body.dataset.zoo = `${listing.offline ? "offline" : "listed"}:${this.models.length}`;
    this.draw();
  }

  draw() {
    for (const url of this.covers) URL.revokeObjectURL(url);
    this.covers = [];
    const found = zoo.search(this.models, { text: this.text.value, tag: this.tag.value,
                                            modality: this.modality.value });
    this.cards.replaceChildren(...found.slice(0, PAGE).map((m) => this.card(m)));
    this.cards.dataset.count = String(found.length);
    if (found.length > PAGE) this.cards.append(el("li", { className: "hint", textContent: `${found.length - PAGE} more: narrow the search.` }));
  }

  card(m) {
    const img = el("img", { alt: "", width: 96, height: 72, loading: "lazy" });
    zoo.cover(m).then((url) => { if (url) { this.covers.push(url); img.src = url; } });
    const state = m.runs === false ? el("span", { className: "zoo-badge bad", textContent: "cannot run in the browser" })
      : m.runs === null ? el("span", { className: "zoo-badge", textContent: "weights not listed" })
        : el("span", { className: "zoo-badge ok", textContent: "runs here (ONNX)" });
    const load = el("button", { type: "button", textContent: "Load", className: "zoo-load" });
    load.dataset.key = m.key;
    load.addEventListener("click", () => this.guard(() => this.load(m.key)));
    const item = el("li", { className: "zoo-card" }, [img, el("div", {}, [
      el("b", { textContent: m.name }), el("small", { textContent: m.nickname ? ` ${m.nickname}` : ` ${m.id}` }),
      el("p", { className: "hint", textContent: m.description.slice(0, 160) }),
      el("div", { className: "zoo-tags", textContent: m.tags.slice(0, 6).join(" · ") }), state,
      m.runs === false ? el("p", { className: "hint", textContent: `To use it: ${zoo.convertHint(m)}.` }) : "",
      m.runs === false ? "" : load])]);
    item.dataset.key = m.key;
    return item;
  }

  async load(key) {
    if (!key || !key.trim()) throw new Error("Load by id or nickname: enter a model's id or nickname");
    if (!this.models.length) await this.refresh();
    this.say(`Loading ${key}…`);
    const id = await zoo.load(key.trim());
    this.say(`${key} is loaded and chosen in the Model menu (kept for offline use): open an image and press Run model.`, "ok");
    log(`zoo: ${key} loaded as ${id}`);
    document.body.dataset.zoo = `loaded:${id}`;
  }
}

export function togglePanel(open) {
  if (!panel) panel = new ZooPanel();
  panel.toggle(open);
  return panel;
}
