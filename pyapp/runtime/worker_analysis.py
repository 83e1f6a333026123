"""The model worker's analysis (Pyodide only): objects in a prediction and scores against ground truth.

scipy (about 20 MB with OpenBLAS) loads on the first such request, never at boot.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pyodide.ffi import to_js  # type: ignore[import-not-found]

from ..spec import ModelDescr
from ._layout import from_model_layout


async def _load_scipy() -> None:
    try:
        import scipy.ndimage  # noqa: F401
    except ModuleNotFoundError:
        import pyodide_js  # type: ignore[import-not-found]

        await pyodide_js.loadPackage(to_js(["scipy"]))


def split_options(value: Any) -> dict[str, Any]:
    """``{labels: true}`` or ``{labels: {threshold, minSize, minDistance, secondChannel}}`` as keywords of
    :func:`pyapp.analysis.output_labels`."""
    names = {"threshold": float, "minSize": int, "minDistance": int, "smooth": float, "secondChannel": str}
    given = value if isinstance(value, dict) else {}
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ValueError(f"unknown labels option {unknown[0]!r}; use {', '.join(names)}")
    keys = {"minSize": "min_size", "minDistance": "min_distance", "secondChannel": "second_channel"}
    return {keys.get(k, k): names[k](v) for k, v in given.items() if v is not None}


def _plain(value: Any) -> Any:
    value = value.item() if isinstance(value, np.generic) else value
    return None if isinstance(value, float) and not np.isfinite(value) else value


def _labels_js(labels: np.ndarray) -> dict[str, Any]:
    count = int(labels.max()) if labels.size else 0
    data = labels.astype(np.uint16 if count <= np.iinfo(np.uint16).max else np.int32)
    return {"shape": list(data.shape), "dtype": data.dtype.name, "count": count,
            "data": to_js(memoryview(np.ascontiguousarray(data).reshape(-1)))}


async def find_objects(model: ModelDescr, outputs: dict[str, np.ndarray], image: np.ndarray, image_axes: str,
                       options: Any) -> dict[str, Any]:
    """``{labels: {shape, dtype, data, count}, objects: [{label, area, ...}, ...]}`` of the model's first image
    output; intensities are measured on the input image when its plane has the labels' shape."""
    await _load_scipy()
    from ..analysis import image_output, object_table, output_labels, space_view

    split = split_options(options)
    tensor = image_output(model.outputs, second_channel=split.get("second_channel"))
    array, axes = from_model_layout(outputs[tensor.id], tensor, drop_batch=False)
    labels, _ = output_labels(array, axes, **split)
    try:
        plane = space_view(image, image_axes)[0]
    except ValueError:
        plane = None
    table = object_table(labels, plane if plane is not None and plane.shape == labels.shape else None)
    rows = [{k: _plain(v[i]) for k, v in table.items()} for i in range(len(table["label"]))]
    return {"labels": _labels_js(labels), "objects": rows}


async def evaluate(prediction: Any, ground_truth: Any, options: dict[str, Any]) -> dict[str, Any]:
    """Scores of ``prediction`` (``{shape, dtype, data}`` such as a result's ``labels``, or a URL) against the
    ground truth at ``ground_truth`` (URL of a label image or mask, or ``{shape, dtype, data}``).

    ``options``: ``kind`` ("auto", "labels", "image"), ``axes`` / ``gtAxes`` of the two images and the
    labels options of :func:`split_options` for a probability map. Returns ``{kind, notes, metrics}``.
    """
    from .worker import _image

    await _load_scipy()
    from ..analysis import score, space_view

    pred = space_view(*await _image(prediction, options.get("axes")))[0]
    true = space_view(*await _image(ground_truth, options.get("gtAxes")))[0]
    split = split_options({k: options[k] for k in ("threshold", "minSize", "minDistance") if k in options})
    result = score(pred, true, kind=str(options.get("kind") or "auto"), **split)
    result["metrics"] = {k: _plain(v) for k, v in result["metrics"].items()}
    return result
