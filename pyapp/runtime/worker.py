"""The model worker's Python side (Pyodide only): load models, predict on images, report progress.

``web/pyapp/model-worker.js`` calls :func:`predict`, :func:`preview` and the others once numpy is loaded (the first
request that needs them; ``describe`` is :mod:`.worker_describe`'s); every failure becomes one line for the page,
and the worker stays usable for the next call.
"""

from __future__ import annotations

import hashlib
import posixpath
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin

import numpy as np
from pyodide.ffi import JsProxy, to_js  # type: ignore[import-not-found]

from ..io import read_image
from ..spec import MemoryRoot, ModelDescr, is_url, load
from ..spec._source import package_path
from ._backend import BackendError, read_weights
from ._layout import to_model_layout
from ._runner import ModelRunner
from .ortweb import OrtWebBackend
from .worker_arrays import fetch_to_file, js_outputs, output_entry
from .worker_describe import _to_bytes, fetch_bytes, no_onnx_message

_RUNNERS: dict[tuple[str, str], ModelRunner] = {}
_INPUT_DIR = Path("/tmp/pyapp-inputs")


async def _load_descr(source: Any) -> tuple[ModelDescr, str]:
    """A model from a URL (yaml or zip) or zip bytes, with its ONNX weights fetched into memory."""
    if isinstance(source, str):
        data, label = await fetch_bytes(source), source
    else:
        data = _to_bytes(source)
        label = "zip:" + hashlib.sha256(data).hexdigest()[:16]
    model = load(data)
    if not isinstance(model, ModelDescr):
        raise ValueError(f"{label}: a {model.type} description, not a model")
    entry = model.weights.get("onnx")
    if entry is None:
        raise BackendError(no_onnx_message(model))
    if isinstance(source, str) and not data.startswith(b"PK\x03\x04"):
        name = entry.source.source
        url = name if is_url(name) else urljoin(source, package_path(name))  # checked before it is fetched
        model = replace(model, root=MemoryRoot({name: await fetch_bytes(url)}, label=source))
    return model, label


async def load_model(source: Any, ep: str = "auto") -> ModelRunner:
    """A runner for the model at ``source`` (URL or zip bytes), cached per source and execution provider."""
    key = (source if isinstance(source, str) else "zip:" + hashlib.sha256(_to_bytes(source)).hexdigest(), ep)
    runner = _RUNNERS.get(key)
    if runner is None:
        model, _ = await _load_descr(source)
        entry = model.weights["onnx"]
        backend = await OrtWebBackend.create(read_weights(model, entry), model, ep=ep)
        runner = _RUNNERS[key] = ModelRunner(model, backend)
    return runner


#: Packages an image reader needs, loaded on first use (numpy alone reads .npy; boot stays light).
_READER_PACKAGES = {".tif": ["tifffile"], ".tiff": ["tifffile"], ".png": ["imageio", "pillow"],
                    ".jpg": ["imageio", "pillow"], ".jpeg": ["imageio", "pillow"]}


async def _image(image: Any, axes: str | None) -> tuple[np.ndarray, str]:
    """The image as (array, axes): a URL to .npy/.tif/.png/.jpg, or ``{data, shape, dtype}`` from JavaScript."""
    if isinstance(image, str):
        # an object URL has no file name: the page appends it as the fragment (blob:...#cells.tif)
        url, _, fragment = image.partition("#")
        name = posixpath.basename(unquote(fragment) if fragment else url.split("?")[0]) or "image.npy"
        packages = _READER_PACKAGES.get(posixpath.splitext(name)[1].lower())
        if packages:
            import pyodide_js  # type: ignore[import-not-found]

            await pyodide_js.loadPackage(to_js(packages))
        _INPUT_DIR.mkdir(parents=True, exist_ok=True)
        path = _INPUT_DIR / name
        await fetch_to_file(image, path)  # only the decoded pixels enter Python's heap
        try:
            return read_image(path, axes=axes)
        finally:
            path.unlink(missing_ok=True)
    spec = image.to_py(depth=1) if isinstance(image, JsProxy) else dict(image)
    dtype = np.dtype(str(spec["dtype"]))
    data = spec["data"]
    raw = data.to_memoryview() if isinstance(data, JsProxy) else memoryview(data)
    array = np.frombuffer(raw, dtype=dtype).reshape([int(s) for s in spec["shape"]])
    if axes is None:
        from ..io import guess_axes

        axes = guess_axes(array.shape)
    return array, axes


