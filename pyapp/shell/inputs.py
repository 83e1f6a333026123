"""The shell's inputs: open or drop a file, the model's sample image, the camera; the viewer's controls (planes of
a stack, contrast, the channel the model gets, tile size) and the run over every plane with progress and Cancel.

A mixin of :class:`~pyapp.shell.app.Shell`, which provides ``api``, ``info``, ``entries``, ``model``, ``last``,
``on``, ``log``, ``clear_error``, ``update_run_button``, ``use_classifier``, ``redraw``, ``show_objects`` and
``run``. Pixels stay in JavaScript: ``pyapp.viewer`` holds the image's array and draws it, ``pyapp.annotations``
the annotation tools.
"""

from pyscript import document, window  # type: ignore[import-not-found]

from .dom import JsError, el, js, py, sleep, wait
from .view import channel_names, progress_text

LIVE_PAUSE_MS = 200  # between two live classifications of the camera
ETA_AFTER_MS = 1500  # a time estimate once a run has taken this long


def eta_text(elapsed_ms: float, fraction: float) -> str:
    """``about 12 s left`` from the time so far and the fraction done ("" too early to tell)."""
    if fraction <= 0 or fraction >= 1 or elapsed_ms < ETA_AFTER_MS:
        return ""
    left = round(elapsed_ms * (1 - fraction) / fraction / 1000)
    return f"about {left} s left" if left < 90 else f"about {round(left / 60)} min left"


