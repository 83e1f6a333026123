"""pyapp.analysis scores against their published definitions, computed here the slow, obvious way.

Instance matching: IoU of every object pair from boolean masks, then a maximum matching found by
``scipy.optimize.linear_sum_assignment`` (no reliance on the IoU > 0.5 uniqueness the package uses). SEG: the Cell
Tracking Challenge rule per true object. SSIM: one window at a time. PSNR/SSIM/NRMSE are also compared with
``skimage.metrics`` where scikit-image is installed (CPython; not in Pyodide). Pure numpy/scipy: runs in Pyodide.
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

import pyapp.analysis
from pyapp.analysis import (
    THRESHOLDS,
    instance_scores,
    mask_scores,
    nrmse,
    psnr,
    restoration_scores,
    score,
    seg,
    ssim,
)

SKIMAGE = "scikit-image (the CPython reference) is not installed"


def random_labels(rng: np.random.Generator, shape=(48, 56), n=12) -> np.ndarray:
    """Random overlapping discs, later ones on top; labels with gaps (x 3)."""
    yy, xx = np.indices(shape)
    out = np.zeros(shape, np.int32)
    for k in range(1, n + 1):
        cy, cx, r = rng.integers(0, shape[0]), rng.integers(0, shape[1]), rng.integers(2, 9)
        out[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = 3 * k
    return out


def perturbed(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """A prediction: shifted by a pixel, one object dropped, one false object added, two objects merged."""
    pred = np.roll(labels, (rng.integers(-1, 2), rng.integers(-1, 2)), axis=(0, 1)).copy()
    ids = [i for i in np.unique(pred) if i]
    if len(ids) > 3:
        pred[pred == ids[0]] = 0
        pred[pred == ids[1]] = ids[2]
    pred[:4, :4] = 999
    return pred


def brute_force(pred: np.ndarray, true: np.ndarray) -> dict:
    p_ids = [i for i in np.unique(pred) if i]
    t_ids = [i for i in np.unique(true) if i]
    iou = np.zeros((len(p_ids), len(t_ids)))
    for a, i in enumerate(p_ids):
        for b, j in enumerate(t_ids):
            inter = np.logical_and(pred == i, true == j).sum()
            union = np.logical_or(pred == i, true == j).sum()
            iou[a, b] = inter / union
    rows = []
    for t in THRESHOLDS:
        if iou.size:
            r, c = linear_sum_assignment(-(iou > t).astype(float))
            tp = int((iou[r, c] > t).sum())
        else:
            tp = 0
        fp, fn = len(p_ids) - tp, len(t_ids) - tp
        rows.append({"tp": tp, "fp": fp, "fn": fn,
                     "precision": tp / (tp + fp) if tp + fp else 1.0, "recall": tp / (tp + fn) if tp + fn else 1.0,
                     "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0,
                     "accuracy": tp / (tp + fp + fn) if tp + fp + fn else 1.0})
    matched = [v for v in iou.ravel() if v > 0.5]
    out = dict(rows[0], objects_pred=len(p_ids), objects_true=len(t_ids),
               mean_matched_iou=float(np.mean(matched)) if matched else 0.0)
    for name in ("precision", "recall", "f1", "accuracy"):
        out[f"{name}_avg"] = float(np.mean([row[name] for row in rows]))
    return out


def brute_seg(pred: np.ndarray, true: np.ndarray) -> float:
    scores = []
    for j in (j for j in np.unique(true) if j):
        r = true == j
        score = 0.0
        for i in (i for i in np.unique(pred) if i):
            s = pred == i
            if np.logical_and(r, s).sum() > 0.5 * r.sum():
                score = np.logical_and(r, s).sum() / np.logical_or(r, s).sum()
        scores.append(score)
    return float(np.mean(scores))


@pytest.mark.parametrize("seed", range(6))
def test_instance_scores_equal_brute_force(seed: int):
    rng = np.random.default_rng(seed)
    true = random_labels(rng)
    pred = perturbed(rng, true)
    got = instance_scores(pred, true)
    expected = brute_force(pred, true)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key
    assert got["seg"] == pytest.approx(brute_seg(pred, true), abs=1e-12)
    assert 0 < got["f1"] < 1


def test_seg_of_an_undersegmentation():
    """Two true objects covered by one prediction: each is fully inside it, so each scores its Jaccard index."""
    true = np.zeros((10, 20), np.uint16)
    true[2:8, 2:10] = 1
    true[2:8, 10:14] = 2
    pred = (true > 0).astype(np.uint8)
    part = np.where(np.arange(20) < 8, pred, 0)  # 3/4 of object 1, nothing of object 2
    assert seg(part, true) == pytest.approx((36 / 48 + 0) / 2)
    assert seg(np.where(np.arange(20) < 5, pred, 0), true) == 0.0  # less than half of object 1
    assert seg(pred, true) == pytest.approx(brute_seg(pred, true))
    assert seg(pred, true) == pytest.approx((48 / 72 + 24 / 72) / 2)


def test_perfect_and_empty_segmentations():
    true = random_labels(np.random.default_rng(9))
    perfect = instance_scores(true * 7, true)  # other label values, same objects
    assert perfect["f1_avg"] == perfect["accuracy_avg"] == perfect["seg"] == perfect["mean_matched_iou"] == 1.0
    empty = np.zeros_like(true)
    assert instance_scores(empty, true)["recall"] == 0.0 and instance_scores(empty, true)["seg"] == 0.0
    assert instance_scores(empty, empty)["f1"] == 1.0 and seg(empty, empty) == 1.0
    assert instance_scores(true, empty)["precision"] == 0.0


def test_mask_scores_from_pixel_sets():
    rng = np.random.default_rng(3)
    a, b = rng.random((30, 30)) > 0.6, rng.random((30, 30)) > 0.5
    sa, sb = set(zip(*np.nonzero(a), strict=True)), set(zip(*np.nonzero(b), strict=True))
    got = mask_scores(a.astype(np.uint8) * 5, b)
    assert got["dice"] == pytest.approx(2 * len(sa & sb) / (len(sa) + len(sb)))
    assert got["iou"] == pytest.approx(len(sa & sb) / len(sa | sb))
    assert mask_scores(np.zeros(4), np.zeros(4)) == {"dice": 1.0, "iou": 1.0}


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(ValueError, match=r"shape \(3,\), the ground truth \(4,\)"):
        instance_scores(np.zeros(3, int), np.zeros(4, int))
    with pytest.raises(ValueError, match="labels must be integers"):
        instance_scores(np.zeros(3), np.zeros(3, int))
    with pytest.raises(ValueError, match=r"below 0\.5"):
        instance_scores(np.zeros(3, int), np.zeros(3, int), thresholds=(0.3,))
    with pytest.raises(ValueError, match="constant"):
        psnr(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="normalization"):
        nrmse(np.zeros(3), np.ones(3), normalization="max")
    with pytest.raises(ValueError, match="window"):
        ssim(np.zeros((5, 5)), np.arange(25.0).reshape(5, 5))


# ------------------------------------------------------------------------------------------ restoration


def noisy_pair(seed: int, shape=(24, 31)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true = rng.gamma(2.0, 20.0, shape)
    return true + rng.normal(0, 8, shape), true


def brute_ssim(pred: np.ndarray, true: np.ndarray, data_range: float, win: int = 7) -> float:
    """Wang et al. (2004) eq. 13 in every full win x win window, sample covariance, mean over windows."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    values = []
    for y in range(true.shape[0] - win + 1):
        for x in range(true.shape[1] - win + 1):
            a, b = pred[y:y + win, x:x + win].ravel(), true[y:y + win, x:x + win].ravel()
            cov = np.cov(a, b)  # n - 1
            ma, mb = a.mean(), b.mean()
            values.append((2 * ma * mb + c1) * (2 * cov[0, 1] + c2)
                          / ((ma ** 2 + mb ** 2 + c1) * (cov[0, 0] + cov[1, 1] + c2)))
    return float(np.mean(values))


