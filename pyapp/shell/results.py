"""The shell's results: object count, outlines and table, downloads, comparison with ground truth, model card.

A mixin of :class:`~pyapp.shell.app.Shell` (which provides ``api``, ``info``, ``image``, ``on``, ``log``,
``clear_error``, ``busy``). Pixels stay in JavaScript (``pyapp.results``, ``web/pyapp/results.js``); files are
written by the model worker (``pyapp.encode``: TIFF with tifffile, 16-bit PNG with pillow). The objects table is
sorted here (``view.objects_html``). ``document.body.dataset.compare`` counts finished comparisons and
``dataset.saved`` downloads, for tests.
"""

from pyscript import document, window  # type: ignore[import-not-found]

from .dom import el, py, wait
from .view import card_html, count_text, metrics_html, objects_html

#: download button id -> (what, file name suffix)
DOWNLOADS = {"save-output": ("output", "_output.tif"), "save-labels-tif": ("labels", "_labels.tif"),
             "save-labels-png": ("labels", "_labels.png"), "save-overlay": ("overlay", "_overlay.png"),
             "save-table": ("table", "_objects.csv")}


class Results:
    """The last result (the ``pyapp.predict`` JS object), its objects table and how the table is sorted."""

    result = None
    objects = None  # the table rows as Python dicts
    sort_key = "label"
    sort_desc = False
    task = ""  # what the user is doing, for the next step an error message suggests (view.NEXT)
    compares = 0
    saves = 0
    segments = False  # the chosen model segments (set by Shell.choose)

    def listen_results(self) -> None:
        for name in DOWNLOADS:
            self.on(name, "click", self.on_save)
        self.on("objects-table", "click", self.on_sort)
        self.on("gt-file", "change", self.on_ground_truth)
        self.on("outlines", "change", self.redraw)
        self.api.results.hover(el("output-canvas"), el("object-tip"))

    # -- a result -------------------------------------------------------------------------------------------
    def wants_labels(self) -> bool:
        """Whether the next run asks for objects: a segmentation model (a bundled one of that kind, or one loaded
        by URL with an image output) and *Find objects* ticked."""
        return self.segments and bool(el("find-objects").checked)

    def show_objects(self, result: object) -> None:
        """Count, table and downloads of a segmentation result (``labels``/``objects`` when asked for)."""
        self.result = result
        labels = result.labels if hasattr(result, "labels") else None
        has_labels = labels is not None and labels is not window.undefined
        el("object-count").hidden = not has_labels
        el("results").hidden = False
        for name in ("save-labels-tif", "save-labels-png", "save-table"):
            el(name).hidden = not has_labels
        el("compare-box").hidden = False
        el("compare-result").hidden = True  # a comparison belongs to the result it was made with
        if has_labels:
            el("object-count").textContent = count_text(labels.count)
            self.objects = py(result.objects)
            self.sort_key, self.sort_desc = "label", False
            self.show_table()
            self.log(f"{count_text(labels.count)} found")
        el("objects-box").hidden = not has_labels

    def outline(self) -> None:
        """Outlines of the objects on the overlay (after each redraw), when there are labels and *Outlines*."""
        results, canvas = self.api.results, el("output-canvas")
        labels = self.result.labels if self.result is not None and hasattr(self.result, "labels") else None
        if labels is None or labels is window.undefined:
            results.forget(canvas)
            return
        if el("outlines").checked:
            results.drawOutlines(canvas, labels)
        else:
            results.forget(canvas)

    def clear_result(self) -> None:
        """Forget the shown result (a new model or image): nothing of it stays next to the new input."""
        self.result, self.objects, self.last = None, None, None
        self.api.results.forget(el("output-canvas"))
        el("output-canvas").hidden, el("top5").hidden, el("overlay-controls").hidden = True, True, True
        el("output-placeholder").hidden = False
        el("output-caption").textContent = ""
        el("object-count").hidden, el("results").hidden, el("object-tip").hidden = True, True, True
        el("compare-result").hidden = True
        el("objects-table").innerHTML = ""
        el("backend").hidden = True
        el("progress").value = 0
        el("progress-text").textContent = "Ready to run."

    # -- the table ------------------------------------------------------------------------------------------
    def show_table(self) -> None:
        el("objects-table").innerHTML = objects_html(self.objects or [], self.sort_key, self.sort_desc)

    def on_sort(self, evt: object) -> None:
        key = evt.target.dataset.key if evt.target.dataset else None
        if not key or not self.objects:
            return
        self.sort_desc = not self.sort_desc if key == self.sort_key else False
        self.sort_key = key
        self.show_table()

    # -- downloads ------------------------------------------------------------------------------------------
    def stem(self) -> str:
        name = "camera" if self.image == "camera" or self.image is None else str(self.image.name)
        return name.rsplit(".", 1)[0] if "." in name else name

    async def on_save(self, evt: object) -> None:
        self.task = "save"
        what, suffix = DOWNLOADS[evt.target.closest("button").id]
        results, name = self.api.results, self.stem() + suffix
        if self.result is None:
            raise ValueError("there is no result to save yet: run the model first")
        if what == "table":
            results.download(name, results.csv(self.result.objects), "text/csv")
        elif what == "overlay":
            results.download(name, await wait(results.canvasPng(el("output-canvas"))))
        else:
            array = self.result.outputs[0] if what == "output" else self.result.labels
            encoded = await wait(self.api.encode(array, "png" if name.endswith(".png") else "tiff"))
            results.download(name, encoded.data, encoded.mime)
        self.saves += 1
        document.body.dataset.saved = str(self.saves)
        self.log(f"saved {name}")

    # -- ground truth ---------------------------------------------------------------------------------------
    async def on_ground_truth(self, evt: object) -> None:
        files = evt.target.files
        if not files.length:
            return
        file = files.item(0)
        evt.target.value = ""
        self.task = "compare"
        if self.result is None:
            raise ValueError("run the model first, then compare its result with the ground truth")
        self.clear_error()
        self.log(f"comparing with {file.name}")
        truth = await wait(self.api.read(self.api.results.fileUrl(file)))
        scores = await wait(self.api.evaluate(self.result, truth))
        metrics = py(scores.metrics)
        el("metrics").innerHTML = metrics_html(metrics)
        notes = py(scores.notes)
        el("compare-notes").textContent = "; ".join(notes)
        labels = self.result.labels if hasattr(self.result, "labels") else None
        picture = labels is not None and labels is not window.undefined and str(scores.kind) == "labels"
        el("compare-picture").hidden = not picture
        if picture:
            base = el("input-canvas") if not el("input-canvas").hidden else None
            counts = self.api.results.drawComparison(el("compare-canvas"), base, labels, truth)
            el("legend-matched").textContent = f"matched {counts.tp}"
            el("legend-missed").textContent = f"missed {counts.fn}"
            el("legend-false").textContent = f"false {counts.fp}"
        el("compare-result").hidden = False
        el("compare-box").open = True
        shown = ", ".join(f"{k} {metrics[k]:.3f}" for k in ("f1", "accuracy", "dice", "psnr", "ssim")
                          if isinstance(metrics.get(k), float))
        self.log(f"ground truth {file.name}: {shown}")
        self.compares += 1
        document.body.dataset.compare = str(self.compares)

    # -- the model card -------------------------------------------------------------------------------------
    def show_card(self, info: dict, base: str) -> None:
        el("card-body").innerHTML = card_html(info, base)
        el("model-card").hidden = False


def describe_js(api: object, raw: object) -> dict:
    """``pyapp.describe``'s JS result as Python data, without the bytes of a packaged sample."""
    return py(api.results.plainInfo(raw))
