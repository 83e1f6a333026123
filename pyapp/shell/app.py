"""The shell's DOM wiring on the page's main thread (PyScript): open, pick, run, show; camera; log.

Everything heavy happens elsewhere: ``window.pyapp.predict`` runs models in the model worker, and
``window.pyapp.imaging`` (JavaScript) decodes, crops and draws pixels. Arrays stay JavaScript typed arrays.
``document.body.dataset`` tells tests what happened: ``runs`` and ``errors`` count finished runs and shown
errors, ``state`` is ``ready|running|done|error``, ``model`` and ``image`` name what is chosen.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pyodide.ffi import create_proxy, to_js  # type: ignore[import-not-found]
from pyscript import document, window  # type: ignore[import-not-found]

from .view import backend_label, error_line, model_kind, progress_text, top5_html

GROUPS = {"classifier": "Classify (photos, camera)", "segmentation": "Segment", "example": "Examples"}
NARROW = 760  # px: the phone layout (one column); results are scrolled into view there


def js(obj: Any) -> Any:
    """A Python dict/list as a plain JavaScript object/array."""
    return to_js(obj, dict_converter=window.Object.fromEntries)


def el(name: str) -> Any:
    return document.getElementById(name)


class Shell:
    """The app's state: the chosen model (id or URL), the current image, the last result."""

    def __init__(self) -> None:
        self.api = window.pyapp
        self.entries: dict[str, dict[str, Any]] = {}
        self.model: str | None = None
        self.info: dict[str, Any] | None = None
        self.image: Any = None  # a decodeFile() result, or "camera"
        self.size: tuple[int, int] | None = None
        self.last: tuple[Any, list[str]] | None = None  # (output, its axis ids) of the last segmentation
        self.busy = False
        self.runs = 0
        self.errors = 0
        self._proxies: list[Any] = []

    # -- small UI helpers -------------------------------------------------------------------------
    def on(self, name: str, event: str, handler: Any) -> None:
        async def guarded(evt: Any) -> None:
            try:
                result = handler(evt)
                if asyncio.iscoroutine(result):
                    await result
            except Exception as err:  # every failure ends as one visible line; the app stays usable
                self.fail(err)

        proxy = create_proxy(guarded)
        self._proxies.append(proxy)
        el(name).addEventListener(event, proxy)

    def log(self, text: str) -> None:
        pre = el("log")
        pre.textContent += f"{time.strftime('%H:%M:%S')}  {text}\n"
        pre.scrollTop = pre.scrollHeight

    def status(self, text: str, cls: str = "") -> None:
        el("status").textContent = text
        el("status").className = f"pill {cls}".strip()

    def fail(self, err: object) -> None:
        line = error_line(err)
        el("error").textContent = line
        el("error").hidden = False
        el("error").title = line
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
            ("file", "change", self.on_file), ("camera-btn", "click", self.on_camera),
            ("sample-btn", "click", self.on_sample), ("model", "change", self.on_model),
            ("load-url", "click", self.on_model_url), ("run", "click", self.on_run),
            ("snap", "click", self.on_snap), ("continuous", "change", self.on_live),
            ("camera-stop", "click", self.on_camera_stop), ("opacity", "input", self.redraw),
            ("channel", "change", self.redraw), ("install", "click", self.on_install),
            ("drop", "dragover", self.on_dragover), ("drop", "dragleave", self.on_dragleave),
            ("drop", "drop", self.on_drop),
        ):
            self.on(name, event, handler)
        el("log-panel").open = window.innerWidth >= NARROW  # phones: results first, the log on demand
        self.status("Starting model worker…")
        info = await self.api.ready
        self.status("Ready", "ok")
        self.log(f"model worker: Pyodide {info.pyodide} in {round(info.bootMs)} ms; "
                 f"cross-origin isolated: {bool(info.crossOriginIsolated)}")
        await self.load_models()
        document.body.dataset.state = "ready"
        document.body.dataset.runs = "0"
        self.offline_note()

    def offline_note(self) -> None:
        offline = getattr(self.api, "offline", None)
        if offline is not None:
            offline.ready.then(create_proxy(
                lambda s: self.log(f"offline ready: {s.files} files cached ({s.cache})") if s else None))

    async def load_models(self) -> None:
        entries = (await self.api.models()).to_py()
        self.entries = {e["id"]: e for e in entries}
        order = sorted(entries, key=lambda e: ("classifier", "segmentation", "example").index(model_kind(e)))
        select = el("model")
        select.innerHTML = ""
        groups: dict[str, Any] = {}
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
        if order:
            select.value = order[0]["id"]
            await self.choose(order[0]["id"])

    # -- model ----------------------------------------------------------------------------------------
    async def choose(self, model: str) -> None:
        self.model, self.info = None, None
        document.body.dataset.model = ""
        self.update_run_button()
        entry = self.entries.get(model)
        el("model-info").textContent = entry["description"] if entry else model
        self.info = (await self.api.describe(model)).to_py()
        self.model = model
        document.body.dataset.model = model
        if not entry:
            el("model-info").textContent = f"{self.info['name']}: {self.info['description']}"
        sample = entry.get("sample") if entry else None
        el("sample-btn").hidden = not sample
        self.log(f"model {model}: {self.info['kind']}, input {self.axes_text(self.info['inputs'][0])}")
        self.update_run_button()

    @staticmethod
    def axes_text(tensor: dict[str, Any]) -> str:
        def size(axis: dict[str, Any]) -> str:
            s = axis.get("size")
            return str(s) if isinstance(s, int) else "n" if s is None else f"{s['min']}+{s['step']}n"

        return " × ".join(f"{a['id']}:{size(a)}" for a in tensor["axes"])

    async def on_model(self, _evt: Any) -> None:
        self.clear_error()
        await self.choose(el("model").value)

    async def on_model_url(self, _evt: Any) -> None:
        url = el("model-url").value.strip()
        if not url:
            raise ValueError("enter the URL of a bioimageio.yaml, rdf.yaml or model zip")
        self.clear_error()
        self.log(f"loading model {url}")
        await self.choose(url)
        option = document.createElement("option")
        option.value, option.textContent = url, f"{self.info['name']} (URL)"
        el("model").appendChild(option)
        el("model").value = url

    # -- images ---------------------------------------------------------------------------------------
    async def show_file(self, file: Any) -> None:
        self.clear_error()
        self.stop_camera()
        image = await self.api.imaging.decodeFile(file)
        canvas = el("input-canvas")
        if image.kind == "pixels":
            self.api.imaging.drawBitmap(canvas, image.bitmap, image.width, image.height)
            self.size = (image.width, image.height)
        else:
            grey = await self.api.preview(image.url)
            self.api.imaging.drawGrey(canvas, grey)
            self.size = (grey.shape[1], grey.shape[0])
        self.image = image
        document.body.dataset.image = image.name
        canvas.hidden, el("placeholder").hidden = False, True
        el("input-caption").textContent = f"{image.name} · {self.size[0]}×{self.size[1]}"
        el("image-info").textContent = f"{image.name} ({self.size[0]}×{self.size[1]})"
        self.log(f"opened {image.name} ({self.size[0]}×{self.size[1]})")
        self.update_run_button()

    async def on_file(self, evt: Any) -> None:
        files = evt.target.files
        if files.length:
            await self.show_file(files.item(0))
        evt.target.value = ""

    def on_dragover(self, evt: Any) -> None:
        evt.preventDefault()
        el("drop").classList.add("dragging")

    def on_dragleave(self, _evt: Any) -> None:
        el("drop").classList.remove("dragging")

    async def on_drop(self, evt: Any) -> None:
        evt.preventDefault()
        el("drop").classList.remove("dragging")
        if evt.dataTransfer.files.length:
            await self.show_file(evt.dataTransfer.files.item(0))

    async def on_sample(self, _evt: Any) -> None:
        entry = self.entries.get(self.model or "", {})
        url = entry.get("sample")
        response = await window.fetch(url)
        if not response.ok:
            raise OSError(f"{url}: HTTP {response.status}")
        blob = await response.blob()
        name = url.rsplit("/", 1)[-1]
        await self.show_file(window.File.new([blob], name, js({"type": blob.type})))

    # -- camera ---------------------------------------------------------------------------------------
    async def on_camera(self, _evt: Any) -> None:
        self.clear_error()
        video = el("camera-video")
        await self.api.camera.start(video)
        video.hidden, el("input-canvas").hidden, el("placeholder").hidden = False, True, True
        el("camera-controls").hidden = False
        self.image = "camera"
        self.size = (video.videoWidth, video.videoHeight)
        el("input-caption").textContent = f"camera · {self.size[0]}×{self.size[1]}"
        self.log(f"camera on ({self.size[0]}×{self.size[1]})")
        self.update_run_button()

    def stop_camera(self) -> None:
        el("continuous").checked = False
        if self.image == "camera":
            self.api.camera.stop()
            self.image = None
        el("camera-video").hidden = True
        el("camera-controls").hidden = True

    def on_camera_stop(self, _evt: Any) -> None:
        self.stop_camera()
        el("placeholder").hidden = not el("input-canvas").hidden
        self.update_run_button()

    async def use_classifier(self) -> None:
        if self.info and self.info["kind"] == "classifier":
            return
        ids = [i for i, e in self.entries.items() if model_kind(e) == "classifier"]
        if not ids:
            raise ValueError("no bundled classifier: the camera classifies with a model of kind 'classifier'")
        el("model").value = ids[0]
        await self.choose(ids[0])

    async def on_snap(self, _evt: Any) -> None:
        await self.use_classifier()
        await self.run()

    async def on_live(self, evt: Any) -> None:
        if not evt.target.checked:
            return
        await self.use_classifier()
        self.log("live classification on")
        while el("continuous").checked and self.image == "camera":
            try:
                await self.run()
            except Exception as err:
                el("continuous").checked = False
                raise err
            await asyncio.sleep(0.2)
        self.log("live classification off")

    # -- run ------------------------------------------------------------------------------------------
    def input_for_model(self) -> tuple[Any, str | None]:
        """The image as pyapp.predict takes it, and its axes."""
        assert self.info is not None
        imaging = self.api.imaging
        if self.image == "camera":
            source, w, h = el("camera-video"), self.size[0], self.size[1]
        elif self.image.kind == "url":
            return self.image.url, None
        else:
            source, w, h = self.image.bitmap, self.image.width, self.image.height
        tensor = self.info["inputs"][0]
        if self.info["kind"] == "classifier":
            sizes = [a["size"] for a in tensor["axes"] if a["id"] in ("y", "x") and isinstance(a["size"], int)]
            return imaging.pixels(source, w, h, js({"size": min(sizes) if sizes else 224, "channels": 3})), "yxc"
        channel = next((a for a in tensor["axes"] if a["type"] == "channel"), None)
        n = len(channel.get("channel_names") or []) or channel.get("size") or 1 if channel else 1
        if self.image == "camera":
            imaging.drawBitmap(el("input-canvas"), source, w, h)  # the frame that is segmented
        return imaging.pixels(source, w, h, js({"channels": 1 if n == 1 else 3})), "yx" if n == 1 else "yxc"

    async def on_run(self, _evt: Any) -> None:
        await self.run()

    async def run(self) -> None:
        if self.busy:
            return
        if self.model is None or self.image is None:
            raise ValueError("choose a model and open an image first")
        self.busy = True
        self.update_run_button()
        self.clear_error()
        document.body.dataset.state = "running"
        el("progress").value, el("progress-text").textContent = 0, "starting…"

        def progress(done: int, total: int, message: str = "") -> None:
            el("progress").max, el("progress").value = max(int(total), 1), int(done)
            el("progress-text").textContent = progress_text(done, total, message or "")

        on_progress = create_proxy(progress)
        try:
            image, axes = self.input_for_model()
            options = {"onProgress": on_progress} | ({"axes": axes} if axes else {})
            result = await self.api.predict(self.model, image, js(options))
            self.show(result)
        except Exception:
            el("progress-text").textContent = "failed"
            raise
        finally:
            on_progress.destroy()
            self.busy = False
            self.update_run_button()

    def show(self, result: Any) -> None:
        backend = backend_label(result.backend)
        el("backend").textContent, el("backend").hidden = f"ran on {backend}", False
        output = result.outputs[0]
        shape = list(output.shape.to_py())
        el("output-caption").textContent = f"{output.id} · {' × '.join(map(str, shape))} · {round(result.ms)} ms"
        el("progress-text").textContent = f"done in {round(result.ms)} ms on {backend}"
        el("output-placeholder").hidden = True
        assert self.info is not None
        if self.info["kind"] == "classifier":
            channel = next((a for a in self.info["outputs"][0]["axes"] if a["type"] == "channel"), {})
            top = self.api.imaging.topK(output, js(channel.get("channel_names") or None), 5).to_py()
            el("top5").innerHTML = top5_html(top)
            el("top5").hidden, el("output-canvas").hidden, el("overlay-controls").hidden = False, True, True
            self.log(f"{backend}, {round(result.ms)} ms: " + ", ".join(f"{t['label'].split(',')[0]} {t['p']:.2f}"
                                                                     for t in top[:3]))
        else:
            axes = [a["id"] if a["type"] != "channel" else "channel" for a in self.info["outputs"][0]["axes"]]
            self.last = (output, axes)
            self.channel_options()
            self.redraw()
            el("top5").hidden, el("output-canvas").hidden, el("overlay-controls").hidden = True, False, False
            self.log(f"{backend}, {round(result.ms)} ms: {output.id} {shape}")
        self.runs += 1
        document.body.dataset.runs = str(self.runs)
        document.body.dataset.state = "done"
        if window.innerWidth < NARROW and self.image != "camera":
            el("drop").scrollIntoView()

    def channel_options(self) -> None:
        assert self.info is not None
        channel = next((a for a in self.info["outputs"][0]["axes"] if a["type"] == "channel"), None)
        names = list(channel.get("channel_names") or []) if channel else []
        if channel and not names and isinstance(channel.get("size"), int):
            names = [f"channel {i}" for i in range(channel["size"])]
        select = el("channel")
        select.innerHTML = ""
        for i, name in enumerate(names or ["output"]):
            option = document.createElement("option")
            option.value, option.textContent = str(i), name
            select.appendChild(option)
        select.value = str(len(names) - 1 if len(names) == 2 else 0)  # e.g. background/nucleus: the nucleus
        el("overlay-controls").querySelector("label").hidden = len(names) < 2

    def redraw(self, _evt: Any = None) -> None:
        if self.last is None:
            return
        output, axes = self.last
        base = el("input-canvas") if self.image is not None else None
        drawn = self.api.imaging.drawOverlay(el("output-canvas"), output, js(axes), js(
            {"channel": int(el("channel").value or 0), "opacity": float(el("opacity").value), "base": base}))
        el("opacity").parentElement.hidden = not drawn.overlay

    async def on_install(self, _evt: Any) -> None:
        accepted = await self.api.offline.install()
        self.log("app installed" if accepted else "install dismissed")


async def main() -> Shell:
    """Start the shell on the current page (called by the ``<script type="py">`` in index.html)."""
    shell = Shell()
    window.pyappShell = create_proxy(shell)
    try:
        await shell.start()
    except Exception as err:
        shell.status("Failed to start", "bad")
        shell.fail(err)
    return shell
