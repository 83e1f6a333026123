"""Seeded watershed by priority flood (Beucher & Meyer 1993), in numpy and the standard library only.

``scipy.ndimage.watershed_ift`` is not a drop-in watershed: its arc weight is the absolute *difference* of
neighbouring values and object markers are queued last-in-first-out within a level, so flooding a distance map
with it gives meaningless regions. This module floods the cost image itself, in the order of scikit-image's
``watershed`` (lowest value first, ties first-in-first-out), so both give the same partition up to ties.
"""

from __future__ import annotations

import heapq

import numpy as np


def _offsets(shape: tuple[int, ...], connectivity: int) -> list[int]:
    """Flat index offsets of the neighbours of a pixel in an array padded by one on every side."""
    strides = np.cumprod((1, *[s + 2 for s in shape[::-1]]))[:-1][::-1]
    grid = np.stack(np.meshgrid(*[[-1, 0, 1]] * len(shape), indexing="ij"), -1).reshape(-1, len(shape))
    steps = np.abs(grid).sum(1)
    return [int(o) for o in grid[(steps > 0) & (steps <= connectivity)] @ strides]


def flood(cost: np.ndarray, markers: np.ndarray, mask: np.ndarray | None = None, *,
          connectivity: int | None = None) -> np.ndarray:
    """Grow ``markers`` over ``cost`` from low to high values, each pixel taking the label that reaches it first.

    Parameters
    ----------
    cost : ndarray
        The landscape to flood (e.g. the negated distance transform); any real dtype.
    markers : ndarray of int
        Seeds: positive labels, 0 elsewhere; same shape as ``cost``.
    mask : ndarray of bool, optional
        Only these pixels are flooded (default: all).
    connectivity : int, optional
        Neighbours are the pixels at most this many orthogonal steps away: 1 (4 in 2D), up to ``ndim``
        (8 in 2D, the default).

    Returns
    -------
    ndarray of int32
        The labels: every masked pixel connected to a marker carries that marker's label, others 0.

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[0, 1, 2, 1, 0]], dtype=float)
    >>> flood(cost, np.array([[1, 0, 0, 0, 2]])).tolist()
    [[1, 1, 1, 2, 2]]
    """
    cost = np.asarray(cost)
    markers = np.asarray(markers)
    if markers.shape != cost.shape:
        raise ValueError(f"markers have shape {markers.shape}, the cost image {cost.shape}")
    mask = np.ones(cost.shape, bool) if mask is None else np.asarray(mask, bool)
    connectivity = cost.ndim if connectivity is None else int(connectivity)
    if not 1 <= connectivity <= cost.ndim:
        raise ValueError(f"connectivity must be 1 to {cost.ndim}, not {connectivity}")
    # pad by one so neighbours never leave the array; the padding is outside the mask
    padded = np.pad(mask & (markers <= 0), 1).ravel()  # True: still to flood
    labels = np.pad(np.where(mask & (markers > 0), markers, 0).astype(np.int32), 1).ravel()
    values = np.pad(cost.astype(np.float64), 1).ravel().tolist()
    offsets = _offsets(cost.shape, connectivity)
    seeds = np.flatnonzero(labels)
    heap = [(values[i], age, i) for age, i in enumerate(seeds.tolist())]
    heapq.heapify(heap)
    todo = padded.tolist()
    out = labels.tolist()
    age = len(heap)
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        _, _, i = pop(heap)
        label = out[i]
        for o in offsets:
            j = i + o
            if todo[j]:
                todo[j] = False
                out[j] = label
                age += 1
                push(heap, (values[j], age, j))
    result = np.asarray(out, dtype=np.int32).reshape([s + 2 for s in cost.shape])
    return result[(slice(1, -1),) * cost.ndim]
