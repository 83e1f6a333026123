"""pyapp.rpc: codec round trips, the binary frame, errors with paths, and the shared test vectors.

Pure Python + numpy: runs in CPython and inside Pyodide (fixtures are read relative to this file).
Regenerate the vectors after a deliberate wire change with ``python tests/test_rpc_codec.py --write-vectors``.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyapp.rpc import (
    DTYPES,
    WIRE_VERSION,
    CodecError,
    Interface,
    RemoteError,
    decode,
    encode,
    from_frame,
    pack,
    to_frame,
    unpack,
)

VECTORS = Path(__file__).parent / "data" / "rpc_vectors.json"


class FakeRegistry:
    """Stands in for a session: callables get ids "f0", "f1", ...; proxies call straight back."""

    def __init__(self) -> None:
        self.funcs: dict[str, Any] = {}

    def register(self, func: Any) -> str:
        key = f"f{len(self.funcs)}"
        self.funcs[key] = func
        return key

    def make_proxy(self, key: str, name: str) -> Any:
        func = self.funcs[key]

        def proxy(*args: Any) -> Any:
            return func(*args)

        proxy.__name__ = name
        return proxy


def roundtrip(value: Any, registry: FakeRegistry | None = None, *, framed: bool = True) -> Any:
    reg = registry or FakeRegistry()
    header, buffers = pack(value, register=reg.register)
    if framed:
        header, buffers = from_frame(to_frame(header, buffers))
    return unpack(header, buffers, make_proxy=reg.make_proxy)


def normalise(value: Any) -> Any:
    """What a value decodes to: tuples become lists."""
    if isinstance(value, list | tuple):
        return [normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    return value


# ---- property-based round trips ----------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.tuples(children, children)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_json_like_values_roundtrip(value: Any) -> None:
    assert roundtrip(value) == normalise(value)


@st.composite
def arrays(draw: st.DrawFn) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    if draw(st.booleans()):
        dtype = dtype.newbyteorder(">")
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    data = draw(st.binary(min_size=math.prod(shape) * dtype.itemsize, max_size=math.prod(shape) * dtype.itemsize))
    array = np.frombuffer(data, dtype=dtype).reshape(shape)
    view = draw(st.sampled_from(["plain", "transposed", "strided"]))
    if view == "transposed":
        array = array.T
    elif view == "strided" and array.ndim:
        array = array[..., ::2]
    return array


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(arrays())
def test_ndarrays_roundtrip(array: np.ndarray) -> None:
    out = roundtrip({"image": array})["image"]
    assert out.dtype == array.dtype.newbyteorder("<") and out.shape == array.shape
    assert out.tobytes() == np.ascontiguousarray(array, dtype=out.dtype).tobytes()  # bitwise: NaNs included


def test_ndarray_decode_is_zero_copy_view() -> None:
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    data, buffers = encode(array)
    assert np.shares_memory(np.frombuffer(buffers[0], dtype=np.uint8), array)  # encode: no copy
    backing = bytearray(bytes(buffers[0]))
    out = decode(data, [backing])
    backing[:4] = np.float32(99).tobytes()
    assert out[0, 0] == 99  # decode: a view of the received buffer


def test_zero_d_and_empty_arrays() -> None:
    for array in (np.array(3.5), np.zeros((0, 3), np.int16), np.array(True)):
        out = roundtrip(array)
        assert out.shape == array.shape and out.dtype == array.dtype and np.array_equal(out, array)


def test_bytes_numpy_scalars_big_ints_and_non_finite_floats() -> None:
    value = {"raw": b"\x00\xffab", "ba": bytearray(b"xy"), "s": np.float32(1.5), "i": np.int64(7),
             "big": -(2**80), "inf": math.inf, "ninf": -math.inf}
    out = roundtrip(value)
    assert out == {"raw": b"\x00\xffab", "ba": b"xy", "s": 1.5, "i": 7, "big": -(2**80), "inf": math.inf,
                   "ninf": -math.inf}
    assert math.isnan(roundtrip(math.nan))


def test_dict_with_rtype_key_is_escaped() -> None:
    value = {"_rtype": "ndarray", "_rvalue": 0}
    data, _ = encode(value)
    assert data == {"_rtype": "dict", "_rvalue": value}
    assert roundtrip(value) == value


def test_error_roundtrip_carries_type_message_and_traceback() -> None:
    def failing() -> None:
        raise KeyError("no such image")

    with pytest.raises(KeyError) as info:
        failing()
    out = roundtrip({"error": info.value})["error"]
    assert isinstance(out, RemoteError)
    assert out.type_name == "KeyError" and out.message == "'no such image'"
    assert "in failing" in out.remote_traceback and "Remote traceback" in str(out)
    again = roundtrip(out)  # forwarding keeps the original type name and traceback
    assert (again.type_name, again.message, again.remote_traceback) == (out.type_name, out.message,
                                                                        out.remote_traceback)


def test_callables_and_interfaces_go_through_registry_and_factory() -> None:
    reg = FakeRegistry()
    calls = []
    out = roundtrip({"cb": lambda x: calls.append(x) or x * 2,
                     "calc": Interface({"add": lambda a, b: a + b, "neg": lambda a: -a})}, reg)
    assert out["cb"](21) == 42 and calls == [21]
    assert isinstance(out["calc"], Interface) and out["calc"].add(1, 2) == 3 and out["calc"]["neg"](4) == -4
    assert sorted(reg.funcs) == ["f0", "f1", "f2"]


def test_interface_from_object() -> None:
    class Plugin:
        def run(self) -> str:
            return "ran"

        def _private(self) -> None:
            raise AssertionError

    iface = Interface.from_object(Plugin())
    assert list(iface) == ["run"] and roundtrip(iface).run() == "ran"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"args": [1, {"image": object()}]}, 'value["args"][1]["image"]: cannot encode a value of type object'),
        ({1: "x"}, "dict keys must be strings, got 1"),
        (np.array(["a"]), "dtype '<U1'"),
        ({"f": print}, 'value["f"]: cannot send the callable'),
        (1 + 2j, "type complex"),
    ],
)
def test_unsupported_values_name_type_and_path(value: Any, fragment: str) -> None:
    with pytest.raises(CodecError) as info:
        encode(value)
    assert fragment in str(info.value)


def test_circular_reference_is_an_error() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(CodecError, match="circular reference"):
        encode(loop)


@pytest.mark.parametrize(
    ("data", "buffers", "fragment"),
    [
        ({"x": {"_rtype": "teapot"}}, [], 'value["x"]: unknown _rtype \'teapot\''),
        ({"_rtype": "ndarray", "_rvalue": 0, "_rshape": [2], "_rdtype": "float32"}, [b"abc"], "buffer has 3 bytes"),
        ({"_rtype": "ndarray", "_rvalue": 3, "_rshape": [], "_rdtype": "int8"}, [], "not a buffer index"),
        ({"_rtype": "ndarray", "_rvalue": 0, "_rshape": [1], "_rdtype": "object"}, [b"a"], "_rdtype 'object'"),
        ({"_rtype": "method", "_rvalue": "f0"}, [], "no make_proxy factory"),
        ({"_rtype": "float", "_rvalue": "big"}, [], "not one of 'nan'"),
    ],
)
def test_malformed_messages(data: Any, buffers: list[bytes], fragment: str) -> None:
    with pytest.raises(CodecError) as info:
        decode(data, buffers)
    assert fragment in str(info.value)


def test_frame_layout_is_aligned_and_checked() -> None:
    header, buffers = pack([np.arange(3, dtype=np.uint8), b"12345"])
    frame = to_frame(header, buffers)
    assert frame[:4] == b"PRPC" and len(frame) % 8 == 0
    head, views = from_frame(frame)
    assert head == header and [bytes(v) for v in views] == [bytes(b) for b in buffers]
    with pytest.raises(CodecError, match="not a pyapp RPC frame"):
        from_frame(b"XXXX" + frame[4:])
    with pytest.raises(CodecError, match="truncated"):
        from_frame(frame[:-8])
    newer = json.dumps({"v": WIRE_VERSION + 1, "n": 0, "data": None}).encode()
    with pytest.raises(CodecError, match="wire version"):
        unpack(newer, [])
    with pytest.raises(CodecError, match="announces 2 buffers, got 1"):
        unpack(header, buffers[:1])


# ---- shared test vectors (the JavaScript implementation is tested against the same file) ----------------------


def vector_values() -> dict[str, Any]:
    """The values behind each vector; the file's "python" field spells the same value for readers."""

    def ok(x: int) -> int:
        return x

    error = RemoteError("ValueError", "bad tile size", 'Traceback (most recent call last):\n  File "p.py", line 3\n')
    return {
        "plain": {"name": "cells", "n": 3, "ok": True, "none": None, "scale": 0.5, "axes": ["y", "x"]},
        "bytes": b"\x00\x01\xfe\xff",
        "ndarray_float32_2x3": np.arange(6, dtype=np.float32).reshape(2, 3),
        "ndarray_uint16_transposed": np.arange(6, dtype=np.uint16).reshape(2, 3).T,
        "ndarray_bool_0d": np.array(True),
        "call_with_callback": {"method": "run", "args": [np.array([1, 2], dtype=np.int64), ok]},
        "error": error,
        "special_numbers": [2**60, math.inf, -math.inf],
        "escaped_dict": {"_rtype": "not a tag"},
    }


