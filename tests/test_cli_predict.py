"""`pyapp predict` and `pyapp test` from the command line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from shared_paths import GOLD, SHARED

from pyapp.cli import example_model, main
from pyapp.io import read_image


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pyapp.cli", *args], capture_output=True, text=True, check=False)


def test_pyapp_test_passes_and_fails(tmp_path: Path):
    ok = _run("test", str(GOLD))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.splitlines()[-1].endswith("passed (onnxruntime (CPUExecutionProvider))")
    pkg = tmp_path / "pkg"
    shutil.copytree(GOLD, pkg)
    np.save(pkg / "test_output.npy", np.load(pkg / "test_output.npy") * 0.5)
    bad = _run("test", str(pkg))
    assert bad.returncode == 1
    assert "MISMATCH: output 'probability'" in bad.stdout and "elements mismatch" in bad.stdout
    assert "Traceback" not in bad.stdout + bad.stderr


def test_predict_tif_with_tiles(tmp_path: Path):
    src = SHARED / "data" / "nuclei-dsb2018" / "img2d.tif"
    assert main(["predict", str(GOLD), str(src), "-o", str(tmp_path), "--tile", "256"]) == 0
    out, axes = read_image(tmp_path / "img2d_probability.tif")
    assert out.shape == (1, 512, 512) and axes == "cyx" and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1


def test_predict_example_npy(tmp_path: Path):
    x = np.load(example_model().parent / "test_input.npy")[0, 0]
    np.save(tmp_path / "in.npy", x)
    assert main(["predict", str(example_model()), str(tmp_path / "in.npy"), "-o", str(tmp_path / "o"),
                 "--format", "npy", "--memory-budget", "1MB"]) == 0
    out = np.load(tmp_path / "o" / "in_smooth.npy")
    np.testing.assert_allclose(out[0], np.load(example_model().parent / "test_output.npy")[0, 0], atol=1e-5)


def test_outputs_written_block_by_block_equal_the_runners_arrays(tmp_path: Path):
    # pyapp predict streams outputs into their files; the file must hold what the runner returns in memory
    from pyapp.runtime import ModelRunner
    from pyapp.spec import load

    src = SHARED / "data" / "nuclei-dsb2018" / "img2d.tif"
    pixels, _ = read_image(src)
    image = tmp_path / "big.npy"
    np.save(image, np.pad(pixels, ((0, 300), (0, 200)), mode="symmetric"))  # 812 x 712: 4 uneven blocks
    assert main(["predict", str(GOLD), str(image), "-o", str(tmp_path / "o")]) == 0
    written, axes = read_image(tmp_path / "o" / "big_probability.tif")
    expected = ModelRunner(load(GOLD)).predict_sync({"raw": np.load(image)[None, None]})["probability"]
    assert axes == "cyx"
    np.testing.assert_array_equal(written, expected[0])


def test_bool_outputs_are_written_whole(tmp_path: Path):
    import yaml

    pkg = tmp_path / "pkg"
    shutil.copytree(GOLD, pkg)
    rdf = yaml.safe_load((pkg / "bioimageio.yaml").read_text())
    rdf["outputs"][0]["postprocessing"] = [{"id": "sigmoid"}, {"id": "binarize", "kwargs": {"threshold": 0.5}}]
    (pkg / "bioimageio.yaml").write_text(yaml.safe_dump(rdf))
    np.save(tmp_path / "in.npy", np.load(GOLD / "test_input.npy")[0, 0])
    assert main(["predict", str(pkg), str(tmp_path / "in.npy"), "-o", str(tmp_path / "o"), "--format", "npy"]) == 0
    masks = np.load(tmp_path / "o" / "in_probability.npy")
    assert masks.dtype == np.bool_ and masks.shape == (1, 512, 512) and masks.any()


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: np.save(d / "x.npy", np.zeros((2, 3, 64, 64), np.float32)), "axis 'channel' needs 1 channels"),
    (lambda d: np.save(d / "x.npy", np.zeros((64,), np.float32)), "cannot guess the axes of a 1D array"),
    (lambda d: (d / "x.npy").write_bytes(b"garbage"), "x.npy: cannot read image"),
])
def test_bad_inputs_are_one_line_and_write_nothing(tmp_path: Path, make, message):
    make(tmp_path)
    out = tmp_path / "out"
    proc = _run("predict", str(GOLD), str(tmp_path / "x.npy"), "-o", str(out))
    assert proc.returncode == 1
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not out.exists()


def test_model_without_onnx_is_one_line(tmp_path: Path):
    np.save(tmp_path / "x.npy", np.zeros((64, 64), np.float32))
    proc = _run("predict", str(GOLD.parent / "unet2d_multi_tensor"), str(tmp_path / "x.npy"), "-o", str(tmp_path))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "pyapp predict: error:" in proc.stderr
