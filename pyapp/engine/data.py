"""Training data for the trainer: check uploaded pairs, normalise, make targets, split, crop and augment.

A *pair* is ``{"name": str, "image": ndarray (y, x), "mask": ndarray (y, x)}``; the mask holds instance labels
(0 = background) or a binary foreground. The network learns two channels:

- channel 0: foreground probability (``mask > 0``);
- channel 1: the normalised distance to the nucleus border: inside each instance, the Euclidean distance to
  the nearest pixel outside that instance divided by the instance's largest such distance (1 at the centre,
  falling to 0 at its border and between touching nuclei; 0 in the background). Its peaks are the seeds of a
  distance-transform seeded watershed, and ``-channel1`` is the landscape it floods.

Everything is numpy/scipy; random choices come from a ``numpy.random.Generator`` the caller seeds per step, so a
job resumed from a checkpoint draws the same batches as one that never stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Percentiles of the input normalisation (bioimage.io ``scale_range``, per sample, over y and x).
LOW, HIGH, EPS = 1.0, 99.8, 1e-6


class DataError(ValueError):
    """Uploaded training data is unusable; the message is one line naming the pair and the field."""


def normalize(image: np.ndarray) -> np.ndarray:
    """``(x - p1) / (p99.8 - p1 + 1e-6)`` as float32: bioimage.io ``scale_range`` over the whole image."""
    x = np.asarray(image, dtype=np.float32)
    lo, hi = np.percentile(x, [LOW, HIGH])
    return ((x - np.float32(lo)) / np.float32(hi - lo + EPS)).astype(np.float32)


def _squeeze2d(array: Any, where: str) -> np.ndarray:
    if not isinstance(array, np.ndarray):
        raise DataError(f"{where}: expected an ndarray, got {type(array).__name__}")
    a = array
    while a.ndim > 2 and 1 in (a.shape[0], a.shape[-1]):
        a = a[0] if a.shape[0] == 1 else a[..., 0]
    if a.ndim != 2:
        raise DataError(f"{where}: expected a 2D (y, x) array, got shape {tuple(array.shape)}")
    return a


def check_pairs(data: Any, max_bytes: int) -> list[dict[str, Any]]:
    """Validate uploaded ``data`` (a list of pairs) and return ``[{name, image, mask}]`` with 2D arrays.

    Raises
    ------
    DataError
        Over ``max_bytes`` in total, not a list of pairs, shapes that differ, a non-integer mask, no foreground.
    """
    if not isinstance(data, (list, tuple)) or not data:
        raise DataError("data: expected a non-empty list of {name, image, mask} pairs")
    total = sum(int(getattr(p.get(k), "nbytes", 0)) for p in data if isinstance(p, dict) for k in ("image", "mask"))
    if total > max_bytes:
        raise DataError(f"data: the upload is {total / 2**20:.1f} MiB, over this engine's limit of "
                        f"{max_bytes / 2**20:.1f} MiB; send fewer or smaller images")
    pairs = []
    for i, pair in enumerate(data):
        if not isinstance(pair, dict):
            raise DataError(f"data[{i}]: expected a dict with name, image and mask")
        name = str(pair.get("name") or f"pair {i}")
        image = _squeeze2d(pair.get("image"), f"data[{i}] ({name}).image")
        mask = _squeeze2d(pair.get("mask"), f"data[{i}] ({name}).mask")
        if image.shape != mask.shape:
            raise DataError(f"data[{i}] ({name}).mask: shape {mask.shape} differs from the image's {image.shape}")
        if min(image.shape) < 16:
            raise DataError(f"data[{i}] ({name}).image: {image.shape} is too small (at least 16 x 16 pixels)")
        if mask.dtype.kind not in "biu":
            raise DataError(f"data[{i}] ({name}).mask: expected integer labels or a binary mask, got {mask.dtype}")
        if image.dtype.kind not in "biuf" or not np.all(np.isfinite(image)):
            raise DataError(f"data[{i}] ({name}).image: expected finite numbers, got {image.dtype}")
        pairs.append({"name": name, "image": np.ascontiguousarray(image), "mask": np.ascontiguousarray(mask)})
    if not any(np.any(p["mask"]) for p in pairs):
        raise DataError("data: every mask is empty; mark some nuclei (mask > 0) to train on")
    return pairs


def instance_labels(mask: np.ndarray) -> np.ndarray:
    """Instance labels: ``mask`` itself when it has several labels, connected components when binary."""
    from scipy import ndimage

    mask = np.asarray(mask)
    if mask.dtype == bool or mask.max() <= 1:
        return ndimage.label(mask > 0)[0].astype(np.int32)
    return mask.astype(np.int32)


def targets(mask: np.ndarray) -> np.ndarray:
    """``(2, y, x)`` float32: foreground and the normalised border distance (see the module docstring)."""
    from scipy import ndimage

    labels = instance_labels(mask)
    dist = np.zeros(labels.shape, np.float32)
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        inside = np.pad(labels[box] == index, 1)
        d = ndimage.distance_transform_edt(inside)[1:-1, 1:-1]
        d = d / max(float(d.max()), 1.0)
        dist[box] = np.where(labels[box] == index, d, dist[box]).astype(np.float32)
    return np.stack([(labels > 0).astype(np.float32), dist])


@dataclass(frozen=True)
class Region:
    """A normalised image ``(y, x)`` and its targets ``(2, y, x)``, at least ``patch`` in each direction."""

    image: np.ndarray
    target: np.ndarray


def _padded(image: np.ndarray, target: np.ndarray, patch: int) -> Region:
    py, px = max(0, patch - image.shape[0]), max(0, patch - image.shape[1])
    if py or px:
        image = np.pad(image, ((0, py), (0, px)), mode="reflect" if min(image.shape) > 1 else "edge")
        target = np.pad(target, ((0, 0), (0, py), (0, px)), mode="constant")
    return Region(np.ascontiguousarray(image), np.ascontiguousarray(target))


def split(pairs: Sequence[dict[str, Any]], val_fraction: float, patch: int) -> tuple[list[Region], list[Region]]:
    """Training and validation regions: the bottom ``val_fraction`` of each image's rows is held out.

    A held-out stripe is at least 16 rows; ``val_fraction == 0`` holds out nothing.
    """
    train, val = [], []
    for pair in pairs:
        image, target = normalize(pair["image"]), targets(pair["mask"])
        rows = image.shape[0]
        n_val = 0 if val_fraction <= 0 else max(16, round(rows * val_fraction))
        n_val = min(n_val, rows - 16)
        cut = rows - n_val
        train.append(_padded(image[:cut], target[:, :cut], patch))
        if n_val > 0:
            val.append(Region(image[cut:], target[:, cut:]))
    return train, val


def batch(regions: Sequence[Region], rng: np.random.Generator, size: int, patch: int,
          augment: bool) -> tuple[np.ndarray, np.ndarray]:
    """``size`` random crops ``(n, 1, patch, patch)`` and their targets ``(n, 2, patch, patch)``.

    Augmentation: rot90 by a random quarter turn, flips, and an intensity change (gain 0.8–1.2, offset ±0.1,
    gamma-free so the normalisation stays linear).
    """
    xs = np.empty((size, 1, patch, patch), np.float32)
    ys = np.empty((size, 2, patch, patch), np.float32)
    for i in range(size):
        region = regions[int(rng.integers(len(regions)))]
        h, w = region.image.shape
        y0, x0 = int(rng.integers(h - patch + 1)), int(rng.integers(w - patch + 1))
        x = region.image[y0:y0 + patch, x0:x0 + patch]
        y = region.target[:, y0:y0 + patch, x0:x0 + patch]
        if augment:
            k = int(rng.integers(4))
            x, y = np.rot90(x, k), np.rot90(y, k, axes=(1, 2))
            if rng.random() < 0.5:
                x, y = x[:, ::-1], y[:, :, ::-1]
            gain, offset = rng.uniform(0.8, 1.2), rng.uniform(-0.1, 0.1)
            x = x * np.float32(gain) + np.float32(offset)
        xs[i, 0], ys[i] = x, y
    return xs, ys


def dice(prob: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> float:
    """Dice coefficient of ``prob > threshold`` against ``truth > 0`` (1.0 when both are empty)."""
    p, t = prob > threshold, truth > 0
    denom = int(p.sum()) + int(t.sum())
    return 1.0 if denom == 0 else 2.0 * float(np.logical_and(p, t).sum()) / denom
