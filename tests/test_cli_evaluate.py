"""`pyapp evaluate` and `pyapp predict --labels` from the command line, checked against pyapp.analysis and
scikit-image computed here on the same files."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from shared_paths import GOLD, SHARED

from pyapp.analysis import instance_scores, mask_scores, object_table, restoration_scores
from pyapp.cli import example_model, main
from pyapp.io import read_image, write_image

DSB = SHARED / "data" / "nuclei-dsb2018"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pyapp.cli", *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def predicted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("predicted")
    assert main(["predict", str(GOLD), str(DSB / "img2d.tif"), "-o", str(out), "--labels"]) == 0
    return out


def test_predict_labels_writes_labels_and_table(predicted: Path):
    labels, axes = read_image(predicted / "img2d_labels.tif")
    assert labels.dtype == np.uint16 and axes == "yx" and labels.shape == (512, 512)
    n = int(labels.max())
    assert sorted(np.unique(labels).tolist()) == list(range(n + 1))
    assert abs(n - 125) <= 0.15 * 125
    rows = list(csv.DictReader((predicted / "img2d_objects.csv").read_text().splitlines()))
    image = read_image(DSB / "img2d.tif")[0]
    table = object_table(labels, image)
    assert len(rows) == n and list(rows[0]) == list(table)
    for k in (0, n // 2, n - 1):
        for key in ("label", "area", "bbox_x1"):
            assert int(rows[k][key]) == table[key][k]
        for key in ("centroid_y", "mean_intensity", "eccentricity"):
            assert float(rows[k][key]) == pytest.approx(table[key][k], rel=1e-5)


def test_evaluate_prints_one_line_per_metric(predicted: Path):
    proc = _run("evaluate", str(predicted / "img2d_labels.tif"), str(DSB / "mask2d.tif"))
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(": ", 1) for line in proc.stdout.splitlines())
    pred, true = read_image(predicted / "img2d_labels.tif")[0], read_image(DSB / "mask2d.tif")[0]
    expected = {**instance_scores(pred, true), **mask_scores(pred, true)}
    assert list(lines) == list(expected)
    for key, value in expected.items():
        assert float(lines[key]) == pytest.approx(value, abs=5e-5), key
    assert float(lines["f1"]) >= 0.75


def test_evaluate_json_splits_a_probability_map(predicted: Path):
    proc = _run("evaluate", str(predicted / "img2d_probability.tif"), str(DSB / "mask2d.tif"), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["kind"] == "labels" and "probability split into" in result["notes"][0]
    labels = read_image(predicted / "img2d_labels.tif")[0]
    assert result["metrics"] == instance_scores(labels, read_image(DSB / "mask2d.tif")[0]) | mask_scores(
        labels, read_image(DSB / "mask2d.tif")[0])


def test_evaluate_mask_and_restoration(tmp_path: Path):
    metrics = pytest.importorskip("skimage.metrics", reason="scikit-image is a test dependency")
    rng = np.random.default_rng(2)
    true = rng.gamma(2.0, 30.0, (40, 50)).astype(np.float32)
    pred = (true + rng.normal(0, 5, true.shape)).astype(np.float32)
    write_image(tmp_path / "true.tif", true, "yx")
    write_image(tmp_path / "pred.tif", pred, "yx")
    result = json.loads(_run("evaluate", str(tmp_path / "pred.tif"), str(tmp_path / "true.tif"), "--json").stdout)
    r = float(true.max() - true.min())
    assert result["kind"] == "image"
    assert result["metrics"]["psnr"] == pytest.approx(metrics.peak_signal_noise_ratio(true, pred, data_range=r))
    assert result["metrics"]["ssim"] == pytest.approx(metrics.structural_similarity(true, pred, data_range=r))
    assert result["metrics"]["nrmse"] == pytest.approx(metrics.normalized_root_mse(true, pred))
    # uint16 restoration outputs need --kind image; a 0/1 mask against labels counts connected parts
    write_image(tmp_path / "p16.tif", pred.astype(np.uint16), "yx")
    write_image(tmp_path / "t16.tif", true.astype(np.uint16), "yx")
    forced = json.loads(_run("evaluate", str(tmp_path / "p16.tif"), str(tmp_path / "t16.tif"), "--kind", "image",
                              "--json").stdout)
    assert forced["metrics"] == pytest.approx(restoration_scores(pred.astype(np.uint16), true.astype(np.uint16)))
    mask = np.zeros((40, 50), np.uint8)
    mask[5:15, 5:15] = mask[20:30, 30:45] = 1
    labels = mask.astype(np.uint16) * 7
    labels[20:30, 30:45] = 9
    np.save(tmp_path / "mask.npy", mask)
    np.save(tmp_path / "labels.npy", labels)
    scored = json.loads(_run("evaluate", str(tmp_path / "mask.npy"), str(tmp_path / "labels.npy"), "--json").stdout)
    assert "2 connected parts" in scored["notes"][0] and scored["metrics"]["f1_avg"] == 1.0


@pytest.mark.parametrize(("args", "message"), [
    (["a.npy", "b.npy"], "a.npy has shape (4, 5) but"),
    (["missing.tif", "b.npy"], "missing.tif: no such file"),
    (["b.npy", "f.npy"], "f.npy: ground truth labels must be integers, not float32; restored images are scored"),
])
def test_evaluate_errors_are_one_line(tmp_path: Path, args, message):
    np.save(tmp_path / "a.npy", np.zeros((4, 5), np.uint16))
    np.save(tmp_path / "b.npy", np.zeros((6, 5), np.uint16))
    np.save(tmp_path / "f.npy", np.zeros((6, 5), np.float32))
    proc = _run("evaluate", *[str(tmp_path / a) for a in args], "--kind", "labels")
    assert proc.returncode == 1 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, \
        proc.stderr


def test_predict_labels_on_a_model_without_image_output_writes_nothing(tmp_path: Path):
    """The check runs before the model: a description whose only output has no space axes is refused."""
    import yaml

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    descr = yaml.safe_load(example_model().read_text())
    for f in example_model().parent.iterdir():
        (pkg / f.name).write_bytes(f.read_bytes())
    descr["outputs"][0]["axes"] = [a for a in descr["outputs"][0]["axes"] if a.get("type") in ("batch", "channel")]
    (pkg / "bioimageio.yaml").write_text(yaml.safe_dump(descr))
    np.save(tmp_path / "x.npy", np.zeros((64, 64), np.float32))
    proc = _run("predict", str(pkg / "bioimageio.yaml"), str(tmp_path / "x.npy"), "-o", str(tmp_path / "o"),
                "--labels")
    assert proc.returncode == 1 and not (tmp_path / "o").exists(), proc.stderr
    assert "--labels: objects need a model with an image output" in proc.stderr


def test_other_commands_do_not_import_the_analysis():
    code = ("import sys; from pyapp.cli import main; main(['validate', '--no-io']); "
            "print(sorted(m for m in ('scipy', 'pyapp.analysis', 'pyapp.cli_analysis') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines()[-1] == "[]"
