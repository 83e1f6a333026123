"""Small PyTorch models built in the tests, packaged as torchscript or state-dict bioimage.io 0.5 packages."""

from __future__ import annotations

import io
import types
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