VECTOR_SOURCES = {
    "plain": "{'name': 'cells', 'n': 3, 'ok': True, 'none': None, 'scale': 0.5, 'axes': ['y', 'x']}",
    "bytes": "b'\\x00\\x01\\xfe\\xff'",
    "ndarray_float32_2x3": "np.arange(6, dtype=np.float32).reshape(2, 3)",
    "ndarray_uint16_transposed": "np.arange(6, dtype=np.uint16).reshape(2, 3).T",
    "ndarray_bool_0d": "np.array(True)",
    "call_with_callback": "{'method': 'run', 'args': [np.array([1, 2], dtype=np.int64), ok]}  # ok → id 'f0'",
    "error": "RemoteError('ValueError', 'bad tile size', 'Traceback (most recent call last):\\n  File \"p.py\", "
             "line 3\\n')",
    "special_numbers": "[2**60, math.inf, -math.inf]",
    "escaped_dict": "{'_rtype': 'not a tag'}",
}


def make_vectors() -> list[dict[str, Any]]:
    vectors = []
    for name, value in vector_values().items():
        header, buffers = pack(value, register=FakeRegistry().register)
        vectors.append({"name": name, "python": VECTOR_SOURCES[name], "header": header.decode(),
                        "buffers": [bytes(b).hex() for b in buffers], "frame": to_frame(header, buffers).hex()})
    return vectors


