"""The shell on the page's main thread (PyScript, MicroPython): models, runs, results, log, errors.

Everything heavy happens elsewhere: ``window.pyapp.predict`` runs models in the model worker (the page's only
Pyodide), and ``window.pyapp.imaging`` (JavaScript) decodes, crops and draws pixels; arrays stay JavaScript
typed arrays. Images and the camera are :class:`~pyapp.shell.inputs.Inputs`. ``document.body.dataset`` tells
tests what happened: ``runs`` and ``errors`` count finished runs and shown errors, ``state`` is
``ready|running|done|error``, ``model`` and ``image`` name what is chosen.
"""

from pyscript import document, window  # type: ignore[import-not-found]

from .dom import clock, el, js, listen, mark, py, wait
from .inputs import Inputs
from .results import Results, describe_js
from .view import (
    axes_text,
    backend_label,
    channel_names,
    default_channel,
    error_line,
    model_kind,
    top5_html,
    user_message,
)

GROUPS = {"classifier": "Classify (photos, camera)", "segmentation": "Segment", "example": "Examples"}
NARROW = 760  # px: the phone layout (one column); results are scrolled into view there


class Shell(Inputs, Results):
    """The app's state: the chosen model (id or URL) and its description, the current image, the last result."""

    def __init__(self) -> None:
        super().__init__()
        self.api = window.pyapp
        self.entries = {}  # bundled model id -> models/index.json entry
        self.model = None  # id or URL of the chosen model, once described
        self.info = None  # its pyapp.describe() as Python data
        self.info_js = None  # the same as JavaScript returned it (with a packaged sample's bytes)
        self.last = None  # (output, axis ids) of the last segmentation
        self.busy = False
        self.runs = 0
        self.errors = 0

    # -- small UI helpers -------------------------------------------------------------------------
    def on(self, name: str, event: str, handler: object) -> None:
        listen(name, event, handler, self.fail)

    def log(self, text: str) -> None:
        pre = el("log")
        pre.textContent += f"{clock()}  {text}\n"
        pre.scrollTop = pre.scrollHeight

    def status(self, text: str, cls: str = "") -> None:
        el("status").textContent = text
        el("status").className = f"pill {cls}".strip()

    def fail(self, err: object) -> None:
        line = error_line(err)  # the technical line: to the Log; the banner says it for people
        shown = user_message(line, self.task)
        el("error").textContent = shown
        el("error").hidden = False
        el("error").title = shown
        document.body.dataset.state = "error"
        self.errors += 1
        document.body.dataset.errors = str(self.errors)
        self.log(f"error: {line}")

    def clear_error(self) -> None:
        el("error").hidden = True
        el("error").textContent = ""

    def update_run_button(self) -> None:
        el("run").disabled = self.busy or self.model is None or self.image is None

    # -- start --------------------------------------------------------------------------------------
    async def start(self) -> None:
        for name, event, handler in (
            ("model", "change", self.on_model), ("load-url", "click", self.on_model_url),
            ("run", "click", self.on_run), ("opacity", "input", self.redraw), ("channel", "change", self.redraw),
            ("install", "click", self.on_install),
        ):
            self.on(name, event, handler)
        self.listen_inputs()
        self.listen_results()
        el("log-panel").open = window.innerWidth >= NARROW  # phones: results first, the log on demand
        self.status("Starting model worker…")
        await self.list_models()  # a file read: the list shows while the worker's Python starts
        info = await wait(self.api.ready)
        self.status("Ready", "ok")
        self.log(f"model worker: Pyodide {info.pyodide} in {round(info.bootMs)} ms; "
                 f"cross-origin isolated: {bool(info.crossOriginIsolated)}")
        first = el("model").value
        if first in self.entries:
            await self.choose(first)
        mark("app-ready")
        if first in self.entries and self.image is None and model_kind(self.entries[first]) == "segmentation" \
                and self.info.get("sample"):
            try:  # the default nucleus model opens with its sample: one click to a result
                await self.on_sample(None)
                mark("sample-shown")
            except Exception as err:  # the page works without it
                self.log(f"sample not opened: {error_line(err)}")
        document.body.dataset.state = "ready"
        document.body.dataset.runs = "0"
        self.offline_note()

    def offline_note(self) -> None:
        offline = getattr(self.api, "offline", None)
        if offline is not None:
            offline.ready.then(lambda s: self.log(f"offline ready: {s.files} files cached ({s.cache})") if s else None,
                               lambda _err: None)  # pwa.js warns about a failure itself

    async def list_models(self) -> None:
        entries = py(await wait(self.api.models()))
        self.entries = {e["id"]: e for e in entries}
        kinds = ("segmentation", "classifier", "example")
        rank = {e["id"]: (kinds.index(model_kind(e)), i) for i, e in enumerate(entries)}
        order = sorted(entries, key=lambda e: rank[e["id"]])  # kinds in order, the index's order within (stable)
        select = el("model")
        select.innerHTML = ""
        groups = {}
        for entry in order:
            kind = model_kind(entry)
            if kind not in groups:
                groups[kind] = document.createElement("optgroup")
                groups[kind].label = GROUPS[kind]
                select.appendChild(groups[kind])
            option = document.createElement("option")
            option.value, option.textContent = entry["id"], entry["name"]
            groups[kind].appendChild(option)
        self.log(f"{len(entries)} bundled models: {', '.join(e['id'] for e in order)}")
        if order:  # the default: the first segmenter with a sample (the classifier is the camera's)
            first = next((e for e in order if model_kind(e) == "segmentation" and e.get("sample")), order[0])
            select.value = first["id"]
            el("model-info").textContent = first["description"]

    # -- model ----------------------------------------------------------------------------------------
    async def choose(self, model: str) -> None:
        """Describe ``model`` and make it the chosen one; when that fails the previous model stays chosen."""
        self.task = "model"
        entry = self.entries.get(model)
        el("run").disabled = True
        try:
            raw = await wait(self.api.describe(model))
            info = describe_js(self.api, raw)
            if info.get("cannot_run"):  # no ONNX weights: say so (and how to convert) before a run fails
                raise ValueError(info["cannot_run"])
        except Exception:
            el("model").value = self.model or ""
            self.update_run_button()
            raise
        self.clear_result()
        self.model, self.info, self.info_js = model, info, raw
        document.body.dataset.model = model
        described = f"{self.info['name']}: {self.info['description']}"
        el("model-info").textContent = entry["description"] if entry else described
        el("sample-btn").hidden = not (self.info.get("sample") or (entry and entry.get("sample")))
        self.segments = (model_kind(entry) if entry else self.info["kind"]) == "segmentation"
        el("find-objects-box").hidden = not self.segments
        self.show_card(self.info, entry["url"] if entry else model)
        self.log(f"model {model}: {self.info['kind']}, input {axes_text(self.info['inputs'][0])}")
        self.model_changed()
        self.update_run_button()

    async def on_model(self, _evt: object) -> None:
        self.clear_error()
        await self.choose(el("model").value)

    async def on_model_url(self, _evt: object) -> None:
        url = el("model-url").value.strip()
        if not url:
            raise ValueError("enter the URL of a bioimageio.yaml, rdf.yaml or model zip")
        self.clear_error()
        self.log(f"loading model {url}")
        await self.choose(url)
        if any(o.value == url for o in el("model").options):
            el("model").value = url
            return
        option = document.createElement("option")
        option.value, option.textContent = url, f"{self.info['name']} (URL)"
        el("model").appendChild(option)
        el("model").value = url

    async def use_classifier(self) -> None:
        """Switch to the first bundled classifier unless one is chosen (the camera's buttons)."""
        if self.info and self.info["kind"] == "classifier":
            return
        ids = [i for i, e in self.entries.items() if model_kind(e) == "classifier"]
        if not ids:
            raise ValueError("no bundled classifier: the camera classifies with a model of kind 'classifier'")
        el("model").value = ids[0]
        await self.choose(ids[0])

    # -- run ------------------------------------------------------------------------------------------
    async def on_run(self, _evt: object) -> None:
        await self.run()

    async def run(self) -> None:
        if self.busy:
            return
        if self.model is None or self.image is None:
            raise ValueError("choose a model and open an image first")
        self.busy, self.task = True, "run"
        self.update_run_button()
        self.clear_error()
        document.body.dataset.state = "running"
        el("progress").value, el("progress-text").textContent = 0, "starting…"
        try:
            options = {"labels": True} if self.wants_labels() else {}
            result = await self.predict_input(options)  # every plane of a stack, progress, Cancel: inputs.py
            if result is not None:
                self.show(result)
        except Exception:
            el("progress-text").textContent = "failed"
            raise
        finally:
            self.busy = False
            self.update_run_button()

    def show(self, result: object) -> None:
        backend = backend_label(result.backend)
        el("backend").textContent, el("backend").hidden = f"ran on {backend}", False
        output = result.outputs[0]
        shape = py(output.shape)
        ms = round(result.ms)
        el("output-caption").textContent = f"{output.id} · {' × '.join(str(s) for s in shape)} · {ms} ms"
        el("progress-text").textContent = f"done in {ms} ms on {backend}"
        el("output-placeholder").hidden = True
        if self.info["kind"] == "classifier":
            names = channel_names(self.info["outputs"][0]) or None
            top = py(self.api.imaging.topK(output, js(names), 5))
            el("top5").innerHTML = top5_html(top)
            el("top5").hidden, el("output-canvas").hidden, el("overlay-controls").hidden = False, True, True
            el("results").hidden, el("object-count").hidden = True, True
            best = ", ".join(f"{t['label'].split(',')[0]} {t['p']:.2f}" for t in top[:3])
            self.log(f"{backend}, {ms} ms: {best}")
        else:
            axes = [a["id"] if a["type"] != "channel" else "channel" for a in self.info["outputs"][0]["axes"]]
            self.last = (output, axes)
            self.show_objects(result)
            self.channel_options()
            self.redraw()
            el("top5").hidden, el("output-canvas").hidden, el("overlay-controls").hidden = True, False, False
            self.log(f"{backend}, {ms} ms: {output.id} {shape}")
        self.runs += 1
        document.body.dataset.runs = str(self.runs)
        document.body.dataset.state = "done"
        if window.innerWidth < NARROW and self.image != "camera":
            el("drop").scrollIntoView()

    def channel_options(self) -> None:
        names = channel_names(self.info["outputs"][0])
        select = el("channel")
        select.innerHTML = ""
        for i, name in enumerate(names or ["output"]):
            option = document.createElement("option")
            option.value, option.textContent = str(i), name
            select.appendChild(option)
        select.value = str(default_channel(names))  # e.g. background/nucleus: the nucleus
        el("overlay-controls").querySelector("label").hidden = len(names) < 2

    def redraw(self, _evt: object = None) -> None:
        if self.last is None:
            return
        output, axes = self.last
        base = el("input-canvas") if self.image is not None else None
        options = {"channel": int(el("channel").value or 0), "opacity": float(el("opacity").value), "base": base}
        drawn = self.api.imaging.drawOverlay(el("output-canvas"), output, js(axes), js(options))
        el("opacity").parentElement.hidden = not drawn.overlay
        self.outline()

    # -- a new input clears the old result (the input handlers are Inputs'; these wrap them) ------------------
    async def show_file(self, file: object) -> None:
        self.task = "image"
        self.clear_result()
        el("run").disabled = True  # until the new image is shown
        try:
            await Inputs.show_file(self, file)
        finally:
            self.update_run_button()

    async def on_camera(self, evt: object) -> None:
        self.task = "camera"
        self.clear_result()
        await Inputs.on_camera(self, evt)

    def on_camera_stop(self, evt: object) -> None:
        Inputs.on_camera_stop(self, evt)
        if el("input-canvas").hidden:
            el("input-caption").textContent = ""

    async def on_sample(self, _evt: object) -> None:
        """Open the chosen model's sample (or test) input: from the model's folder, or inside its zip."""
        self.task = "image"
        entry = self.entries.get(self.model or "", {})
        if self.info and self.info.get("sample"):
            file = await wait(self.api.results.sampleFile(self.info_js))
        elif entry.get("sample"):
            await Inputs.on_sample(self, _evt)
            return
        else:
            raise ValueError("this model declares no sample or test input")
        await self.show_file(file)

    async def on_install(self, _evt: object) -> None:
        accepted = await wait(self.api.offline.install())
        self.log("app installed" if accepted else "install dismissed")


async def main() -> Shell:
    """Start the shell on the current page (called by the ``<script type="mpy">`` in index.html)."""
    mark("shell-start")
    shell = Shell()
    window.pyappShell = shell
    try:
        await shell.start()
    except Exception as err:  # the page says that it could not start, in one line
        shell.status("Failed to start", "bad")
        shell.fail(err)
    return shell
