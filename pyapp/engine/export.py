"""Export a trained U-Net as a bioimage.io 0.5 package (zip): ONNX + TorchScript weights.

Built with :func:`pyapp.zoo.from_onnx.build_from_onnx` (the generic "package from ONNX" builder): test
input/output computed by pyapp's runner, cover image, sample tensors, validation before anything is written.
This module adds what a trained model knows: the TorchScript weights the ONNX came from, the input
normalisation (``scale_range`` 1–99.8 %, the one the trainer used), channel names, a README that says what
channel 1 is and how the model was trained, and the training metadata under ``config.pyapp.engine``.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .data import EPS, HIGH, LOW, DataError

OPSET = 17
HALO = 16
CHANNELS = ["foreground", "border_distance"]
UNET_CITE = {"text": "Ronneberger, Fischer, Brox. U-Net: Convolutional Networks for Biomedical Image "
                     "Segmentation (MICCAI 2015)", "doi": "10.1007/978-3-319-24574-4_28"}


def onnx_bytes(model: Any) -> bytes:
    """The model as ONNX (opset 17, free batch/y/x), exported by TorchScript tracing."""
    import torch

    buf = io.BytesIO()
    axes = {0: "batch", 2: "y", 3: "x"}
    with warnings.catch_warnings():  # the TorchScript-based exporter is deprecated; its graph is what we want
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (torch.zeros(1, 1, 64, 64),), buf, dynamo=False, opset_version=OPSET,
                          input_names=["raw"], output_names=["probabilities"],
                          dynamic_axes={"raw": axes, "probabilities": axes})
    return buf.getvalue()


def torchscript_bytes(model: Any) -> bytes:
    """The model traced to TorchScript (``torch.jit.save`` bytes)."""
    import torch

    buf = io.BytesIO()
    # bioimage.io's "torchscript" weights format is TorchScript: torch 2.13 deprecates jit.trace, not its files
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        traced = torch.jit.trace(model, torch.zeros(1, 1, 64, 64))
        torch.jit.save(traced, buf)
    return buf.getvalue()


def _readme(name: str, training: dict[str, Any]) -> str:
    val = training.get("val_metrics") or []
    best = max((m["dice"] for m in val), default=None)
    best_line = f"best validation Dice {best:.3f}" if best is not None else "no validation split"
    pairs = ", ".join(training.get("pairs", [])) or "-"
    return f"""# {name}

A small 2D U-Net trained with the pyapp engine to segment cell nuclei (one gray channel in, two channels out).

## Input
One gray image (float32; any intensity range), normalised inside the package by `scale_range`: percentiles
{LOW} and {HIGH} of each image map to 0 and 1 (eps {EPS}). Sides of `64 + n*{2 ** training["depth"]}` pixels;
larger images are tiled with a {HALO}-pixel halo.

## Output (sigmoid probabilities)
- channel 0 `foreground`: probability that the pixel belongs to a nucleus;
- channel 1 `border_distance`: inside each nucleus the distance to its border, divided by the nucleus's largest
  such distance (about 1 at the centre, 0 at the border and on lines where two nuclei touch, 0 outside).

Instance labels: seeds = connected components of `border_distance > 0.5` (or its local maxima), then a seeded
watershed on `-border_distance` restricted to `foreground > 0.5`.

## Training
Trained by the pyapp engine (PyTorch, `pyapp.engine.trainer`) on: {pairs}. {training["steps_done"]} of
{training["config"]["steps"]} steps, batch {training["config"]["batch_size"]}, crops of
{training["config"]["patch"]} px, Adam lr {training["config"]["learning_rate"]}, seed {training["config"]["seed"]},
augmentation: rot90, flips, intensity gain/offset; the bottom {training["config"]["val_fraction"]:.0%} of each
image's rows were held out for validation ({best_line}). Loss: binary cross-entropy on both channels. The full
record (losses, validation metrics) is in `config.pyapp.engine` of `bioimageio.yaml`.

## Weights
`weights.pt` (TorchScript, traced) and `weights.onnx` (exported from it, opset {OPSET}). Fine-tune with the pyapp
engine by passing this zip as `config.init_package`.

## Validation
Held-out check during training: {best_line} (Dice of `foreground > 0.5` against the true foreground on rows
never trained on). The package's test output was computed by pyapp's runner from the test input; `pyapp test`
and `bioimageio test` reproduce it with the ONNX and the TorchScript weights.

