"""A table with one row per object: label, area, centroid, bounding box, intensity, eccentricity; CSV text."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

Table = dict[str, np.ndarray]


def _axes(ndim: int) -> str:
    if not 1 <= ndim <= 3:
        raise ValueError(f"labels must have 1 to 3 space dimensions, not {ndim}")
    return "zyx"[-ndim:]


def object_table(labels: np.ndarray, intensity: np.ndarray | None = None) -> Table:
    """Measure every object of ``labels``.

    Columns (one entry per object, in label order): ``label``, ``area`` (pixels), ``centroid_<axis>``,
    ``bbox_<axis>0`` / ``bbox_<axis>1`` (first pixel, one past the last, as in ``labels[y0:y1, x0:x1]``),
    ``mean_intensity`` and ``max_intensity`` (of ``intensity``, when given) and, in 2D, ``eccentricity`` of the
    ellipse with the same second moments (0 for a disc, towards 1 for a line). Axes are named ``x``, ``y``, ``z``
    from the last.

    Parameters
    ----------
    labels : ndarray of int
        0 is background; labels need not be consecutive.
    intensity : ndarray, optional
        The image measured, same shape as ``labels``.

    Returns
    -------
    dict of str to ndarray
        Plain columns of equal length.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([[1, 1, 0], [0, 0, 2]])
    >>> t = object_table(labels, intensity=np.array([[1., 3., 0.], [0., 0., 5.]]))
    >>> t["label"].tolist(), t["area"].tolist(), t["centroid_x"].tolist(), t["mean_intensity"].tolist()
    ([1, 2], [2, 1], [0.5, 2.0], [2.0, 5.0])
    """
    labels = np.asarray(labels)
    axes = _axes(labels.ndim)
    if intensity is not None and np.shape(intensity) != labels.shape:
        raise ValueError(f"the intensity image has shape {np.shape(intensity)}, the labels {labels.shape}")
    ids = np.unique(labels)
    ids = ids[ids > 0]
    flat = labels.ravel()
    slot = np.searchsorted(ids, flat)  # index of each pixel's object (garbage for background, weighted 0)
    inside = flat > 0
    area = np.bincount(slot[inside], minlength=len(ids)).astype(np.int64)
    table: Table = {"label": ids.astype(np.int64), "area": area}
    coords = [c.ravel()[inside].astype(np.float64) for c in np.indices(labels.shape, sparse=False)]
    which = slot[inside]
    centroid = [np.bincount(which, c, minlength=len(ids)) / np.maximum(area, 1) for c in coords]
    for a, c in zip(axes, centroid, strict=True):
        table[f"centroid_{a}"] = c
    boxes = ndimage.find_objects(np.where(inside, slot + 1, 0).reshape(labels.shape))  # dense: one per object
    for end, attr in (("0", "start"), ("1", "stop")):
        for k, a in enumerate(axes):
            table[f"bbox_{a}{end}"] = np.array([getattr(b[k], attr) for b in boxes], np.int64)
    if intensity is not None:
        values = np.asarray(intensity, np.float64).ravel()[inside]
        table["mean_intensity"] = np.bincount(which, values, minlength=len(ids)) / np.maximum(area, 1)
        peak = np.full(len(ids), -np.inf)
        np.maximum.at(peak, which, values)
        table["max_intensity"] = peak
    if labels.ndim == 2:
        table["eccentricity"] = _eccentricity(which, coords, centroid, area)
    return table


def _eccentricity(which: np.ndarray, coords: list[np.ndarray], centroid: list[np.ndarray],
                  area: np.ndarray) -> np.ndarray:
    """sqrt(1 - λ2/λ1) of each object's coordinate covariance (population normalisation)."""
    dy = coords[0] - centroid[0][which]
    dx = coords[1] - centroid[1][which]
    n = np.maximum(area, 1)
    syy = np.bincount(which, dy * dy, minlength=len(area)) / n
    sxx = np.bincount(which, dx * dx, minlength=len(area)) / n
    sxy = np.bincount(which, dx * dy, minlength=len(area)) / n
    half = (syy + sxx) / 2
    root = np.sqrt(((syy - sxx) / 2) ** 2 + sxy ** 2)
    big, small = half + root, np.maximum(half - root, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(big > 0, np.sqrt(1 - small / np.where(big > 0, big, 1)), 0.0)


def _cell(value: object) -> str:
    if isinstance(value, float | np.floating):
        return "" if math.isnan(value) else f"{float(value):.6g}"
    return str(int(value)) if isinstance(value, int | np.integer) else str(value)


def table_to_csv(table: Table) -> str:
    """The table as CSV text (header row, ``\\n`` line ends, floats to 6 significant digits).

    Examples
    --------
    >>> import numpy as np
    >>> print(table_to_csv({"label": np.array([1, 2]), "area": np.array([3, 40]), "mean": np.array([0.5, 1/3])}))
    label,area,mean
    1,3,0.5
    2,40,0.333333
    <BLANKLINE>
    """
    names = list(table)
    rows = [",".join(names)]
    rows += [",".join(_cell(table[k][i]) for k in names) for i in range(len(table[names[0]]) if names else 0)]
    return "\n".join(rows) + "\n"
