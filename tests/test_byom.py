"""Bring your own model: ``pyapp convert`` (PyTorch -> ONNX) and ``pyapp package --onnx`` (ONNX -> package).

The round trip starts from a small PyTorch network built here and ends in a zip that both ``pyapp test`` and the
reference ``bioimageio test`` (bioimageio.core, run live) pass.
"""

from __future__ import annotations

import gc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from byom_models import rewrite_as_04, write_torch_package

from pyapp.cli import main as pyapp_main
from pyapp.spec import load, validate

pytest.importorskip("torch", reason="torch is needed to build the test networks (pyapp[zoo])")


def _errors(src: Path) -> list[str]:
    return [str(i) for i in validate(src, io_checks=True) if i.severity == "error"]


def _reference_test(src: Path):
    """bioimageio.core's full model test (format, IO, test outputs for every weights format, shape sweeps)."""
    core = pytest.importorskip("bioimageio.core", reason="bioimageio.core not installed (test extra)")
    summary = core.test_model(str(src))
    gc.collect()
    return summary


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A torchscript package converted by ``pyapp convert`` (the first half of the round trip)."""
    root = tmp_path_factory.mktemp("byom")
    ts = write_torch_package(root / "torchscript", "torchscript")
    assert pyapp_main(["convert", str(ts), "--to", "onnx", "-o", str(root / "converted")]) == 0
    return root / "converted"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 200 x 180 uint16 tif with blobs (not a multiple of the 16-pixel step: it gets cropped)."""
    import tifffile

    yy, xx = np.mgrid[:200, :180]
    image = 1000 + 800 * (np.sin(yy / 9.0) * np.cos(xx / 7.0) > 0.3)
    path = tmp_path_factory.mktemp("sample") / "blobs.tif"
    tifffile.imwrite(path, image.astype(np.uint16), metadata={"axes": "YX"})
    return path


def _package_args(onnx: Path, sample: Path, out: Path, *extra: str) -> list[str]:
    return ["package", "--onnx", str(onnx), "--input-axes", "bcyx", "--output-axes", "bcyx", "--sample", str(sample),
            "--name", "Tiny blob net", "--author", "Ada Lovelace", "--license", "MIT", "-o", str(out), *extra]


def test_convert_adds_checked_onnx_weights(converted: Path, capsys):
    model = load(converted, io_checks=True)
    onnx = model.weights["onnx"]
    assert onnx.parent == "torchscript" and onnx.extra["opset_version"] == 17
    assert set(model.weights) == {"torchscript", "onnx"}
    assert _errors(converted) == []
    assert pyapp_main(["test", str(converted)]) == 0, capsys.readouterr().out


@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_round_trip_package_passes_pyapp_and_bioimageio_test(converted: Path, sample: Path, tmp_path: Path, capsys):
    out = tmp_path / "blobs.zip"
    args = _package_args(converted / "weights.onnx", sample, out, "--halo", "4", "--preprocess",
                         "zero_mean_unit_variance", "--postprocess", "sigmoid", "--output-channels", "bg,fg")
    assert pyapp_main(args) == 0
    assert f"wrote     {out}" in capsys.readouterr().out
    assert _errors(out) == []
    model = load(out)
    assert [a.id for a in model.inputs[0].axes] == ["batch", "channel", "y", "x"]
    assert model.outputs[0].axis("channel").channel_names == ("bg", "fg")
    assert model.outputs[0].axis("y").halo == 4
    x = np.load(zipfile.Path(out, "test_input.npy").open("rb"))
    assert x.shape == (1, 1, 192, 176)  # 200 x 180 cut to 16 + n * 16
    with zipfile.ZipFile(out) as zf:
        assert {"cover.png", "README.md", "sample_input.tif", "weights.onnx"} <= set(zf.namelist())
    assert pyapp_main(["test", str(out)]) == 0, capsys.readouterr().out
    summary = _reference_test(out)
    assert summary.status == "passed", summary.format()


