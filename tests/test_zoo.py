"""The bundled zoo models (``pyapp.zoo``): valid packages that reproduce their tests and classify/segment sensibly.

The packages are built once per session into ``build/cache`` (reused when the build already made them there
with the same code and pins) or, when that folder is missing, into a temporary cache. Tests of a model skip
with the reason when its packages (torch, the pinned wheels) cannot be had; CI installs the ``zoo`` extra.
"""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest

from pyapp.cli import main as pyapp_main
from pyapp.runtime import ModelRunner
from pyapp.spec import load, validate
from pyapp.zoo import RECIPES, ZooUnavailable, cached_package

ROOT = Path(__file__).resolve().parents[1]
MODELS = sorted(RECIPES)
#: ImageNet classes that are a domestic cat (indices 281..285 of the class list).
CATS = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}


@pytest.fixture(scope="session")
def zoo_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = ROOT / "build" / "cache"
    return built if built.is_dir() else tmp_path_factory.mktemp("zoo-cache")


@pytest.fixture(scope="session")
def packages(zoo_cache: Path) -> dict[str, Path | str]:
    """model id -> built package folder, or the reason it could not be built."""
    result: dict[str, Path | str] = {}
    for model_id in MODELS:
        try:
            result[model_id] = cached_package(model_id, zoo_cache)
        except ZooUnavailable as err:
            result[model_id] = f"{model_id} not built: {err} (pip install 'pyapp[zoo]')"
    return result


def package(packages: dict[str, Path | str], model_id: str) -> Path:
    got = packages[model_id]
    if isinstance(got, str):
        print(got)
        pytest.skip(got)
    return got


@pytest.mark.parametrize("model_id", MODELS)
def test_package_is_valid_for_pyapp(packages, model_id: str):
    issues = validate(package(packages, model_id), io_checks=True)
    assert [str(i) for i in issues] == []


@pytest.mark.parametrize("model_id", MODELS)
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_package_is_valid_for_bioimageio_spec(packages, model_id: str):
    folder = package(packages, model_id)
    spec = pytest.importorskip("bioimageio.spec", reason="bioimageio.spec not installed (test extra)")
    ref = spec.load_description(folder / "bioimageio.yaml", perform_io_checks=True)
    gc.collect()
    assert ref.validation_summary.status == "valid-format", ref.validation_summary.format()


@pytest.mark.parametrize("model_id", MODELS)
def test_pyapp_test_reproduces_the_test_output(packages, model_id: str, capsys):
    folder = package(packages, model_id)
    assert pyapp_main(["test", str(folder)]) == 0, capsys.readouterr().out


def test_index_fields_and_names(packages):
    eff = load(package(packages, "efficientnet-lite0"))
    assert eff.name == "EfficientNet-Lite0 ImageNet classifier"
    channel = eff.outputs[0].axis("channel")
    assert len(channel.channel_names) == 1000 and channel.channel_names[281] == "tabby"
    cz = load(package(packages, "czann-nucleus"))
    assert cz.inputs[0].axis_ids == ("batch", "y", "x", "channel")
    assert cz.outputs[0].axis("channel").channel_names == ("background", "nucleus")