class Inputs:
    """The current image: a ``pyapp.imaging.decodeFile`` result, or ``"camera"``; its size (w, h); its pixels
    (``stack``, a ``pyapp.viewer`` array) and their ``layout``; the plane on display and, after a run over a
    stack, one result per plane."""

    def __init__(self) -> None:
        self.image = None
        self.size = None
        self.stack = None
        self.layout = None
        self.plane = 0
        self.plane_results = []
        self.cancelled = False

    def listen_inputs(self) -> None:
        for name, event, handler in (
            ("file", "change", self.on_file), ("camera-btn", "click", self.on_camera),
            ("sample-btn", "click", self.on_sample), ("snap", "click", self.on_snap),
            ("continuous", "change", self.on_live), ("camera-stop", "click", self.on_camera_stop),
            ("drop", "dragover", self.on_dragover), ("drop", "dragleave", self.on_dragleave),
            ("drop", "drop", self.on_drop), ("plane", "input", self.on_plane), ("channel-pick", "change", self.on_pick),
            ("contrast-lo", "input", self.on_contrast), ("contrast-hi", "input", self.on_contrast),
            ("contrast-auto", "click", self.on_auto_contrast), ("cancel", "click", self.on_cancel),
            ("axes-pick", "change", self.on_axes),
        ):
            self.on(name, event, handler)

    # -- files ----------------------------------------------------------------------------------------
    async def show_file(self, file: object) -> None:
        self.clear_error()
        self.stop_camera()
        viewer = self.api.viewer
        decoded = await wait(self.api.imaging.decodeFile(file))
        stack = await wait(viewer.load(decoded))
        self.image, self.stack, self.layout = decoded, stack, py(viewer.layout(stack))
        self.plane, self.plane_results = 0, []
        lay = self.layout
        w, h = lay["width"], lay["height"]
        self.size = (w, h)
        el("input-canvas").hidden, el("placeholder").hidden = False, True
        el("image-controls").hidden = False
        viewer.view.setWorld(w, h)
        axes = str(stack.axes)
        el("axes-box").hidden = not (len(axes) == 3 and axes[1:] == "yx" and axes[0] in "czt")
        el("axes-pick").value = axes[0]
        self.setup_image(photo=lay["colour"] and lay["dtype"] == "uint8")
        restored = await wait(self.api.annotations.attach(stack, 0))
        extra = ""
        if lay["planes"] > 1:
            extra += f" · {lay['planes']} {lay['planeLabel']} planes"
        if lay["channels"] > 1:
            extra += f" · {lay['channels']} channels"
        el("input-caption").textContent = f"{decoded.name} · {w}×{h}{extra}"
        el("image-info").textContent = f"{decoded.name} ({w}×{h}{extra})"
        self.log(f"opened {decoded.name} ({w}×{h}{extra}, {lay['dtype']})")
        if restored.objects:
            self.log(f"annotations restored: {restored.objects} objects")
        document.body.dataset.image = decoded.name  # last: tests wait for it
        self.update_run_button()

    async def on_file(self, evt: object) -> None:
        files = evt.target.files
        if files.length:
            await self.show_file(files.item(0))
        evt.target.value = ""

    def on_dragover(self, evt: object) -> None:
        evt.preventDefault()
        el("drop").classList.add("dragging")

    def on_dragleave(self, _evt: object) -> None:
        el("drop").classList.remove("dragging")

    async def on_drop(self, evt: object) -> None:
        evt.preventDefault()
        el("drop").classList.remove("dragging")
        if evt.dataTransfer.files.length:
            await self.show_file(evt.dataTransfer.files.item(0))

    async def on_sample(self, _evt: object) -> None:
        url = self.entries.get(self.model or "", {}).get("sample")
        response = await wait(window.fetch(url))
        if not response.ok:
            raise OSError(f"{url}: HTTP {response.status}")
        blob = await wait(response.blob())
        await self.show_file(window.File.new([blob], url.split("/")[-1], js({"type": blob.type})))

    # -- the viewer's controls --------------------------------------------------------------------------
    def setup_image(self, photo: bool = False) -> None:
        self.setup_planes()
        self.setup_channels()
        self.auto_contrast(photo=photo)
        self.api.viewer.view.reset()

    async def on_axes(self, _evt: object) -> None:
        """The user's reading of a 3D image's first axis: channels, z planes or time points."""
        axes = el("axes-pick").value + "yx"
        self.stack = self.api.viewer.withAxes(self.stack, axes)
        self.layout = py(self.api.viewer.layout(self.stack))
        self.plane, self.plane_results = 0, []
        self.setup_image()
        await wait(self.api.annotations.attach(self.stack, 0))
        lay = self.layout
        self.log(f"axes {axes}: {lay['planes']} {lay['planeLabel']} plane(s) of {lay['channels']} channel(s)")
    def setup_planes(self) -> None:
        planes = self.layout["planes"]
        el("plane-box").hidden = planes <= 1
        el("plane").max, el("plane").value = str(max(planes - 1, 0)), "0"
        el("plane-label").textContent = self.layout["planeLabel"]
        el("plane-text").textContent = f"1/{planes}"

    def model_channels(self) -> int:
        """How many channels the chosen model takes (1 for a model without a channel axis)."""
        if self.info is None:
            return 1
        return max(1, len(channel_names(self.info["inputs"][0])))

    def setup_channels(self) -> None:
        """The channel choice and the sentence that states the conversion, for this image and model."""
        if self.stack is None:
            return
        channels, want = self.layout["channels"], self.model_channels()
        classifier = self.info is not None and self.info["kind"] == "classifier"
        pick = el("channel-pick")
        previous = pick.value
        pick.innerHTML = ""
        if want <= 1 and channels > 1 and not classifier:
            colour = self.layout["colour"] or channels in (3, 4)
            names = ["red", "green", "blue", "alpha"] if self.layout["colour"] else []
            options = [("", "— pick a channel —")] if not colour else []
            options.append(("grey", "grey (from all channels)"))
            options += [(f"c{i}", f"channel {i + 1}" + (f" ({names[i]})" if i < len(names) else ""))
                        for i in range(channels)]
            for value, text in options:
                option = document.createElement("option")
                option.value, option.textContent = value, text
                pick.appendChild(option)
            values = [v for v, _ in options]
            pick.value = previous if previous in values and previous else ("grey" if colour else "")
        el("pick-box").hidden = pick.options.length == 0
        self.show_conversion()

    def choice(self) -> object:
        value = el("channel-pick").value
        return value or None

    def show_conversion(self) -> None:
        classifier = self.info is not None and self.info["kind"] == "classifier"
        note = "" if classifier else self.api.viewer.conversion(self.stack, self.model_channels(), self.choice())
        el("convert-note").textContent = note
        el("convert-note").hidden = not note
        document.body.dataset.conversion = note

    def on_pick(self, _evt: object) -> None:
        self.show_conversion()
        self.draw_input()
        self.log(f"model input: {el('convert-note').textContent or 'the image as it is'}")

    def auto_contrast(self, photo: bool = False) -> None:
        """Contrast from the plane's 0.5–99.5 percentiles; a colour photo (``photo``) as it is (0–255)."""
        c = py(self.api.viewer.autoContrast(self.stack, self.plane))
        if photo:
            c = {"min": 0, "max": 255, "lo": 0, "hi": 255}
        step = (c["max"] - c["min"]) / 1000 if self.layout["dtype"].startswith("float") else 1
        for name, value in (("contrast-lo", c["lo"]), ("contrast-hi", c["hi"])):
            slider = el(name)
            slider.min, slider.max, slider.step = str(c["min"]), str(c["max"]), str(step or 1)
            slider.value = str(value)
        self.draw_input()

    def on_auto_contrast(self, _evt: object) -> None:
        self.auto_contrast()
        self.redraw()

    def on_contrast(self, evt: object) -> None:
        lo, hi = float(el("contrast-lo").value), float(el("contrast-hi").value)
        if hi <= lo:  # the other slider gives way
            other = el("contrast-hi") if evt.target.id == "contrast-lo" else el("contrast-lo")
            other.value = evt.target.value
        self.draw_input()
        self.redraw()

    def draw_input(self) -> None:
        if self.stack is None or self.image == "camera":
            return
        choice = self.choice() or ""
        channel = int(choice[1:]) if choice.startswith("c") else -1
        lo, hi = float(el("contrast-lo").value), float(el("contrast-hi").value)
        options = {"lo": lo, "hi": hi if hi > lo else lo + 1e-6, "channel": channel}
        self.api.viewer.draw(el("input-canvas"), self.stack, self.plane, js(options))
        self.api.viewer.view.apply()
        document.body.dataset.contrast = f"{lo:g}..{hi:g}"

    async def on_plane(self, _evt: object) -> None:
        self.plane = int(el("plane").value)
        el("plane-text").textContent = f"{self.plane + 1}/{self.layout['planes']}"
        self.draw_input()
        if self.plane_results and self.last is not None:
            result = self.plane_results[self.plane]
            self.last = (result.outputs[0], self.last[1])
            self.show_objects(result)  # the objects of this plane, when they were asked for
        self.redraw()
        plane = str(self.plane)
        await wait(self.api.annotations.attach(self.stack, self.plane))
        document.body.dataset.plane = plane  # the plane's annotations are shown

    def model_changed(self) -> None:
        """The tile field and the channel choice for the model just chosen (the last run's planes are stale)."""
        self.plane_results = []
        tensor = self.info["inputs"][0]
        fixed = [a["size"] for a in tensor["axes"] if a["type"] == "space" and isinstance(a["size"], int)]
        space = [a for a in tensor["axes"] if a["type"] == "space"]
        el("tile").disabled = bool(space) and len(fixed) == len(space)
        if el("tile").disabled:
            el("tile").value = ""
            size = "×".join(str(s) for s in fixed)
            el("tile-note").textContent = (f"This model works on fixed {size} blocks: larger images are cut into "
                                           "blocks of that size, so the tile size cannot be changed.")
        else:
            el("tile-note").textContent = ("Empty: one block for the whole image. A size such as 256 cuts large "
                                           "images into tiles of about that size (less memory, the same result).")
        self.setup_channels()

    # -- camera ---------------------------------------------------------------------------------------
    async def on_camera(self, _evt: object) -> None:
        """Start the camera (the live loop's last run may still be awaiting the worker meanwhile)."""
        self.clear_error()
        video = el("camera-video")
        await wait(self.api.camera.start(video))
        video.hidden, el("input-canvas").hidden, el("placeholder").hidden = False, True, True
        el("camera-controls").hidden, el("image-controls").hidden = False, True
        self.api.annotations.detach()
        self.image, self.stack, self.plane_results = "camera", None, []
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

    def on_camera_stop(self, _evt: object) -> None:
        self.stop_camera()
        el("placeholder").hidden = not el("input-canvas").hidden
        self.update_run_button()

    async def on_snap(self, _evt: object) -> None:
        await self.use_classifier()
        await self.run()

    async def on_live(self, evt: object) -> None:
        if not evt.target.checked:
            return
        await self.use_classifier()
        self.log("live classification on")
        while el("continuous").checked and self.image == "camera":
            try:
                await self.run()
            except Exception:
                el("continuous").checked = False
                raise
            await sleep(LIVE_PAUSE_MS)
        self.log("live classification off")

    # -- the run ----------------------------------------------------------------------------------------
    def classifier_input(self) -> tuple:
        """A camera frame or the image on display, centre-cropped for a classifier (or, for the camera, the frame
        a segmentation model gets) and its axes."""
        imaging = self.api.imaging
        if self.image == "camera":
            source, (w, h) = el("camera-video"), self.size
        elif self.image.kind == "pixels":
            source, w, h = self.image.bitmap, self.image.width, self.image.height
        else:
            source, (w, h) = el("input-canvas"), self.size
        if self.info["kind"] == "classifier":
            tensor = self.info["inputs"][0]
            sizes = [a["size"] for a in tensor["axes"] if a["id"] in ("y", "x") and isinstance(a["size"], int)]
            options = {"size": min(sizes) if sizes else 224, "channels": 3}
            return imaging.pixels(source, w, h, js(options)), "yxc"
        grey = self.model_channels() <= 1
        imaging.drawBitmap(el("input-canvas"), source, w, h)  # the frame that is segmented
        return imaging.pixels(source, w, h, js({"channels": 1 if grey else 3})), "yx" if grey else "yxc"

    def plane_input(self, plane: int) -> tuple:
        options = {"want": self.model_channels(), "choice": self.choice()}
        made = self.api.viewer.modelInput(self.stack, plane, js(options))
        if getattr(made, "error", None):
            raise ValueError(made.error)
        return made.input, made.axes

    def model_takes_stack(self) -> bool:
        ids = [a["id"] for a in self.info["inputs"][0]["axes"]]
        stack = self.layout["stackAxes"]
        return bool(stack) and all(a in ids for a in stack)

    async def predict_input(self, options: dict) -> object:
        """Run the model on the image (each plane of a stack, unless the model takes the stack); the result of the
        plane on display, or None when the user cancelled."""
        self.cancelled, self.plane_results = False, []
        el("cancel").hidden, el("cancel").disabled = False, False
        if el("tile").value and not el("tile").disabled:
            options["tile"] = int(float(el("tile").value))
        start = window.performance.now()
        try:
            if self.image == "camera" or self.info["kind"] == "classifier":
                image, axes = self.classifier_input()
                return await self.predict_one(image, axes, options, 0, 1, start)
            if self.model_takes_stack():
                stack = self.stack
                image = {"data": stack.data, "shape": stack.shape, "dtype": stack.dtype}
                options["transfer"] = False  # the page keeps the stack
                return await self.predict_one(js(image), stack.axes, options, 0, 1, start)
            planes = self.layout["planes"]
            results = []
            for index in range(planes):
                if self.cancelled:
                    raise JsError("cancelled")
                image, axes = self.plane_input(index)
                results.append(await self.predict_one(image, axes, options, index, planes, start))
            self.plane_results = results if planes > 1 else []
            return results[self.plane if planes > 1 else 0]
        except JsError as err:
            if not self.cancelled or "cancelled" not in str(err):
                raise
            el("progress-text").textContent = "Cancelled. Nothing changed; run again when you like."
            document.body.dataset.state = "cancelled"
            self.log(f"run cancelled after {round((window.performance.now() - start) / 1000, 1)} s")
            return None
        finally:
            el("cancel").hidden = True

    async def predict_one(self, image: object, axes: str, options: dict, index: int, planes: int,
                          start: float) -> object:
        label = self.layout["planeLabel"] if self.layout else "plane"
        prefix = f"{label} {index + 1}/{planes} · " if planes > 1 else ""
        bar = el("progress")
        bar.max = 1000
        el("progress-text").textContent = f"{prefix}starting…"
        document.body.dataset.progressPlane = str(index + 1)

        def progress(done: int, total: int, _message: str = "") -> None:
            fraction = (index + int(done) / max(int(total), 1)) / planes
            bar.value = int(fraction * 1000)
            eta = eta_text(window.performance.now() - start, fraction)
            el("progress-text").textContent = prefix + progress_text(done, total) + (f" · {eta}" if eta else "")

        request = {"onProgress": progress, "axes": axes}
        request.update(options)
        result = await wait(self.api.predict(self.model, image, js(request)))
        for note in py(result.notes):
            self.log(f"note: {note}")
            el("tile-note").textContent = note[0].upper() + note[1:] + "."
        bar.value = int((index + 1) / planes * 1000)
        return result

    async def on_cancel(self, _evt: object) -> None:
        self.cancelled = True
        el("cancel").disabled = True
        el("progress-text").textContent = "Cancelling…"
        try:  # meanwhile the run's own await sees its prediction rejected ("cancelled")
            outcome = await wait(self.api.cancel())
        except JsError as err:
            self.log(f"cancel failed: {err}")
            return
        how = "the model worker restarted" if outcome.restarted else "stopped between two tiles"
        self.log(f"cancel: {how}")
