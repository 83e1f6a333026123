"""One entry point for "how good is this prediction": picks segmentation or restoration scores by data type."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from ._labels import instance_labels
from ._metrics import instance_scores, mask_scores
from ._restoration import restoration_scores

KINDS = ("auto", "labels", "image")


def as_instances(array: np.ndarray, name: str, **split: Any) -> tuple[np.ndarray, str | None]:
    """Objects of ``array``: integer labels as they are, a 0/1 mask as its connected parts (8-connected in 2D),
    a float probability map split by :func:`instance_labels` (``split`` are its options). The note says which
    of the last two happened (None for labels)."""
    array = np.asarray(array)
    if array.dtype.kind == "f":
        labels = instance_labels(array, **split)
        return labels, f"{name}: probability split into {int(labels.max())} objects"
    if array.dtype == bool or set(np.unique(array).tolist()) <= {0, 1}:
        labels, n = ndimage.label(array, structure=np.ones((3,) * array.ndim, bool))
        return labels, f"{name}: a mask; its {n} connected parts count as objects"
    return array, None


def score(pred: np.ndarray, true: np.ndarray, *, kind: str = "auto", names: tuple[str, str] = ("prediction",
          "ground truth"), **split: Any) -> dict[str, Any]:
    """Scores of ``pred`` against ``true``: ``{"kind", "notes", "metrics"}``.

    ``kind="labels"`` (``"auto"`` picks it when ``true`` holds integers): :func:`instance_scores` and
    :func:`mask_scores` of the objects (see :func:`as_instances`); ``kind="image"``: :func:`restoration_scores`.

    Examples
    --------
    >>> import numpy as np
    >>> result = score(np.array([[0.9, 0.9, 0.1, 0.8]]), np.array([[1, 1, 0, 2]]), min_size=1)
    >>> result["kind"], result["notes"], result["metrics"]["f1"]
    ('labels', ['prediction: probability split into 2 objects'], 1.0)
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    pred, true = np.asarray(pred), np.asarray(true)
    if pred.shape != true.shape:
        raise ValueError(f"{names[0]} has shape {pred.shape} but {names[1]} has {true.shape}; they must match")
    if kind == "auto":
        kind = "labels" if true.dtype.kind in "iub" else "image"
    if kind == "image":
        return {"kind": kind, "notes": [], "metrics": restoration_scores(pred, true)}
    if true.dtype.kind not in "iub":
        raise ValueError(f"{names[1]}: ground truth labels must be integers, not {true.dtype}; restored images "
                         "are scored as kind 'image'")
    notes = []
    objects = []
    for array, name in ((pred, names[0]), (true, names[1])):
        labels, note = as_instances(array, name, **split)
        objects.append(labels)
        notes += [note] if note else []
    return {"kind": kind, "notes": notes, "metrics": {**instance_scores(*objects), **mask_scores(*objects)}}