def _options(options: Any) -> dict[str, Any]:
    if options is None:
        return {}
    return options.to_py() if isinstance(options, JsProxy) else dict(options)


def _tile(tile: Any, runner: ModelRunner) -> dict[str, int] | None:
    if tile is None:
        return None
    if isinstance(tile, int | float):
        return {a.id: int(tile) for t in runner.model.inputs for a in t.axes if a.type == "space"}
    return {str(k): int(v) for k, v in dict(tile).items()}


def tile_notes(tile: Any, tensor: Any) -> list[str]:
    """Why a requested ``tile`` is not used as given: one sentence per space axis whose size the model fixes."""
    if tile is None:
        return []
    space = [a for a in tensor.axes if a.type == "space"]
    wanted = {a.id: tile for a in space} if isinstance(tile, int | float) else dict(tile)
    fixed = [a for a in space if a.fixed_size is not None and a.id in wanted and int(wanted[a.id]) != a.fixed_size]
    return [f"tile {int(wanted[a.id])} along {a.id} is not used: the model works on fixed blocks of {a.fixed_size} "
            "pixels" for a in fixed]


async def predict(model: Any, image: Any, options: Any = None, progress: Any = None) -> Any:
    """Run ``model`` (URL or zip bytes) on ``image``; returns a JS object ``{backend, ms, outputs}``.

    ``options``: ``ep`` ("auto", "wasm", "webgpu"), ``axes`` (image axes such as "yx"), ``tile`` (a number
    or ``{y: 256, x: 256}``), ``memoryBudget`` (bytes), ``labels`` (true or split options: adds ``labels`` and
    ``objects``, see :mod:`.worker_analysis`). Output ``data`` are typed arrays (transferable); ``notes`` says
    what of the options the model could not follow (a tile size it fixes itself).
    """
    opts = _options(options)
    t0 = time.perf_counter()
    runner = await load_model(model, str(opts.get("ep") or "auto"))
    t1 = time.perf_counter()
    array, axes = await _image(image, opts.get("axes"))
    if len(runner.model.inputs) != 1:
        raise ValueError(f"the model has {len(runner.model.inputs)} inputs; predict takes single-input models")
    tensor = runner.model.inputs[0]
    report = (lambda d, n, m: progress(d, n, m)) if progress is not None else None
    start = time.perf_counter()
    x = [to_model_layout(array, axes, tensor)]
    if not opts.get("labels"):  # the objects table measures the image: keep it only then
        del array  # handed over: the runner keeps only what the blocks read
    # outputs go block by block into JavaScript typed arrays, unless the objects are found here from them
    outputs = await runner.predict({tensor.id: x.pop()}, tile=_tile(opts.get("tile"), runner),
                                   memory_budget=opts.get("memoryBudget"), progress=report,
                                   outputs=None if opts.get("labels") else js_outputs)
    ms = (time.perf_counter() - start) * 1000
    timings = {"model": (t1 - t0) * 1000, "image": (start - t1) * 1000,
               **{k: v * 1000 if k != "blocks" else v for k, v in runner.timings.items()}}
    result = {
        "backend": runner.backend.name, "ms": ms, "timings": timings, "notes": tile_notes(opts.get("tile"), tensor),
        "outputs": [output_entry(tid, out) for tid, out in outputs.items()],
    }
    if opts.get("labels"):
        from .worker_analysis import find_objects

        result.update(await find_objects(runner.model, outputs, array, axes, opts["labels"]))
    from js import Object  # type: ignore[import-not-found]

    return to_js(result, dict_converter=Object.fromEntries)


