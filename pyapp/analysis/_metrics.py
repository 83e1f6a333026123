"""Segmentation scores against ground truth: object matching at IoU thresholds (the DSB 2018 score), mean matched
IoU, SEG of the Cell Tracking Challenge, and Dice/IoU of foreground masks."""

from __future__ import annotations

import numpy as np

#: IoU thresholds of the Data Science Bowl 2018 score: 0.5, 0.55, ..., 0.95.
THRESHOLDS = tuple(round(0.5 + 0.05 * k, 2) for k in range(10))


def _dense(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Labels renumbered 0..n (background stays 0) and n."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iub":
        raise ValueError(f"labels must be integers, not {labels.dtype}")
    ids, inverse = np.unique(labels, return_inverse=True)
    if ids[0] < 0:
        raise ValueError("labels must be non-negative")
    if ids[0] != 0:  # no background pixel: keep 0 free for it
        inverse = inverse + 1
        ids = np.concatenate([[0], ids])
    return inverse.reshape(labels.shape).astype(np.intp), len(ids) - 1  # intp: what bincount takes (32-bit in wasm)


def overlaps(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Pixel counts of every (predicted, true) label pair, background row/column 0 included.

    Labels are first renumbered densely in sorted order, so row ``i`` is the ``i``-th smallest predicted label.

    Examples
    --------
    >>> import numpy as np
    >>> overlaps(np.array([0, 5, 5, 7]), np.array([0, 1, 0, 1])).tolist()
    [[1, 0], [1, 1], [0, 1]]
    """
    if np.shape(pred) != np.shape(true):
        raise ValueError(f"the prediction has shape {np.shape(pred)}, the ground truth {np.shape(true)}")
    p, n_p = _dense(pred)
    t, n_t = _dense(true)
    counts = np.bincount((p * (n_t + 1) + t).ravel(), minlength=(n_p + 1) * (n_t + 1))
    return counts.reshape(n_p + 1, n_t + 1)


def iou_matrix(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """IoU of every predicted object (rows) with every true object (columns), background left out.

    Examples
    --------
    >>> import numpy as np
    >>> iou_matrix(np.array([1, 1, 2, 0]), np.array([1, 0, 2, 2])).tolist()
    [[0.5, 0.0], [0.0, 0.5]]
    """
    counts = overlaps(pred, true)
    inter = counts[1:, 1:].astype(np.float64)
    union = counts[1:].sum(1)[:, None] + counts[:, 1:].sum(0)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def instance_scores(pred: np.ndarray, true: np.ndarray, *, thresholds: tuple[float, ...] = THRESHOLDS) -> dict:
    """Object-level scores of predicted instance labels against true ones.

    A predicted and a true object match at threshold ``t`` when their IoU is *above* ``t``; for ``t >= 0.5`` an
    object can match at most one other, so no assignment problem arises. With TP matches, FP unmatched
    predictions and FN unmatched true objects: precision TP/(TP+FP), recall TP/(TP+FN), F1 2TP/(2TP+FP+FN) and
    accuracy TP/(TP+FP+FN) (the Data Science Bowl 2018 score, there averaged over 0.5:0.95). Empty sets score 1
    where nothing was to be found and nothing was found, else 0.

    Returns
    -------
    dict
        ``objects_pred``, ``objects_true``, ``tp``, ``fp``, ``fn``, ``precision``, ``recall``, ``f1``,
        ``accuracy`` at the first threshold; ``precision_avg``, ``recall_avg``, ``f1_avg``, ``accuracy_avg``
        over all thresholds; ``mean_matched_iou`` (mean IoU of the pairs matched at the first threshold, 0
        without any); ``seg`` (see :func:`seg`).

    Examples
    --------
    >>> import numpy as np
    >>> true = np.array([[1, 1, 0, 2, 2]])
    >>> s = instance_scores(np.array([[1, 1, 0, 0, 2]]), true)
    >>> s["tp"], s["fp"], s["fn"], s["f1"]
    (1, 1, 1, 0.5)
    """
    if any(t < 0.5 for t in thresholds):
        raise ValueError("IoU thresholds below 0.5 allow one object to match several; use 0.5 or more")
    iou = iou_matrix(pred, true)
    n_pred, n_true = iou.shape
    rows = []
    for t in thresholds:
        tp = int((iou > t).sum())
        fp, fn = n_pred - tp, n_true - tp
        rows.append((tp, fp, fn, _ratio(tp, tp + fp), _ratio(tp, tp + fn), _ratio(2 * tp, 2 * tp + fp + fn),
                     _ratio(tp, tp + fp + fn)))
    tp, fp, fn, precision, recall, f1, accuracy = rows[0]
    matched = iou[iou > thresholds[0]]
    scores = {"objects_pred": n_pred, "objects_true": n_true, "tp": tp, "fp": fp, "fn": fn,
              "precision": precision, "recall": recall, "f1": f1, "accuracy": accuracy}
    for k, name in enumerate(("precision", "recall", "f1", "accuracy"), start=3):
        scores[f"{name}_avg"] = float(np.mean([r[k] for r in rows]))
    scores["mean_matched_iou"] = float(matched.mean()) if matched.size else 0.0
    scores["seg"] = seg(pred, true)
    return scores


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else 1.0


def seg(pred: np.ndarray, true: np.ndarray) -> float:
    """SEG of the Cell Tracking Challenge (Maška et al. 2014; Ulman et al. 2017).

    Each true object R is paired with the predicted object S covering more than half of it
    (|R ∩ S| > 0.5 |R|); it scores the Jaccard index |R ∩ S| / |R ∪ S|, or 0 without such S. SEG is the mean
    over true objects (1.0 when there are none and nothing is predicted, else 0 for no true objects).

    Examples
    --------
    >>> import numpy as np
    >>> round(seg(np.array([[1, 1, 1, 0, 2]]), np.array([[1, 1, 0, 0, 2]])), 4)
    0.8333
    """
    counts = overlaps(pred, true)
    if counts.shape[1] == 1:
        return 1.0 if counts.shape[0] == 1 else 0.0
    size_true = counts[:, 1:].sum(0)
    size_pred = counts[1:].sum(1)
    inter = counts[1:, 1:]
    best = inter.argmax(0) if inter.shape[0] else np.zeros(inter.shape[1], np.intp)
    shared = inter[best, np.arange(inter.shape[1])] if inter.shape[0] else np.zeros(inter.shape[1])
    hit = 2 * shared > size_true
    union = size_true + (size_pred[best] if inter.shape[0] else 0) - shared
    jaccard = np.where(hit, shared / np.where(hit, union, 1), 0.0)
    return float(jaccard.mean())


def mask_scores(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Dice 2|A∩B|/(|A|+|B|) and IoU |A∩B|/|A∪B| of the foregrounds (nonzero pixels); 1.0 when both are empty.

    Examples
    --------
    >>> import numpy as np
    >>> mask_scores(np.array([1, 1, 0, 0]), np.array([0, 1, 1, 0]))
    {'dice': 0.5, 'iou': 0.3333333333333333}
    """
    if np.shape(pred) != np.shape(true):
        raise ValueError(f"the prediction has shape {np.shape(pred)}, the ground truth {np.shape(true)}")
    a, b = np.asarray(pred) != 0, np.asarray(true) != 0
    inter, size = int((a & b).sum()), int(a.sum() + b.sum())
    return {"dice": _ratio(2 * inter, size), "iou": _ratio(inter, size - inter)}
