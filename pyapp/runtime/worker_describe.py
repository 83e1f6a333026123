"""The model worker's boot module (Pyodide only): what the page asks before anything runs, without numpy.

``web/pyapp/model-worker.js`` imports this module at boot and answers ``describe`` with :func:`describe_model`
(the model's inputs, outputs and card: :mod:`pyapp.spec` and yaml only). numpy and the runner
(:mod:`.worker`) load on the first request that needs them, so the page is ready sooner.
"""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import urljoin

from pyodide.ffi import JsProxy, to_js  # type: ignore[import-not-found]

from ..spec import ModelDescr, is_url, load
from ..spec._limits import check_size
from ..spec._source import package_path


async def fetch(url: str) -> Any:
    """GET ``url``: the response; OSError with one line (status, or the usual CORS cause) when it fails.

    A response that declares more bytes than ``PYAPP_MAX_FILE_BYTES`` is refused before its body is read
    (LimitError); :func:`check_download` checks the bytes that arrived.
    """
    from pyodide.http import pyfetch  # type: ignore[import-not-found]

    try:
        response = await pyfetch(url)
    except Exception as err:
        raise OSError(f"{url}: download failed ({str(err).splitlines()[0]}); a file on another server needs "
                      "CORS (Access-Control-Allow-Origin)") from err
    if not response.ok:
        raise OSError(f"{url}: download failed: HTTP {response.status}")
    declared = str(response.headers.get("content-length", ""))
    if declared.isdigit():
        check_download(url, int(declared))
    return response


def check_download(url: str, size: int) -> None:
    """LimitError when a download of ``size`` bytes exceeds ``PYAPP_MAX_FILE_BYTES`` (the worker's memory)."""
    check_size(url, "the download's size in bytes", size, "file_bytes")


async def fetch_bytes(url: str) -> bytes:
    """GET ``url`` into bytes; OSError with one line (status, or the usual CORS cause) when it fails."""
    data = await (await fetch(url)).bytes()
    check_download(url, len(data))
    return data


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, JsProxy):
        return bytes(value.to_py()) if hasattr(value, "to_py") else bytes(value.to_bytes())
    return bytes(value)


def no_onnx_message(model: ModelDescr) -> str | None:
    """What to tell the user about a model without ONNX weights (the browser runs only those), else None."""
    if "onnx" in model.weights:
        return None
    have = ", ".join(model.weights) or "none"
    return (f"{model.name!r} has no ONNX weights (it has {have}), and the browser runs ONNX only: convert it on a "
            "computer with Python (pip install 'pyapp[zoo]'; pyapp convert MODEL --to onnx -o model-onnx.zip, "
            "MODEL being its zip or folder), then load model-onnx.zip here")


def _axis_summary(axis: Any) -> dict[str, Any]:
    size = axis.size
    if isinstance(size, int):
        shown: Any = size
    elif hasattr(size, "step"):
        shown = {"min": size.min, "step": size.step}
    else:
        shown = None
    entry: dict[str, Any] = {"id": axis.id, "type": axis.type, "size": shown}
    if axis.channel_names:
        entry["channel_names"] = list(axis.channel_names)
    return entry


def _card(model: ModelDescr) -> dict[str, Any]:
    """The model card: who made the model, how to cite it, its license, pixel size, training data, docs."""
    def text(value: Any) -> str:
        return value.strip() if isinstance(value, str) else ""

    training = model.other.get("training_data")
    if isinstance(training, dict):
        training = training.get("id") or training.get("source") or training.get("name")
    space = [a for a in model.inputs[0].axes if a.type == "space"] if model.inputs else []
    pixel = [{"axis": a.id, "scale": a.scale, "unit": a.unit} for a in space if a.unit or a.scale != 1.0]
    tensor = model.inputs[0] if model.inputs else None
    sample = tensor.sample_tensor or tensor.test_tensor if tensor else None
    return {
        "authors": [text(a.get("name")).split(";")[0] for a in model.authors if text(a.get("name"))],
        "cite": [{k: text(c.get(k)) for k in ("text", "doi", "url") if text(c.get(k))} for c in model.cite],
        "license": model.license or "", "tags": list(model.tags), "version": model.version or "",
        "training_data": text(training), "pixel_size": pixel,
        "documentation": model.documentation.source if model.documentation else "",
        "sample_file": sample.source if sample else "",
    }


def describe(model: ModelDescr) -> dict[str, Any]:
    """What the page needs to prepare inputs and show outputs: names, axes (fixed sizes), channel names, kind,
    and the model card (authors, cite, license, tags, version, pixel_size, training_data, documentation, and
    sample_file: the sample, else test, input's file).

    ``kind`` is ``"classifier"`` when an output has no space axes (e.g. batch × 1000 classes), else
    ``"segmentation"``; ``weights`` lists its weights formats, ``cannot_run`` says why the browser cannot run it
    (no ONNX weights) and how to convert it, else is None; ``onnx_source`` is where the description says its
    ONNX weights are (a path next to it, or a URL).
    """
    def tensor(t: Any) -> dict[str, Any]:
        return {"id": t.id, "dtype": t.data.type, "axes": [_axis_summary(a) for a in t.axes]}

    outputs = [tensor(t) for t in model.outputs]
    spatial = any(a["type"] == "space" for t in outputs for a in t["axes"])
    return {"name": model.name, "description": model.description, "inputs": [tensor(t) for t in model.inputs],
            "outputs": outputs, "kind": "segmentation" if spatial else "classifier", **_card(model),
            "weights": list(model.weights), "cannot_run": no_onnx_message(model),
            "onnx_source": model.weights["onnx"].source.source if "onnx" in model.weights else None}


async def describe_model(source: Any) -> Any:
    """:func:`describe` for the model at ``source`` (URL or zip bytes), as a JS object (loads no weights).

    ``sample`` tells the page where the sample (else test) input is: ``{name, url}`` next to a description at
    a URL, ``{name, data}`` (the bytes) inside a zip; absent when the model declares none.
    """
    from js import Object  # type: ignore[import-not-found]

    if isinstance(source, str):
        data = await fetch_bytes(source)
    else:
        data = _to_bytes(source)
    model = load(data)
    if not isinstance(model, ModelDescr):
        raise ValueError(f"{source if isinstance(source, str) else 'zip'}: a {model.type} description, not a model")
    info = describe(model)
    name = info["sample_file"]
    if name:
        shown = posixpath.basename(name.split("?")[0])
        if isinstance(source, str) and not data.startswith(b"PK\x03\x04"):
            info["sample"] = {"name": shown, "url": name if is_url(name) else urljoin(source, package_path(name))}
        elif not is_url(name) and model.root.exists(name):
            info["sample"] = {"name": shown, "data": to_js(memoryview(model.root.read(name)))}
    return to_js(info, dict_converter=Object.fromEntries)