@pytest.mark.parametrize(("change", "option"), [
    ({"--input-axes": "bcyxz"}, "--input-axes"),
    ({"--output-axes": "bcyq"}, "--output-axes"),
    ({"--name": "abc"}, "--name"),
    ({"--license": ""}, "--license"),
    ({"--size": "y=abc"}, "--size"),
    ({"--size": "y=32", "--halo": "16"}, "--halo"),
    ({"--input-channels": "red,green"}, "--input-channels"),
    ({"--sample": "tiny"}, "--sample"),
    ({"--onnx": "garbage"}, "--onnx"),
])
def test_inconsistent_input_is_refused_with_the_option_named(converted, sample, tmp_path, capsys, change, option):
    import tifffile

    out = tmp_path / "refused.zip"
    args = _package_args(converted / "weights.onnx", sample, out)
    files = {"tiny": tmp_path / "tiny.tif", "garbage": tmp_path / "garbage.onnx"}
    tifffile.imwrite(files["tiny"], np.zeros((8, 8), np.uint16))
    files["garbage"].write_bytes(b"not an onnx file at all")
    for key, value in change.items():
        value = str(files.get(value, value))
        if key in args:
            args[args.index(key) + 1] = value
        else:
            args += [key, value]
    assert pyapp_main(args) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"pyapp package: {option}"), lines
    assert not out.exists() and not list(tmp_path.glob(".pyapp-package-*"))


def test_convert_state_dict_with_packaged_architecture(tmp_path: Path, capsys):
    src = write_torch_package(tmp_path / "state_dict", "pytorch_state_dict")
    assert pyapp_main(["convert", str(src), "--to", "onnx", "-o", str(tmp_path / "out.zip")]) == 0
    printed = capsys.readouterr().out
    assert "max abs diff" in printed and "onnx vs pytorch_state_dict" in printed
    model = load(tmp_path / "out.zip", io_checks=True)
    assert model.weights["onnx"].parent == "pytorch_state_dict"
    assert pyapp_main(["test", str(tmp_path / "out.zip")]) == 0


def test_convert_a_04_package(tmp_path: Path, capsys):
    """A format 0.4 torchscript package gets a 0.4 onnx entry; its 0.4 tolerance (decimal 4) is the check's."""
    src = rewrite_as_04(write_torch_package(tmp_path / "ts04", "torchscript"))
    assert pyapp_main(["convert", str(src), "-o", str(tmp_path / "out")]) == 0
    assert "atol 0.00015" in capsys.readouterr().out
    raw = yaml.safe_load((tmp_path / "out" / "bioimageio.yaml").read_text())
    assert raw["format_version"] == "0.4.10" and raw["weights"]["onnx"]["parent"] == "torchscript"
    assert _errors(tmp_path / "out") == []
    assert pyapp_main(["test", str(tmp_path / "out")]) == 0


def test_convert_refuses_what_it_cannot_convert(tmp_path: Path, capsys):
    from pyapp.cli import example_model

    assert pyapp_main(["convert", str(example_model().parent), "-o", str(tmp_path / "x")]) == 1
    assert "already" in capsys.readouterr().out
    src = write_torch_package(tmp_path / "sd", "pytorch_state_dict")
    descr = yaml.safe_load((src / "bioimageio.yaml").read_text())
    descr["weights"]["pytorch_state_dict"]["architecture"] = {"import_from": "mypkg.nets", "callable": "TinyNet"}
    (src / "bioimageio.yaml").write_text(yaml.safe_dump(descr))
    assert pyapp_main(["convert", str(src), "-o", str(tmp_path / "y")]) == 1
    line = capsys.readouterr().out.strip()
    assert line.startswith("pyapp convert: weights.pytorch_state_dict.architecture:") and "\n" not in line
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_no_onnx_weights_messages_say_how_to_convert(tmp_path: Path, capsys):
    src = write_torch_package(tmp_path / "ts", "torchscript")
    warnings = [i for i in validate(src) if i.severity == "warning" and i.path == "weights"]
    assert len(warnings) == 1 and "pyapp convert MODEL --to onnx" in warnings[0].message
    assert pyapp_main(["test", str(src)]) == 1
    assert "pyapp convert MODEL --to onnx" in capsys.readouterr().out


