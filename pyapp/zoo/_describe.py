"""Helpers of :mod:`pyapp.zoo.from_onnx`: what an ONNX file declares, processing steps, cover image, README."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Axis letter -> bioimage.io 0.5 axis type.
AXIS_KINDS = {"b": "batch", "c": "channel", "t": "time", "i": "index", "z": "space", "y": "space", "x": "space"}
_TENSOR_ID = re.compile(r"^[a-z0-9_\-.]+$", re.IGNORECASE)


@dataclass(frozen=True)
class OnnxInfo:
    """The single input and output of an ONNX network: names, static sizes (None where free), opset."""

    input_name: str
    input_shape: tuple[int | None, ...]
    output_name: str
    output_shape: tuple[int | None, ...]
    opset: int


@dataclass(frozen=True)
class Network:
    """An ONNX network opened by an onnxruntime: what it declares, and ``backend(model)``, a pyapp
    :class:`~pyapp.runtime.Backend` that runs it for a description of it.

    :func:`open_onnxruntime` opens one in CPython; the model worker opens one with onnxruntime-web
    (``pyapp.runtime.worker_package``), so the page builds packages with the same code as the CLI.
    """

    info: OnnxInfo
    backend: Callable[[Any], Any]


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """Top-level (field number, wire type, value) of a protobuf message; bytes for length-delimited fields."""
    out, pos = [], 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, pos = data[pos:pos + size], pos + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((number, wire, value))
    return out


def onnx_opset(data: bytes) -> int:
    """The default-domain opset version of an ONNX model (``ModelProto.opset_import``, field 8)."""
    for number, wire, value in _fields(data):
        if number == 8 and wire == 2:
            entry = {n: v for n, _, v in _fields(value)}
            if entry.get(1, b"") in (b"", b"ai.onnx"):
                return int(entry.get(2, 0))
    raise ValueError("no default opset_import")


def _type_name(kind: str) -> str:
    """``'float32'`` for onnxruntime's ``'tensor(float)'`` and onnxruntime-web's ``'float32'``."""
    return {"tensor(float)": "float32", "tensor(double)": "float64"}.get(kind, kind.removeprefix("tensor(")
                                                                          .removesuffix(")"))


def signature(inputs: Sequence[tuple[str, str, Sequence[Any]]], outputs: Sequence[tuple[str, str, Sequence[Any]]],
              data: bytes, label: str) -> OnnxInfo:
    """The :class:`OnnxInfo` of a network from its ``(name, type, shape)`` inputs and outputs as an onnxruntime
    lists them (symbolic or unknown sizes as strings or None).

    Raises
    ------
    PackageError
        When the network has several inputs/outputs or a non-float input (naming ``--onnx``).
    """
    from .from_onnx import PackageError

    if len(inputs) != 1 or len(outputs) != 1:
        raise PackageError(f"--onnx: {label} has {len(inputs)} inputs and {len(outputs)} outputs; pyapp package "
                           "takes networks with one of each")
    (in_name, in_type, in_shape), (out_name, _, out_shape) = inputs[0], outputs[0]
    if _type_name(in_type) != "float32":
        raise PackageError(f"--onnx: {label}: input {in_name!r} is {_type_name(in_type)}; pyapp package takes "
                           "float32")
    try:
        opset = onnx_opset(data)
    except (ValueError, IndexError) as err:
        raise PackageError(f"--onnx: {label} is not a readable ONNX file: {err}") from None

    def static(shape: Sequence[Any]) -> tuple[int | None, ...]:
        return tuple(int(d) if isinstance(d, int | float) and d > 0 else None for d in shape)

    return OnnxInfo(str(in_name), static(in_shape), str(out_name), static(out_shape), opset)


def open_onnxruntime(data: bytes, label: str) -> Network:
    """The network ``data`` opened with onnxruntime (CPython).

    Raises
    ------
    PackageError
        When the file is not ONNX, or has several inputs/outputs or non-float inputs (naming ``--onnx``).
    """
    import onnxruntime as ort

    from ..runtime import create_backend
    from .from_onnx import PackageError

    try:
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as err:  # protobuf/onnxruntime errors have no common type
        raise PackageError(f"--onnx: {label} is not a readable ONNX file: {str(err).splitlines()[0][:160]}") from None
    listed = [[(v.name, v.type, v.shape) for v in values] for values in (session.get_inputs(), session.get_outputs())]
    return Network(signature(*listed, data, label), create_backend)


def tensor_id_for(name: str, fallback: str) -> str:
    """The ONNX tensor name when it is a valid bioimage.io tensor id, else ``fallback``."""
    return name if _TENSOR_ID.match(name) and len(name) <= 32 else fallback


def _reduce_axes(letters: str) -> list[str]:
    return [a for a in letters if AXIS_KINDS[a] == "space"]


def processing_steps(steps: Sequence[str | Mapping[str, Any]], letters: str, option: str) -> list[dict[str, Any]]:
    """0.5 processing steps from ids (with the usual per-sample, per-channel kwargs) or full mappings.

    Raises
    ------
    PackageError
        For an id pyapp cannot fill in on its own (naming ``option``).
    """
    from .from_onnx import PackageError

    axes = _reduce_axes(letters)
    defaults: dict[str, dict[str, Any]] = {
        "zero_mean_unit_variance": {"axes": axes},
        "scale_range": {"axes": axes, "min_percentile": 1.0, "max_percentile": 99.8},
        "sigmoid": {},
        "softmax": {"axis": "channel"} if "c" in letters else {},
    }
    out = []
    for step in steps:
        if isinstance(step, Mapping):
            out.append(dict(step))
        elif step == "softmax" and "c" not in letters:
            raise PackageError(f"{option}: softmax needs a channel axis ('c') in the tensor's axes {letters!r}")
        elif step in defaults:
            out.append({"id": step, **({"kwargs": defaults[step]} if defaults[step] else {})})
        else:
            raise PackageError(f"{option}: {step!r} is not one of {', '.join(sorted(defaults))} "
                               "(others need kwargs: use the Python API)")
    return out


def _plane(a: np.ndarray) -> np.ndarray:
    """A 2D view of the first batch/channel and the middle of any further leading axes, scaled to 0..255."""
    while a.ndim > 2:
        a = a[a.shape[0] // 2] if a.shape[0] > 1 else a[0]
    a = a.astype(np.float64)
    low, high = np.percentile(a, [1, 99.5]) if a.size else (0.0, 1.0)
    scaled = np.clip((a - low) / (high - low if high > low else 1.0), 0, 1)
    return (scaled * 255).astype(np.uint8)


def cover_png(x: np.ndarray, y: np.ndarray, height: int = 256) -> bytes:
    """A 2:1 PNG: the test input (left) next to the test output (right), each a gray square."""
    from PIL import Image

    halves = [Image.fromarray(_plane(a)).resize((height, height), Image.Resampling.NEAREST) for a in (x, y)]
    cover = Image.new("L", (2 * height, height))
    cover.paste(halves[0], (0, 0))
    cover.paste(halves[1], (height, 0))
    buf = io.BytesIO()
    cover.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def tiff_bytes(x: np.ndarray, letters: str) -> bytes:
    """``x`` as a TIFF file with its axes recorded (``b`` as ``Q``), for the package's sample tensor."""
    import tifffile

    buf = io.BytesIO()
    axes = "".join({"b": "Q", "i": "Q"}.get(a, a.upper()) for a in letters)
    tifffile.imwrite(buf, x, photometric="minisblack", metadata={"axes": axes})
    return buf.getvalue()