async def encode(array: Any, fmt: str) -> Any:
    """An array as file bytes for a download (see :func:`.worker_export.encode`)."""
    from js import Object  # type: ignore[import-not-found]

    from .worker_export import encode as write

    return to_js(await write(array, str(fmt)), dict_converter=Object.fromEntries)


async def evaluate(prediction: Any, ground_truth: Any, options: Any = None) -> Any:
    """Scores of a prediction against ground truth, as a JS object (see :func:`.worker_analysis.evaluate`)."""
    from js import Object  # type: ignore[import-not-found]

    from .worker_analysis import evaluate as score

    return to_js(await score(prediction, ground_truth, _options(options)), dict_converter=Object.fromEntries)


def preview_array(array: np.ndarray, axes: str, *, max_size: int = 1024) -> np.ndarray:
    """A uint8 grey (y, x) view of an image for display: first of other axes, 0.5–99.5 percentile stretch."""
    index = tuple(slice(None) if a in "yx" else 0 for a in axes)
    plane = np.asarray(array[index], dtype=np.float32)
    if axes.index("y") > axes.index("x"):
        plane = plane.T
    step = max(1, int(np.ceil(max(plane.shape) / max_size)))
    plane = plane[::step, ::step]
    lo, hi = np.percentile(plane, [0.5, 99.5]) if plane.size else (0.0, 1.0)
    scaled = (plane - lo) / (hi - lo) if hi > lo else np.zeros_like(plane)
    return (np.clip(scaled, 0, 1) * 255).astype(np.uint8)


async def preview(image: Any, options: Any = None) -> Any:
    """A display image for a .tif/.npy URL the page cannot decode itself: ``{shape, dtype, data}`` uint8."""
    from js import Object  # type: ignore[import-not-found]

    array, axes = await _image(image, _options(options).get("axes"))
    plane = np.ascontiguousarray(preview_array(array, axes))
    result = {"shape": list(plane.shape), "dtype": "uint8", "source_shape": list(array.shape), "axes": axes,
              "data": to_js(memoryview(plane.reshape(-1)))}
    return to_js(result, dict_converter=Object.fromEntries)


def _sendable(array: np.ndarray) -> np.ndarray:
    """``array`` in a dtype every typed array has: bool → uint8, wide ints → int32, other floats → float32."""
    if array.dtype == np.bool_:
        return array.astype(np.uint8)
    if array.dtype.kind in "iu" and array.dtype.itemsize > 4:
        if array.size and (array.min() < np.iinfo(np.int32).min or array.max() > np.iinfo(np.int32).max):
            raise ValueError(f"values up to {array.max()} do not fit 32-bit integers")
        return array.astype(np.int32)
    if array.dtype.kind == "f" and array.dtype != np.float32:
        return array.astype(np.float32)
    if array.dtype.kind not in "iuf":
        raise ValueError(f"pixels of type {array.dtype} are not numbers")
    return array.astype(array.dtype.newbyteorder("="), copy=False)


async def read_array(image: Any, options: Any = None) -> Any:
    """All pixels of an image URL (.npy/.tif/.png/.jpg) as ``{shape, dtype, axes, data}`` in its own dtype
    (e.g. training data for an engine, which the page sends only after the user's consent)."""
    from js import Object  # type: ignore[import-not-found]

    array, axes = await _image(image, _options(options).get("axes"))
    array = np.ascontiguousarray(_sendable(array))
    result = {"shape": list(array.shape), "dtype": array.dtype.name, "axes": axes,
              "data": to_js(memoryview(array.reshape(-1)))}
    return to_js(result, dict_converter=Object.fromEntries)