@pytest.mark.parametrize("seed", range(3))
def test_restoration_scores_equal_definitions(seed: int):
    pred, true = noisy_pair(seed)
    r = float(true.max() - true.min())
    mse = float(np.mean((pred - true) ** 2))
    assert psnr(pred, true) == pytest.approx(10 * np.log10(r * r / mse), rel=1e-12)
    assert nrmse(pred, true) == pytest.approx(np.sqrt(mse) / np.sqrt(np.mean(true ** 2)), rel=1e-12)
    assert nrmse(pred, true, normalization="min-max") == pytest.approx(np.sqrt(mse) / r, rel=1e-12)
    assert nrmse(pred, true, normalization="mean") == pytest.approx(np.sqrt(mse) / true.mean(), rel=1e-12)
    assert ssim(pred, true) == pytest.approx(brute_ssim(pred, true, r), rel=1e-9)
    assert restoration_scores(pred, true) == {"psnr": psnr(pred, true), "ssim": ssim(pred, true),
                                              "nrmse": nrmse(pred, true)}
    assert psnr(true, true) == float("inf") and ssim(true, true) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(3))
def test_restoration_scores_equal_skimage(seed: int):
    metrics = pytest.importorskip("skimage.metrics", reason=SKIMAGE)
    pred, true = noisy_pair(seed)
    for data_range in (None, 255.0):
        r = float(true.max() - true.min()) if data_range is None else data_range
        assert psnr(pred, true, data_range=data_range) == pytest.approx(
            metrics.peak_signal_noise_ratio(true, pred, data_range=r), rel=1e-12)
        assert ssim(pred, true, data_range=data_range) == pytest.approx(
            metrics.structural_similarity(true, pred, data_range=r), rel=1e-9)
        assert ssim(pred, true, data_range=data_range, gaussian=True) == pytest.approx(
            metrics.structural_similarity(true, pred, data_range=r, gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False), rel=1e-9)
    for norm in ("euclidean", "min-max", "mean"):
        assert nrmse(pred, true, normalization=norm) == pytest.approx(
            metrics.normalized_root_mse(true, pred, normalization=norm), rel=1e-12)
    volume_pred, volume_true = noisy_pair(seed, shape=(9, 12, 10))
    assert ssim(volume_pred, volume_true) == pytest.approx(
        metrics.structural_similarity(volume_true, volume_pred, data_range=float(np.ptp(volume_true))), rel=1e-9)


