"""Small PyTorch models built in the tests, packaged as torchscript or state-dict bioimage.io 0.5 packages."""

from __future__ import annotations

import io
import types
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from pyapp.zoo.package import file_ref, npy_bytes, write_package

#: The architecture as a package would ship it (a state-dict package executes this file).
ARCH_SOURCE = '''
import torch


class TinyNet(torch.nn.Module):
    """Two 3x3 convolutions: a one-channel image in, ``classes`` channels of logits out."""

    def __init__(self, classes: int = 2):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(4, classes, 3, padding=1)

    def forward(self, x):
        return self.conv2(torch.relu(self.conv1(x)))
'''
GAIN = 2.0


def tiny_net(classes: int = 2, seed: int = 0) -> Any:
    """A TinyNet with seeded random weights, in eval mode."""
    import torch

    module = types.ModuleType("tiny_arch")
    exec(compile(ARCH_SOURCE, "tiny_arch.py", "exec"), module.__dict__)
    torch.manual_seed(seed)
    return module.TinyNet(classes).eval()


def test_input(size: int = 64) -> np.ndarray:
    """A smooth random ``(1, 1, size, size)`` float32 image."""
    rng = np.random.default_rng(1)
    return rng.random((1, 1, size, size)).astype(np.float32)


def write_torch_package(folder: Path, fmt: str, net: Any | None = None) -> Path:
    """A valid 0.5 package with ``torchscript`` or ``pytorch_state_dict`` weights of ``net`` (no ONNX)."""
    import torch

    net = net or tiny_net()
    x = test_input()
    with torch.no_grad():
        y = net(torch.from_numpy(x * np.float32(GAIN))).numpy()
    buf = io.BytesIO()
    if fmt == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is what zoo packages carry
            torch.jit.save(torch.jit.trace(net, torch.from_numpy(x)), buf)
        files = {"weights.pt": buf.getvalue()}
        entry = {**file_ref("weights.pt", files), "pytorch_version": torch.__version__.split("+")[0]}
    else:
        torch.save(net.state_dict(), buf)
        files = {"weights.pt": buf.getvalue(), "tiny_arch.py": ARCH_SOURCE.encode()}
        entry = {**file_ref("weights.pt", files), "pytorch_version": torch.__version__.split("+")[0],
                 "architecture": {**file_ref("tiny_arch.py", files), "callable": "TinyNet", "kwargs": {"classes": 2}}}
    files |= {"test_input.npy": npy_bytes(x), "test_output.npy": npy_bytes(y), "README.md": b"# Tiny net\n"}
    space = [{"type": "space", "id": a, "size": {"min": 16, "step": 16}} for a in "yx"]
    rdf = {
        "type": "model", "format_version": "0.5.4", "name": "Tiny torch net", "description": "Two convolutions.",
        "authors": [{"name": "pyapp tests"}], "cite": [{"text": "pyapp", "url": "https://bioimage.io"}],
        "license": "MIT", "documentation": "README.md",
        "inputs": [{"id": "raw", "axes": [{"type": "batch"}, {"type": "channel", "channel_names": ["gray"]}, *space],
                    "test_tensor": file_ref("test_input.npy", files), "data": {"type": "float32"},
                    "preprocessing": [{"id": "scale_linear", "kwargs": {"gain": GAIN}}]}],
        "outputs": [{"id": "logits", "axes": [{"type": "batch"}, {"type": "channel", "channel_names": ["a", "b"]},
                     *[{"type": "space", "id": a, "size": {"tensor_id": "raw", "axis_id": a}} for a in "yx"]],
                     "test_tensor": file_ref("test_output.npy", files), "data": {"type": "float32"}}],
        "weights": {fmt: entry},
    }
    return write_package(folder, rdf, files).parent


def rewrite_as_04(folder: Path) -> Path:
    """Replace the package's 0.5 description by the equivalent format 0.4 ``rdf.yaml`` (most zoo models are 0.4)."""
    import yaml

    descr = yaml.safe_load((folder / "bioimageio.yaml").read_text())
    weights = {fmt: {k: v for k, v in entry.items() if k != "architecture"} for fmt, entry in descr["weights"].items()}
    rdf = {
        "type": "model", "format_version": "0.4.10", "name": descr["name"], "description": descr["description"],
        "authors": descr["authors"], "cite": descr["cite"], "license": "MIT", "documentation": "README.md",
        "timestamp": "2024-01-01T00:00:00Z", "test_inputs": ["test_input.npy"], "test_outputs": ["test_output.npy"],
        "inputs": [{"name": "raw", "axes": "bcyx", "data_type": "float32",
                    "shape": {"min": [1, 1, 16, 16], "step": [0, 0, 16, 16]},
                    "preprocessing": [{"name": "scale_linear", "kwargs": {"gain": GAIN}}]}],
        "outputs": [{"name": "logits", "axes": "bcyx", "data_type": "float32",
                     "shape": {"reference_tensor": "raw", "scale": [1, 0, 1, 1], "offset": [0, 1, 0, 0]}}],
        "weights": weights,
    }
    (folder / "bioimageio.yaml").unlink()
    (folder / "rdf.yaml").write_text(yaml.safe_dump(rdf, sort_keys=False))
    return folder