def test_shared_vectors_match_this_encoder() -> None:
    stored = json.loads(VECTORS.read_text(encoding="utf-8"))
    assert stored["version"] == WIRE_VERSION
    assert stored["vectors"] == make_vectors()


@pytest.mark.parametrize("name", list(vector_values()))
def test_shared_vectors_decode(name: str) -> None:
    vector = next(v for v in json.loads(VECTORS.read_text(encoding="utf-8"))["vectors"] if v["name"] == name)
    expected = vector_values()[name]
    header, buffers = from_frame(bytes.fromhex(vector["frame"]))
    assert header.decode() == vector["header"] and [bytes(b).hex() for b in buffers] == vector["buffers"]
    out = unpack(header, buffers, make_proxy=lambda key, fname: (key, fname))
    if name == "call_with_callback":
        assert out["args"][1] == ("f0", "ok") and out["args"][0].tolist() == [1, 2]
    elif isinstance(expected, np.ndarray):
        assert out.dtype == expected.dtype and np.array_equal(out, expected)
    elif isinstance(expected, RemoteError):
        assert (out.type_name, out.message, out.remote_traceback) == ("ValueError", "bad tile size",
                                                                      expected.remote_traceback)
    else:
        assert out == expected


if __name__ == "__main__" and sys.argv[1:] == ["--write-vectors"]:
    doc = {"description": "pyapp RPC wire format test vectors; see pyapp/rpc/codec.py. header is the exact JSON "
                          "text, buffers and frame are hex. Callables get ids f0, f1, ... in order of encoding.",
           "version": WIRE_VERSION, "vectors": make_vectors()}
    VECTORS.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def test_half_built_interface_raises_attribute_error() -> None:
    broken = Interface.__new__(Interface)
    with pytest.raises(AttributeError, match="no member 'add'"):
        _ = broken.add