@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_api_adds_extra_weights_and_metadata(converted: Path, tmp_path: Path):
    """What a trainer's export does: ONNX converted from torchscript, both shipped, training metadata kept."""
    from pyapp.zoo.from_onnx import ExtraWeights, build_from_onnx

    image = np.random.default_rng(3).random((64, 48)).astype(np.float32)
    torchscript = (converted / "weights.pt").read_bytes()
    dest = build_from_onnx(
        converted / "weights.onnx", tmp_path / "trained", input_axes="bcyx", output_axes="bcyx", sample=image,
        sample_axes="yx", name="Trained tiny net", authors=[{"name": "Ada", "affiliation": "pyapp"}],
        license="CC-BY-4.0", sizes={"y": (32, 16), "x": (32, 16)},
        extra_weights=[ExtraWeights("torchscript", "weights.pt", torchscript, {"pytorch_version": "2.13.0"})],
        onnx_parent="torchscript", metadata={"config": {"pyapp": {"training": {"epochs": 3}}}, "version": "0.1.0"})
    model = load(dest, io_checks=True)
    assert model.weights["onnx"].parent == "torchscript" and "torchscript" in model.weights
    assert model.config["pyapp"] == {"training": {"epochs": 3}, "sample": "sample_input.tif"}
    assert model.inputs[0].axis("y").size.min == 32 and np.load(dest / "test_input.npy").shape == (1, 1, 64, 48)
    spec = pytest.importorskip("bioimageio.spec", reason="bioimageio.spec not installed (test extra)")
    ref = spec.load_description(dest / "bioimageio.yaml", perform_io_checks=True)
    gc.collect()
    assert ref.validation_summary.status == "valid-format", ref.validation_summary.format()


def test_parse_sizes():
    from pyapp.zoo.from_onnx import PackageError, parse_sizes

    assert parse_sizes("256", "bcyx") == {"y": 256, "x": 256}
    assert parse_sizes("64:16", "bczyx") == {"z": (64, 16), "y": (64, 16), "x": (64, 16)}
    assert parse_sizes("y=32:8,x=48", "byxc") == {"y": (32, 8), "x": 48}
    for bad in ("c=3", "y=0", "y=16:a"):
        with pytest.raises(PackageError, match=r"^--size"):
            parse_sizes(bad, "bcyx")


def test_classifier_with_fixed_input_and_channel_output(tmp_path: Path, capsys):
    """A network fixed to 32 x 32 RGB that outputs 5 class scores: the sample (yxc photo) is cropped to 32 x 32."""
    import io

    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                              torch.nn.Linear(4, 5)).eval()
    buf = io.BytesIO()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.zeros(1, 3, 32, 32),), buf, dynamo=False, opset_version=17,
                          input_names=["image"], output_names=["scores"], dynamic_axes={"image": {0: "b"}})
    (tmp_path / "cls.onnx").write_bytes(buf.getvalue())
    np.save(tmp_path / "photo.npy", np.random.default_rng(0).random((40, 50, 3)).astype(np.float32))
    args = ["package", "--onnx", str(tmp_path / "cls.onnx"), "--input-axes", "bcyx", "--output-axes", "bc",
            "--sample", str(tmp_path / "photo.npy"), "--sample-axes", "yxc", "--preprocess", "scale_range",
            "--postprocess", "softmax", "--name", "Tiny classifier", "--author", "Ada", "--license", "MIT",
            "--input-channels", "r,g,b", "-o", str(tmp_path / "cls")]
    assert pyapp_main(args) == 0
    model = load(tmp_path / "cls", io_checks=True)
    assert model.inputs[0].axis("y").size == 32 and model.inputs[0].axis("channel").channel_names == ("r", "g", "b")
    assert [a.type for a in model.outputs[0].axes] == ["batch", "channel"]
    assert np.load(tmp_path / "cls" / "test_output.npy").shape == (1, 5)
    assert pyapp_main(["test", str(tmp_path / "cls")]) == 0, capsys.readouterr().out
    capsys.readouterr()
    assert pyapp_main([*args[:-1], str(tmp_path / "halo"), "--halo", "2"]) == 1  # no output axis to cut it from
    assert capsys.readouterr().out.strip().startswith("pyapp package: --halo: no space axis of the output 'bc'")
    assert not (tmp_path / "halo").exists()