def test_docstring_examples_run():
    """Every example in pyapp.analysis's docstrings gives the output it shows."""
    import importlib

    names = ["", "._flood", "._labels", "._layout", "._measure", "._metrics", "._restoration"]
    total = 0
    for name in names:
        module = importlib.import_module(pyapp.analysis.__name__ + name)
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, f"{module.__name__}: {result.failed} docstring examples failed"
        total += result.attempted
    assert total >= 15


def test_score_picks_the_kind_from_the_ground_truth():
    rng = np.random.default_rng(6)
    true = random_labels(rng)
    pred = perturbed(rng, true)
    labels = score(pred, true)
    assert labels["kind"] == "labels" and labels["notes"] == []
    assert labels["metrics"] == {**instance_scores(pred, true), **mask_scores(pred, true)}
    mask = score((true > 0).astype(np.uint8), true)
    assert mask["notes"] == [f"prediction: a mask; its {mask['metrics']['objects_pred']} connected parts count as "
                             "objects"]
    image_pred, image_true = noisy_pair(1)
    assert score(image_pred, image_true) == {"kind": "image", "notes": [],
                                             "metrics": restoration_scores(image_pred, image_true)}
    assert score(true, true, kind="image")["metrics"]["psnr"] == float("inf")
    with pytest.raises(ValueError, match="ground truth: ground truth labels must be integers, not float64"):
        score(image_pred, image_true, kind="labels")
    with pytest.raises(ValueError, match="kind must be one of auto, labels, image"):
        score(true, true, kind="masks")


def test_label_values_do_not_matter():
    """Large or sparse label values (uint32 near its top, int64) give the scores of the same objects numbered 1..n."""
    rng = np.random.default_rng(11)
    true = random_labels(rng)
    pred = perturbed(rng, true)
    ids = np.unique(pred)
    big = np.zeros_like(pred, dtype=np.uint32)
    big[pred > 0] = np.uint32(2**32 - 1) - np.searchsorted(ids, pred[pred > 0]).astype(np.uint32)
    assert instance_scores(big, true.astype(np.int64)) == instance_scores(pred, true)


@pytest.mark.parametrize("seed", range(3))
def test_swapping_prediction_and_truth_swaps_precision_and_recall(seed: int):
    rng = np.random.default_rng(20 + seed)
    true = random_labels(rng)
    pred = perturbed(rng, true)
    forward, backward = instance_scores(pred, true), instance_scores(true, pred)
    for a, b in (("precision", "recall"), ("precision_avg", "recall_avg"), ("fp", "fn")):
        assert forward[a] == backward[b] and forward[b] == backward[a]
    for key in ("tp", "f1", "accuracy", "f1_avg", "accuracy_avg", "mean_matched_iou"):
        assert forward[key] == pytest.approx(backward[key], abs=1e-12), key
    assert mask_scores(pred, true) == mask_scores(true, pred)