## Limitations
Trained on few images: expect it to work on images like those (modality, magnification, nucleus size); check
the output on your own images before measuring anything.
"""


def export_package(model: Any, dest: Path, *, sample: np.ndarray, name: str, training: dict[str, Any],
                   license: str = "MIT", authors: tuple[str, ...] = ("pyapp engine user",)) -> Path:
    """Write the package of ``model`` (eval mode) to ``dest`` (a folder, or a zip when it ends in ``.zip``).

    Parameters
    ----------
    model
        The trained :class:`~pyapp.engine.unet.UNet`.
    dest
        Target path; replaced only once the new package is complete and valid.
    sample
        A raw ``(y, x)`` training image; its centre (≤ 256²) becomes the test input.
    name
        The model's name.
    training
        Training record: ``config`` (public), ``steps_done``, ``losses``, ``val_metrics``, ``pairs``, ``depth``.
    license, authors
        Package metadata.
    """
    import torch

    from ..zoo.from_onnx import ExtraWeights, build_from_onnx

    model.eval()
    version = torch.__version__.split("+")[0]
    mult = 2 ** int(training["depth"])
    extra = ExtraWeights("torchscript", "weights.pt", torchscript_bytes(model), {"pytorch_version": version})
    scale = {"id": "scale_range", "kwargs": {"axes": ["y", "x"], "min_percentile": LOW, "max_percentile": HIGH,
                                             "eps": EPS}}
    metadata = {"config": {"pyapp": {"kind": "segmentation", "engine": training}},
                "version": "0.1.0"}
    return build_from_onnx(
        onnx_bytes(model), dest, input_axes="bcyx", output_axes="bcyx", sample=np.asarray(sample, np.float32),
        sample_axes="yx", name=name, authors=list(authors), license=license,
        description="Nucleus segmentation (foreground + border distance) from one gray channel; a U-Net trained "
                    "with the pyapp engine.",
        sizes={"y": (64, mult), "x": (64, mult)}, halo=HALO, preprocess=[scale], input_channels=["gray"],
        output_channels=CHANNELS, cite=[UNET_CITE], tags=["segmentation", "nuclei", "fluorescence", "unet", "2d",
                                                          "pyapp-engine"],
        documentation=_readme(name, training), extra_weights=[extra], onnx_parent="torchscript", metadata=metadata)


def _package_files(zip_bytes: bytes) -> tuple[dict[str, Any], zipfile.ZipFile]:
    import yaml

    try:
        zf = zipfile.ZipFile(io.BytesIO(zip_bytes))
        rdf = yaml.safe_load(zf.read("bioimageio.yaml"))
    except (zipfile.BadZipFile, KeyError, yaml.YAMLError):
        raise DataError("config.init_package: not a bioimage.io package zip") from None
    engine = ((rdf.get("config") or {}).get("pyapp") or {}).get("engine")
    if not isinstance(engine, dict) or "torchscript" not in (rdf.get("weights") or {}):
        raise DataError("config.init_package: not a package this engine exported (no config.pyapp.engine)")
    return rdf, zf


def package_arch(zip_bytes: bytes) -> tuple[int, int]:
    """``(base_channels, depth)`` of a package this engine exported (raises :class:`DataError` otherwise)."""
    rdf, _ = _package_files(zip_bytes)
    cfg = rdf["config"]["pyapp"]["engine"]["config"]
    return int(cfg["base_channels"]), int(cfg["depth"])


def torchscript_state(zip_bytes: bytes, base: int, depth: int) -> dict[str, Any]:
    """The state dict of the TorchScript weights in an exported package, checked against ``(base, depth)``."""
    import torch

    rdf, zf = _package_files(zip_bytes)
    if package_arch(zip_bytes) != (base, depth):
        raise DataError(f"config.init_package: the package's U-Net has base_channels/depth {package_arch(zip_bytes)},"
                        f" the config asks for {(base, depth)}")
    with warnings.catch_warnings():  # see torchscript_bytes
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(io.BytesIO(zf.read(rdf["weights"]["torchscript"]["source"])), map_location="cpu")
    return {k: v.detach().clone() for k, v in module.state_dict().items()}
