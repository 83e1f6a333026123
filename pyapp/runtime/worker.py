"""The model worker's Python side (Pyodide only): load models, predict on images, report progress.

``web/pyapp/model-worker.js`` calls :func:`list_models`, :func:`load_model` and :func:`predict`; every failure
becomes one line for the page, and the worker stays usable for the next call.
"""

from __future__ import annotations

import hashlib
import posixpath
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import numpy as np
from pyodide.ffi import JsProxy, to_js  # type: ignore[import-not-found]

from ..io import read_image
from ..spec import MemoryRoot, ModelDescr, is_url, load
from ._backend import BackendError, read_weights
from ._layout import to_model_layout
from ._runner import ModelRunner
from .ortweb import OrtWebBackend

_RUNNERS: dict[tuple[str, str], ModelRunner] = {}
_INPUT_DIR = Path("/tmp/pyapp-inputs")


async def fetch_bytes(url: str) -> bytes:
    """GET ``url``; OSError with one line (status, or the usual CORS cause) when it fails."""
    from pyodide.http import pyfetch  # type: ignore[import-not-found]

    try:
        response = await pyfetch(url)
    except Exception as err:
        raise OSError(f"{url}: download failed ({str(err).splitlines()[0]}); a file on another server needs "
                      "CORS (Access-Control-Allow-Origin)") from err
    if not response.ok:
        raise OSError(f"{url}: download failed: HTTP {response.status}")
    return await response.bytes()


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, JsProxy):
        return bytes(value.to_py()) if hasattr(value, "to_py") else bytes(value.to_bytes())
    return bytes(value)


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
        raise BackendError(f"{label}: the model has no ONNX weights (it has {', '.join(model.weights)})")
    if isinstance(source, str) and not data.startswith(b"PK\x03\x04"):
        name = entry.source.source
        url = name if is_url(name) else urljoin(source, name)
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


async def _image(image: Any, axes: str | None) -> tuple[np.ndarray, str]:
    """The image as (array, axes): a URL to .npy/.tif/.png/.jpg, or ``{data, shape, dtype}`` from JavaScript."""
    if isinstance(image, str):
        name = posixpath.basename(image.split("?")[0]) or "image.npy"
        _INPUT_DIR.mkdir(parents=True, exist_ok=True)
        path = _INPUT_DIR / name
        path.write_bytes(await fetch_bytes(image))
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


async def predict(model: Any, image: Any, options: Any = None, progress: Any = None) -> Any:
    """Run ``model`` (URL or zip bytes) on ``image``; returns a JS object ``{backend, ms, outputs}``.

    ``options``: ``ep`` ("auto", "wasm", "webgpu"), ``axes`` (image axes such as "yx"), ``tile`` (a number
    or ``{y: 256, x: 256}``), ``memoryBudget`` (bytes). Output ``data`` are typed arrays (transferable).
    """
    opts = _options(options)
    runner = await load_model(model, str(opts.get("ep") or "auto"))
    array, axes = await _image(image, opts.get("axes"))
    if len(runner.model.inputs) != 1:
        raise ValueError(f"the model has {len(runner.model.inputs)} inputs; predict takes single-input models")
    tensor = runner.model.inputs[0]
    report = (lambda d, n, m: progress(d, n, m)) if progress is not None else None
    start = time.perf_counter()
    outputs = await runner.predict({tensor.id: to_model_layout(array, axes, tensor)},
                                   tile=_tile(opts.get("tile"), runner), memory_budget=opts.get("memoryBudget"),
                                   progress=report)
    ms = (time.perf_counter() - start) * 1000
    result = {
        "backend": runner.backend.name, "ms": ms,
        "outputs": [{"id": tid, "shape": list(out.shape), "dtype": out.dtype.name,
                     "data": to_js(memoryview(np.ascontiguousarray(out).reshape(-1)))}
                    for tid, out in outputs.items()],
    }
    from js import Object  # type: ignore[import-not-found]

    return to_js(result, dict_converter=Object.fromEntries)


async def list_models(index_url: str) -> Any:
    """The bundled models listed in ``index_url`` (``models/index.json``), as a JS array."""
    import json

    from js import Object  # type: ignore[import-not-found]

    try:
        entries = json.loads(await fetch_bytes(index_url))
    except OSError:
        entries = []
    return to_js(entries, dict_converter=Object.fromEntries)
