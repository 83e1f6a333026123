"""The shell's inputs: open or drop a file, the model's sample image, the camera (on demand and live).

A mixin of :class:`~pyapp.shell.app.Shell`, which provides ``api``, ``info``, ``entries``, ``model``, ``on``,
``log``, ``clear_error``, ``update_run_button``, ``use_classifier`` and ``run``. Pixels stay in JavaScript
(``pyapp.imaging``); what the model gets is built by :meth:`Inputs.input_for_model`.
"""

from pyscript import document, window  # type: ignore[import-not-found]

from .dom import el, js, sleep, wait
from .view import channel_names

LIVE_PAUSE_MS = 200  # between two live classifications of the camera


class Inputs:
    """The current image: a ``pyapp.imaging.decodeFile`` result, or ``"camera"``; its size (w, h)."""

    def __init__(self) -> None:
        self.image = None
        self.size = None

    def listen_inputs(self) -> None:
        for name, event, handler in (
            ("file", "change", self.on_file), ("camera-btn", "click", self.on_camera),
            ("sample-btn", "click", self.on_sample), ("snap", "click", self.on_snap),
            ("continuous", "change", self.on_live), ("camera-stop", "click", self.on_camera_stop),
            ("drop", "dragover", self.on_dragover), ("drop", "dragleave", self.on_dragleave),
            ("drop", "drop", self.on_drop),
        ):
            self.on(name, event, handler)

    # -- files ----------------------------------------------------------------------------------------
    async def show_file(self, file: object) -> None:
        self.clear_error()
        self.stop_camera()
        imaging = self.api.imaging
        image = await wait(imaging.decodeFile(file))
        canvas = el("input-canvas")
        if image.kind == "pixels":
            imaging.drawBitmap(canvas, image.bitmap, image.width, image.height)
            self.size = (image.width, image.height)
        else:
            grey = await wait(self.api.preview(image.url))
            imaging.drawGrey(canvas, grey)
            self.size = (grey.shape[1], grey.shape[0])
        self.image = image
        document.body.dataset.image = image.name
        canvas.hidden, el("placeholder").hidden = False, True
        w, h = self.size
        el("input-caption").textContent = f"{image.name} · {w}×{h}"
        el("image-info").textContent = f"{image.name} ({w}×{h})"
        self.log(f"opened {image.name} ({w}×{h})")
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

    # -- camera ---------------------------------------------------------------------------------------
    async def on_camera(self, _evt: object) -> None:
        self.clear_error()
        video = el("camera-video")
        await wait(self.api.camera.start(video))
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

    # -- what the model gets --------------------------------------------------------------------------
    def input_for_model(self) -> tuple:
        """The image as ``pyapp.predict`` takes it, and its axes (None: the worker reads a file and guesses)."""
        imaging = self.api.imaging
        if self.image == "camera":
            source, (w, h) = el("camera-video"), self.size
        elif self.image.kind == "url":
            return self.image.url, None
        else:
            source, w, h = self.image.bitmap, self.image.width, self.image.height
        tensor = self.info["inputs"][0]
        if self.info["kind"] == "classifier":
            sizes = [a["size"] for a in tensor["axes"] if a["id"] in ("y", "x") and isinstance(a["size"], int)]
            options = {"size": min(sizes) if sizes else 224, "channels": 3}
            return imaging.pixels(source, w, h, js(options)), "yxc"
        grey = len(channel_names(tensor)) <= 1
        if self.image == "camera":
            imaging.drawBitmap(el("input-canvas"), source, w, h)  # the frame that is segmented
        return imaging.pixels(source, w, h, js({"channels": 1 if grey else 3})), "yx" if grey else "yxc"
