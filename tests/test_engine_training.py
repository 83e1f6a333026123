"""The engine's trainer without a server: quality on held-out nuclei, export, determinism, resume, fine-tuning.

The quality test trains with the ``nuclei-dsb`` recipe's options (150 instead of 200 steps) on the DSB image
from ../shared (the top 80 % of its rows; the bottom 20 % is never trained on), exports the package, and
measures Dice on the held-out rows by running the *exported ONNX package* through pyapp's runner. The package must pass
``pyapp test`` and bioimageio.core's ``test_model`` (the reference ``bioimageio test``).
"""

from __future__ import annotations

import dataclasses
import gc
import io
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (the engine extra)")
tifffile = pytest.importorskip("tifffile", reason="tifffile is not installed (the cpu extra)")

from pyapp.engine.cli import _child_env as child_env  # noqa: E402
from pyapp.engine.data import DataError, check_pairs, dice, targets  # noqa: E402
from pyapp.engine.export import export_package  # noqa: E402
from pyapp.engine.recipes import NUCLEI_DSB  # noqa: E402
from pyapp.engine.trainer import TrainConfig, make_model, train  # noqa: E402

TINY = TrainConfig(steps=10, base_channels=4, depth=2, patch=32, batch_size=2, val_every=5, checkpoint_every=5)


@pytest.fixture(scope="module")
def dsb(shared_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    folder = shared_dir / "data" / "nuclei-dsb2018"
    return tifffile.imread(folder / "img2d.tif"), tifffile.imread(folder / "mask2d.tif")


@pytest.fixture(scope="module")
def trained(dsb: tuple[np.ndarray, np.ndarray], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The recipe's options (150 steps) trained on the top 80 % of the DSB image, exported as zip and folder."""
    image, mask = dsb
    cut = int(image.shape[0] * 0.8)
    root = tmp_path_factory.mktemp("trained")
    torch.set_num_threads(2)
    cfg = dataclasses.replace(NUCLEI_DSB, steps=150)  # the recipe's options, a little shorter
    model, progress = train(cfg, [{"name": "dsb-top", "image": image[:cut], "mask": mask[:cut]}], root)
    training = {"config": cfg.public(), "steps_done": progress.step, "losses": progress.losses,
                "val_metrics": progress.val_metrics, "pairs": ["dsb-top"], "depth": NUCLEI_DSB.depth}
    zip_path = export_package(model, root / "package.zip", sample=image[:cut], name="test nuclei model",
                              training=training)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "package")
    return {"zip": zip_path, "folder": root / "package", "held_out": (image[cut:], mask[cut:]),
            "progress": progress}


def test_held_out_dice_of_the_exported_package(trained: dict[str, Any]) -> None:
    from pyapp.runtime import ModelRunner
    from pyapp.spec import load

    image, mask = trained["held_out"]
    runner = ModelRunner(load(trained["folder"] / "bioimageio.yaml"))
    out = runner.predict_sync({"raw": image[None, None].astype(np.float32)})["probabilities"]
    assert out.shape == (1, 2, *image.shape)
    score = dice(out[0, 0], mask)
    assert score >= 0.8, f"held-out Dice {score:.3f}"
    # channel 1 is the border distance: high inside nuclei, low in the background
    truth = targets(mask)[1]
    assert np.corrcoef(out[0, 1].ravel(), truth.ravel())[0, 1] > 0.6


def test_export_passes_pyapp_test_and_bioimageio_test(trained: dict[str, Any]) -> None:
    proc = subprocess.run([sys.executable, "-m", "pyapp.cli", "test", str(trained["zip"])], env=child_env(),
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    core = pytest.importorskip("bioimageio.core", reason="bioimageio.core not installed (test extra)")
    with warnings.catch_warnings():  # torch 2.13 deprecates the TorchScript loading the reference does
        warnings.simplefilter("ignore", DeprecationWarning)
        summary = core.test_model(str(trained["zip"]))
    gc.collect()
    failed = [d.name for d in summary.details if d.status == "failed"]
    assert summary.status == "passed", failed
    names = " ".join(d.name for d in summary.details)
    assert "test inputs (onnx)" in names and "test inputs (torchscript)" in names, names


def test_fine_tuning_starts_from_the_exported_torchscript_weights(trained: dict[str, Any]) -> None:
    from pyapp.engine.export import package_arch

    package = trained["zip"].read_bytes()
    base, depth = package_arch(package)
    model = make_model(TrainConfig(base_channels=base, depth=depth, init_package=package, seed=123))
    with zipfile.ZipFile(io.BytesIO(package)) as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.13 deprecates TorchScript, the zoo uses it
        scripted = torch.jit.load(io.BytesIO(zf.read("weights.pt")))
    for key, value in scripted.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    with pytest.raises(DataError, match=r"config\.init_package"):
        make_model(TrainConfig(base_channels=base * 2, depth=depth, init_package=package))


def test_same_seed_same_model_and_resume_equals_uninterrupted(dsb: tuple[np.ndarray, np.ndarray],
                                                              tmp_path: Path) -> None:
    image, mask = dsb
    pairs = [{"name": "crop", "image": image[:96, :96], "mask": mask[:96, :96]}]
    a, pa = train(TINY, pairs, tmp_path / "a")
    b, pb = train(TINY, pairs, tmp_path / "b")
    assert pa.losses == pb.losses
    stops = iter([False] * 7 + [True])  # stop after 7 steps (last checkpoint at 5), then resume
    train(TINY, pairs, tmp_path / "c", should_stop=lambda: next(stops))
    c, pc = train(TINY, pairs, tmp_path / "c")
    assert pc.resumed_at == [7] and [s for s, _ in pc.losses] == list(range(1, 11))
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
        assert torch.allclose(value, c.state_dict()[key], atol=1e-6), key


def test_bad_uploads_and_options_give_one_line_errors(dsb: tuple[np.ndarray, np.ndarray]) -> None:
    image, mask = dsb
    cases = [
        ([{"name": "a.tif", "image": image, "mask": mask[:100]}], r"data\[0\] \(a\.tif\)\.mask: shape"),
        ([{"name": "a.tif", "image": image, "mask": mask.astype(np.float32)}], r"\.mask: expected integer"),
        ([{"name": "a.tif", "image": image, "mask": np.zeros_like(mask)}], "every mask is empty"),
        ([{"name": "a.tif", "image": image[:8, :8], "mask": mask[:8, :8]}], "too small"),
        ([{"name": "a.tif", "image": image.astype(np.float64), "mask": mask}], "over this engine's limit"),
        ("nope", "non-empty list"),
    ]
    for data, message in cases:
        with pytest.raises(DataError, match=message) as info:
            check_pairs(data, max_bytes=2 * 2**20)
        assert "\n" not in str(info.value)
    for config, message in [({"stpes": 3}, "config.stpes: unknown option"), ({"steps": 0}, "config.steps"),
                            ({"patch": 100}, "config.patch"), ({"augment": "yes"}, "config.augment"),
                            ({"name": "a/b"}, "config.name")]:
        with pytest.raises(DataError, match=message):
            TrainConfig.from_dict(config)