def test_torch_and_onnx_agree(packages, zoo_cache: Path):
    import onnxruntime as ort

    from pyapp.zoo import efficientnet

    folder = package(packages, "efficientnet-lite0")
    torch = pytest.importorskip("torch")
    x = efficientnet.preprocess(np.load(folder / "test_input.npy"))
    with torch.no_grad():
        expected = efficientnet.load_network(zoo_cache)(torch.from_numpy(x)).numpy()
    session = ort.InferenceSession(str(folder / "weights.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x})[0]
    assert np.abs(got - expected).max() < 1e-4
    assert efficientnet.CLASSES[int(got.argmax())] == "espresso"  # the test image is a cup of coffee


def test_chelsea_is_a_cat(packages, shared_dir: Path):
    from PIL import Image

    from pyapp.zoo.efficientnet import center_crop, to_input

    model = load(package(packages, "efficientnet-lite0"))
    with Image.open(shared_dir / "data" / "chelsea.png") as img:
        x = to_input(center_crop(np.asarray(img.convert("RGB"))))
    probs = ModelRunner(model).predict_sync({"input": x})["probabilities"][0]
    names = model.outputs[0].axis("channel").channel_names
    top1 = names[int(probs.argmax())]
    assert top1 in CATS, [(names[i], round(float(probs[i]), 3)) for i in np.argsort(probs)[::-1][:5]]
    assert sum(float(probs[names.index(c)]) for c in CATS) > 0.8


def _blobs(mask: np.ndarray) -> list[int]:
    ndimage = pytest.importorskip("scipy.ndimage")
    labels, _ = ndimage.label(mask)
    return sorted(np.bincount(labels.ravel())[1:].tolist())


def test_czann_mask_on_its_sample_is_nucleus_like(packages):
    """Measured: 9.1 % nucleus pixels, 37 blobs >= 50 px, median 2538 px (~57 px = 13 um across at 0.227 um/px,
    a nucleus; touching nuclei merge). The bounds leave room for other ONNX Runtime builds, not for a broken model.
    """
    probs = np.load(package(packages, "czann-nucleus") / "test_output.npy")[0]
    np.testing.assert_allclose(probs.sum(axis=-1), 1, atol=1e-5)
    mask = probs[..., 1] > 0.5
    assert 0.04 < mask.mean() < 0.2
    areas = [a for a in _blobs(mask) if a >= 50]
    assert 25 <= len(areas) <= 80, len(areas)
    assert 800 < float(np.median(areas)) < 6000, np.median(areas)


def test_czann_tiles_a_larger_image_consistently(packages, zoo_cache: Path):
    """A 1024x1536 region runs as two 1024 tiles with the 64 px halo; it agrees with the single-tile test output."""
    from pyapp.zoo import czann
    from pyapp.zoo.package import dist_file

    folder = package(packages, "czann-nucleus")
    image = czann.read_czi(dist_file(czann.CZANN, czann.SAMPLE, zoo_cache))
    y0, x0 = (image.shape[0] - 1024) // 2, (image.shape[1] - 1024) // 2
    region = image[y0:y0 + 1024, x0:x0 + 1536]
    np.testing.assert_array_equal(region[:, :1024], np.load(folder / "test_input.npy")[0, ..., 0])
    out = ModelRunner(load(folder)).predict_sync({"image": region[None, :, :, None]})["probabilities"]
    assert out.shape == (1, 1024, 1536, 2)
    single = np.load(folder / "test_output.npy")[0, :, :960, 1] > 0.5  # away from the single tile's right edge
    tiled = out[0, :, :960, 1] > 0.5
    assert (single & tiled).sum() / (single | tiled).sum() > 0.95


def test_czi_reader_rejects_other_files():
    from pyapp.zoo.czann import read_czi

    with pytest.raises(ValueError, match="not a CZI"):
        read_czi(b"\x89PNG" + bytes(100))


def test_package_command_writes_a_folder(packages, zoo_cache: Path, tmp_path: Path, capsys):
    import argparse

    from pyapp.zoo import add_package

    package(packages, "czann-nucleus")

    parser = argparse.ArgumentParser()
    add_package(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["package", "--model", "czann-nucleus", "-o", str(tmp_path), "--cache", str(zoo_cache)])
    assert args.func(args) == 0
    assert (tmp_path / "czann-nucleus" / "bioimageio.yaml").is_file()
    assert not (tmp_path / "czann-nucleus" / ".pyapp-zoo.json").exists()
    assert validate(tmp_path / "czann-nucleus", io_checks=True) == []
    assert "wrote" in capsys.readouterr().out
