"""ModelRunner, ONNX Runtime backend and test reproduction on real models."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import numpy as np
import pytest
from shared_paths import GOLD

from pyapp.cli import example_model
from pyapp.runtime import (
    BackendError,
    ModelRunner,
    RunError,
    Tolerance,
    compare,
    create_backend,
    tolerance_for,
)
from pyapp.runtime import test_model as reproduce
from pyapp.spec import load


@pytest.fixture(scope="module")
def gold():
    return load(GOLD / "bioimageio.yaml")


@pytest.fixture(scope="module")
def gold_runner(gold):
    return ModelRunner(gold)


@pytest.mark.parametrize("name", ["bioimageio.yaml", "v0_4_9.bioimageio.yaml", "v0_4_0.bioimageio.yaml"])
def test_gold_model_reproduces_its_test_output(name):
    report = asyncio.run(reproduce(load(GOLD / name)))
    assert report.passed, report
    assert report.checks[0].max_abs_diff < 1e-4
    assert report.backend.startswith("onnxruntime")


def test_example_model_reproduces_its_test_output():
    assert asyncio.run(reproduce(load(example_model()))).passed


def test_altered_test_output_fails_with_statistics(tmp_path: Path):
    pkg = tmp_path / "pkg"
    shutil.copytree(GOLD, pkg)
    expected = np.load(pkg / "test_output.npy")
    expected[..., :100, :100] += 0.5
    np.save(pkg / "test_output.npy", expected)
    report = asyncio.run(reproduce(load(pkg / "bioimageio.yaml")))
    assert not report.passed
    check = report.checks[0]
    assert check.mismatched == 10000 and check.max_abs_diff == pytest.approx(0.5, abs=1e-3)
    assert "10000 of 262144 elements mismatch" in check.message


def test_tolerance_rules(gold):
    assert tolerance_for(gold, "probability", "onnx") == Tolerance(1e-3, 1e-3, 100)
    old = load(GOLD / "v0_4_9.bioimageio.yaml")
    assert tolerance_for(old, "probability", "onnx") == Tolerance(0.0, pytest.approx(1.5e-4), 0.0)
    x = np.zeros(1_000_000, np.float32)
    y = x.copy()
    y[:100] = 1
    assert compare("o", y, x, Tolerance()).passed  # 100 per million allowed
    y[100] = 1
    assert not compare("o", y, x, Tolerance()).passed


def test_tiled_equals_untiled_in_tile_interiors(gold_runner):
    """Tiles of 512 with a 32 px halo: the stitched result equals one run on the whole padded image.

    The U-Net sees more than 32 px, so values differ a little near tile seams; in tile interiors (further
    than the receptive field from a seam) they are equal.
    """
    rng = np.random.default_rng(1)
    base = np.load(GOLD / "test_input.npy")
    image = np.tile(base, (1, 1, 2, 2)) + rng.normal(0, 0.01, (1, 1, 1024, 1024)).astype(np.float32)
    tiled = gold_runner.predict_sync({"raw": image})["probability"]
    assert tiled.shape == (1, 1, 1024, 1024)
    whole = _run_untiled(gold_runner, image)
    interior = (slice(None), slice(None), slice(100, 380), slice(100, 380))
    np.testing.assert_allclose(tiled[interior], whole[interior], atol=1e-4)


def _run_untiled(runner: ModelRunner, image: np.ndarray) -> np.ndarray:
    """The ONNX graph on the whole (normalised) image, then sigmoid: what the model computes without tiles.

    The gold ONNX file pins 512x512; its convolutions do not care, so the test frees those two dims.
    """
    onnx = pytest.importorskip("onnx", reason="onnx is needed to free the graph's fixed input size")
    import onnxruntime as ort

    proto = onnx.load(GOLD / "weights.onnx")
    del proto.graph.value_info[:]
    for value in (*proto.graph.input, *proto.graph.output):
        for dim, name in zip(value.type.tensor_type.shape.dim[2:], ("y", "x"), strict=True):
            dim.dim_param = name
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    x = ((image - image.mean()) / (image.std() + 1e-6)).astype(np.float32)
    raw = session.run(None, {session.get_inputs()[0].name: x})[0]
    return 1 / (1 + np.exp(-raw))


def test_image_smaller_than_block_is_padded(gold_runner):
    small = np.load(GOLD / "test_input.npy")[..., :200, :300]
    out = gold_runner.predict_sync({"raw": small})["probability"]
    assert out.shape == (1, 1, 200, 300)
    assert np.isfinite(out).all() and 0 <= out.min() and out.max() <= 1


def test_progress_reports_every_tile(gold_runner):
    calls = []
    gold_runner.predict_sync({"raw": np.zeros((1, 1, 600, 600), np.float32)},
                             progress=lambda d, n, m: calls.append((d, n)))
    assert calls == [(i, 4) for i in range(1, 5)]


def test_wrong_inputs_are_named(gold_runner):
    with pytest.raises(RunError, match=r"input tensor 'raw': expected 4 dimensions"):
        gold_runner.predict_sync({"raw": np.zeros((512, 512), np.float32)})
    with pytest.raises(RunError, match="input tensor 'raw' is missing"):
        gold_runner.predict_sync({"image": np.zeros((1, 1, 512, 512), np.float32)})


def test_model_without_onnx_weights_is_refused():
    model = load(GOLD.parent / "unet2d_multi_tensor" / "bioimageio.yaml")
    with pytest.raises(BackendError, match=r"its weights: pytorch_state_dict, torchscript\): onnx: the model has no"):
        create_backend(model)


def test_altered_weights_are_refused(tmp_path: Path):
    pkg = tmp_path / "pkg"
    shutil.copytree(example_model().parent, pkg)
    (pkg / "weights.onnx").write_bytes(b"\x08\x07garbage")
    with pytest.raises(BackendError, match="does not match its sha256"):
        create_backend(load(pkg))
