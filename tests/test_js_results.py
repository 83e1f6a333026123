"""The page's object matching and CSV (web/pyapp/results.js) through node: matched / missed / false counts equal
``pyapp.analysis.instance_scores`` (IoU strictly above 0.5, the DSB 2018 rule) on random label images, a 0/1 mask
counts its 8-connected parts (as ``score`` does), and the CSV reads back with Python's csv module."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from pyapp.analysis import instance_scores

ROOT = Path(__file__).resolve().parents[1]
RESULTS_JS = ROOT / "web" / "pyapp" / "results.js"
CHECK = ROOT / "tests" / "js" / "results_check.mjs"


def discs(rng: np.random.Generator, shape: tuple[int, int], n: int, jitter: float = 0.0) -> np.ndarray:
    """``n`` discs (later ones on top) numbered 1..n, centres and radii jittered by ``jitter`` pixels."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    out = np.zeros(shape, np.int32)
    centres = rng.uniform(4, min(shape) - 4, (n, 2))
    radii = rng.uniform(2, 6, n)
    for k, ((cy, cx), r) in enumerate(zip(centres, radii, strict=True), start=1):
        dy, dx, dr = rng.normal(0, jitter, 3) if jitter else (0, 0, 0)
        out[(yy - cy - dy) ** 2 + (xx - cx - dx) ** 2 <= (r + dr) ** 2] = k
    return out


def run_node(cases: list[dict], tmp_path: Path) -> list[dict]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed for the JavaScript tests (apt nodejs)", pytrace=False)
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases))
    proc = subprocess.run([node, str(CHECK), str(RESULTS_JS), str(path)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def case(pred: np.ndarray, truth: np.ndarray, rows: list | None = None) -> dict:
    return {"pred": {"shape": list(pred.shape), "data": pred.ravel().tolist()},
            "truth": {"shape": list(truth.shape), "data": truth.ravel().tolist()}, "rows": rows or []}


def test_counts_equal_instance_scores(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    pairs = []
    for seed in range(12):
        truth = discs(np.random.default_rng(seed), (48, 64), 10)
        pred = discs(np.random.default_rng(seed), (48, 64), 10, jitter=1.5)
        drop = rng.integers(1, 11)
        pred[pred == drop] = 0  # a missed object
        pred[rng.integers(0, 44):, :3] = 11  # a false one at the border
        pairs.append((pred, truth))
    # IoU exactly 0.5 does not match; an empty prediction; identical labels
    half_p, half_t = np.zeros((4, 4), np.int32), np.zeros((4, 4), np.int32)
    half_p[0, 0:2], half_t[0, 0] = 1, 1
    pairs += [(half_p, half_t), (np.zeros((8, 8), np.int32), discs(rng, (8, 8), 1)), (pairs[0][1], pairs[0][1])]
    got = run_node([case(p, t) for p, t in pairs], tmp_path)
    for (pred, truth), answer in zip(pairs, got, strict=True):
        expected = instance_scores(pred, truth)
        assert [answer[k] for k in ("tp", "fp", "fn")] == [expected[k] for k in ("tp", "fp", "fn")]
    assert got[-3]["tp"] == 0  # the IoU 0.5 pair


def test_mask_counts_its_8_connected_parts(tmp_path: Path) -> None:
    truth = discs(np.random.default_rng(3), (48, 64), 12)
    mask = (truth > 0).astype(np.int32)
    mask[10, 10] = mask[11, 11] = 1  # two pixels touching only diagonally: one part
    pred = discs(np.random.default_rng(3), (48, 64), 12, jitter=1.0)
    answer = run_node([case(pred, mask)], tmp_path)[0]
    parts = ndimage.label(mask, structure=np.ones((3, 3), bool))[0]
    expected = instance_scores(pred, parts)
    assert [answer[k] for k in ("tp", "fp", "fn")] == [expected[k] for k in ("tp", "fp", "fn")]


def test_csv_reads_back(tmp_path: Path) -> None:
    rows = [{"label": 1, "area": 30, "centroid_y": 2.5, "mean_intensity": 10.123456789, "eccentricity": None},
            {"label": 2, "area": 7, "centroid_y": 0.125, "mean_intensity": 3.0, "eccentricity": 0.5}]
    text = run_node([case(np.zeros((1, 1), np.int32), np.zeros((1, 1), np.int32), rows)], tmp_path)[0]["csv"]
    back = list(csv.DictReader(io.StringIO(text)))
    assert list(back[0]) == list(rows[0])
    for row, read in zip(rows, back, strict=True):
        for key, value in row.items():
            assert (read[key] == "") if value is None else (float(read[key]) == value), key  # full precision