def readme(rdf: Mapping[str, Any], label: str, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> str:
    """The generated documentation: what goes in and out, how it was packaged, how to check it."""
    t_in, t_out = rdf["inputs"][0], rdf["outputs"][0]

    def axes(t: Mapping[str, Any]) -> str:
        parts = []
        for a in t["axes"]:
            size = a.get("size", len(a.get("channel_names", [])) or "any")
            if isinstance(size, Mapping):
                size = (f"{size['min']} + n*{size['step']}" if "min" in size
                        else f"as {size['tensor_id']}.{size['axis_id']}")
            parts.append(f"{a.get('id', a['type'])} ({size})")
        return ", ".join(parts)

    def steps(t: Mapping[str, Any], key: str) -> str:
        return ", ".join(s["id"] for s in t.get(key, [])) or "none"

    return f"""# {rdf["name"]}

{rdf["description"]}

## Input and output
- input `{t_in["id"]}`: {axes(t_in)}; preprocessing: {steps(t_in, "preprocessing")}
- output `{t_out["id"]}`: {axes(t_out)}; postprocessing: {steps(t_out, "postprocessing")}

## How this package was made
`pyapp package --onnx {label}` read the network's inputs and outputs with onnxruntime, took the centre of the
sample image as test input (shape {list(in_shape)}) and computed the test output (shape {list(out_shape)}) with
pyapp's runner. `cover.png` shows the test input (left) and output (right).

## Validation
`pyapp test` reproduces the test output; `bioimageio test` (bioimage.io's reference tool) does too.

## License
{rdf["license"]}
"""
