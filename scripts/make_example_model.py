"""Write the example model shipped in ``pyapp/examples/smooth2d`` (a 3x3 smoothing filter as ONNX).

The weights are ours (a binomial kernel), so the package ships no third-party model. Run it again only
when the example changes: ``python scripts/make_example_model.py``. Needs ``onnx`` and ``onnxruntime``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).resolve().parent.parent / "pyapp" / "examples" / "smooth2d"

README = """# Smooth 2D (pyapp example)

A 3x3 binomial smoothing filter written as a one-layer ONNX network. It exists so that `pyapp validate`,
`pyapp test` and `pyapp predict` have a small model to run without downloads. The input is normalised to
zero mean and unit variance, then smoothed; a halo of 1 pixel makes tiled and untiled results equal.
"""

YAML = """type: model
format_version: 0.5.4
name: Smooth 2D example
description: A 3x3 binomial smoothing filter (one ONNX Conv layer), the pyapp example model.
authors:
  - name: pyapp developers
cite:
  - text: bioimage.io model format
    url: https://bioimage.io
license: MIT
tags: [example, smoothing, 2d]
documentation: README.md
inputs:
  - id: raw
    axes:
      - type: batch
      - type: channel
        channel_names: [intensity]
      - {type: space, id: y, size: {min: 16, step: 8}}
      - {type: space, id: x, size: {min: 16, step: 8}}
    test_tensor: {source: test_input.npy, sha256: SHA_IN}
    data: {type: float32}
    preprocessing:
      - id: zero_mean_unit_variance
        kwargs: {axes: [y, x]}
outputs:
  - id: smooth
    axes:
      - type: batch
      - type: channel
        channel_names: [intensity]
      - {type: space, id: y, halo: 1, size: {tensor_id: raw, axis_id: y}}
      - {type: space, id: x, halo: 1, size: {tensor_id: raw, axis_id: x}}
    test_tensor: {source: test_output.npy, sha256: SHA_OUT}
    data: {type: float32}
weights:
  onnx:
    source: weights.onnx
    sha256: SHA_W
    opset_version: 17
"""


def build_onnx() -> bytes:
    """One Conv node with a fixed binomial kernel and zero padding of 1."""
    k = np.outer([1, 2, 1], [1, 2, 1]).astype(np.float32) / 16
    weight = numpy_helper.from_array(k.reshape(1, 1, 3, 3), name="w")
    node = helper.make_node("Conv", ["raw", "w"], ["smooth"], pads=[1, 1, 1, 1], kernel_shape=[3, 3], strides=[1, 1],
                            dilations=[1, 1], group=1)
    graph = helper.make_graph(
        [node], "smooth2d",
        [helper.make_tensor_value_info("raw", TensorProto.FLOAT, ["b", 1, "y", "x"])],
        [helper.make_tensor_value_info("smooth", TensorProto.FLOAT, ["b", 1, "y", "x"])],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="pyapp")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    weights = build_onnx()
    (OUT / "weights.onnx").write_bytes(weights)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :64]
    blobs = sum(np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 30.0) for cy, cx in rng.integers(8, 56, (6, 2)))
    raw = (100 + 400 * blobs + rng.normal(0, 10, (64, 64))).astype(np.float32)[None, None]
    np.save(OUT / "test_input.npy", raw)
    x = (raw - raw.mean()) / (raw.std() + 1e-6)
    session = ort.InferenceSession(weights, providers=["CPUExecutionProvider"])
    np.save(OUT / "test_output.npy", session.run(None, {"raw": x.astype(np.float32)})[0])
    sha = {name: hashlib.sha256((OUT / name).read_bytes()).hexdigest()
           for name in ("test_input.npy", "test_output.npy", "weights.onnx")}
    text = (YAML.replace("SHA_IN", sha["test_input.npy"]).replace("SHA_OUT", sha["test_output.npy"])
            .replace("SHA_W", sha["weights.onnx"]))
    (OUT / "bioimageio.yaml").write_text(text)
    (OUT / "README.md").write_text(README)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
