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
    FORBIDDEN_KEYS,
    MAX_DEPTH,
    MAX_DIM,
    MAX_NDIM,
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


def stub_proxy(key: str, name: str) -> Any:
    """A proxy that only says which remote function it stands for."""
    return lambda *args: (key, name)


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
    | st.dictionaries(st.text(max_size=8).filter(lambda k: k not in FORBIDDEN_KEYS), children, max_size=4),
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

    def add(a: int, b: int) -> int:
        return a + b

    def neg(a: int) -> int:
        return -a

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
        "interface": {"calc": Interface({"add": add, "neg": neg})},
        "nan_and_negative_big_int": [math.nan, -(2**64)],
        "deepest_allowed": nested(MAX_DEPTH),
        "ndarray_every_dtype": {name: np.arange(2, dtype=name) for name in DTYPES},
    }


def nested(depth: int) -> Any:
    """``depth`` lists inside each other around a 0 (depth as the codec counts it)."""
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


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
    "interface": "{'calc': Interface({'add': add, 'neg': neg})}  # add → id 'f0', neg → 'f1'",
    "nan_and_negative_big_int": "[math.nan, -(2**64)]",
    "deepest_allowed": "[[...[0]...]]  # 64 lists: MAX_DEPTH",
    "ndarray_every_dtype": "{name: np.arange(2, dtype=name) for name in DTYPES}",
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
    assert {v["name"] for v in stored["vectors"]} >= {"bytes", "ndarray_float32_2x3", "call_with_callback",
                                                      "interface", "error", "special_numbers", "escaped_dict"}


@pytest.mark.parametrize("name", list(vector_values()))
def test_shared_vectors_decode(name: str) -> None:
    vector = next(v for v in json.loads(VECTORS.read_text(encoding="utf-8"))["vectors"] if v["name"] == name)
    expected = vector_values()[name]
    header, buffers = from_frame(bytes.fromhex(vector["frame"]))
    assert header.decode() == vector["header"] and [bytes(b).hex() for b in buffers] == vector["buffers"]
    out = unpack(header, buffers, make_proxy=stub_proxy)
    if name == "call_with_callback":
        assert out["args"][1]() == ("f0", "ok") and out["args"][0].tolist() == [1, 2]
    elif isinstance(expected, np.ndarray):
        assert out.dtype == expected.dtype and np.array_equal(out, expected)
    elif name == "interface":
        assert isinstance(out["calc"], Interface) and list(out["calc"]) == ["add", "neg"]
        assert (out["calc"].add(), out["calc"]["neg"]()) == (("f0", "add"), ("f1", "neg"))
    elif name == "nan_and_negative_big_int":
        assert math.isnan(out[0]) and out[1] == -(2**64)
    elif name == "ndarray_every_dtype":
        assert list(out) == list(DTYPES)
        for key, array in out.items():
            assert array.dtype == np.dtype(key) and array.tolist() == expected[key].tolist()
    elif isinstance(expected, RemoteError):
        assert (out.type_name, out.message, out.remote_traceback) == ("ValueError", "bad tile size",
                                                                      expected.remote_traceback)
    else:
        assert out == expected


# ---- shared refusal vectors: messages both codecs must refuse with a CodecError --------------------------------

DOC = {
    "vectors": "pyapp RPC wire format test vectors; see pyapp/rpc/codec.py. header is the exact JSON text, buffers "
               "and frame are hex. Callables get ids f0, f1, ... in order of encoding. A codec must decode each "
               "header + buffers to the value named by python and encode that value back to the same header "
               "and buffers.",
    "limits": "The limits of the wire format (module docstring of pyapp/rpc/codec.py): max_depth arrays/objects "
              "of nesting in data (a scalar has depth 0, an array or object 1 + its deepest value); at most "
              "max_ndim entries in _rshape, each an integer 0..max_dim (no booleans, fractions or strings); no "
              "object key anywhere in data may be one of forbidden_keys (JavaScript's Object.prototype "
              "properties).",
    "refuse": "Messages that every codec must refuse: unpack(header, buffers) (header is the exact JSON text, "
              "buffers hex, make_proxy/makeProxy given) raises the codec's CodecError, whose message contains "
              "match (case-insensitive). rule names the limit it breaks: forbidden_key, depth, shape, dtype, "
              "size, rtype, field. Integral JSON floats such as 2.0 are left out on purpose: JSON.parse cannot "
              "tell them from 2.",
}


def _header(data: Any, n: int) -> str:
    return json.dumps({"v": WIRE_VERSION, "n": n, "data": data}, separators=(",", ":"))


def _nd(shape: Any, dtype: str = "uint8", index: int = 0) -> dict[str, Any]:
    return {"_rtype": "ndarray", "_rvalue": index, "_rshape": shape, "_rdtype": dtype}


def _method(name: str) -> dict[str, Any]:
    return {"_rtype": "method", "_rvalue": "f0", "_rname": name}


def make_refusals() -> list[dict[str, Any]]:
    """The refusal section: (name, rule, match, data or header text, buffers)."""
    deep_text = '{"v":1,"n":0,"data":' + "[" * 5000 + "]" * 5000 + "}"
    cases: list[tuple[str, str, str, Any, list[bytes]]] = [
        ("proto_key", "forbidden_key", "__proto__", {"__proto__": {"polluted": True}}, []),
        ("constructor_key_nested", "forbidden_key", "constructor", {"a": [{"constructor": {"name": "x"}}]}, []),
        ("toString_key_in_escaped_dict", "forbidden_key", "toString",
         {"_rtype": "dict", "_rvalue": {"_rtype": "x", "toString": 1}}, []),
        ("hasOwnProperty_key", "forbidden_key", "hasOwnProperty", {"hasOwnProperty": 1}, []),
        ("proto_interface_member", "forbidden_key", "__proto__",
         {"_rtype": "interface", "_rvalue": {"__proto__": _method("x")}}, []),
        ("proto_key_beside_rtype", "forbidden_key", "__proto__",
         {"_rtype": "bytes", "_rvalue": 0, "__proto__": {"x": 1}}, [b"a"]),
        ("nested_65_lists", "depth", "deeper than 64", nested(MAX_DEPTH + 1), []),
        ("nested_65_objects", "depth", "deeper than 64", _objects(MAX_DEPTH + 1), []),
        ("nested_5000_lists", "depth", "deeper than 64", deep_text, []),
        ("shape_fraction", "shape", "_rshape", _nd([1.5]), [b"a"]),
        ("shape_string", "shape", "_rshape", _nd(["1"]), [b"a"]),
        ("shape_boolean", "shape", "_rshape", _nd([True]), [b"a"]),
        ("shape_null_entry", "shape", "_rshape", _nd([None]), [b""]),
        ("shape_negative_pair", "shape", "_rshape", _nd([-2, -2]), [b"abcd"]),
        ("shape_negative_zero_bytes", "shape", "_rshape", _nd([-1, 0]), [b""]),
        ("shape_dimension_too_big", "shape", "_rshape", _nd([MAX_DIM + 1, 0]), [b""]),
        ("shape_absurd_product", "shape", "_rshape", _nd([2**40, 2**40, 0]), [b""]),
        ("shape_too_many_dims", "shape", "_rshape", _nd([1] * (MAX_NDIM + 1)), [b"a"]),
        ("shape_not_a_list", "shape", "_rshape", _nd({"0": 1}), [b"a"]),
        ("shape_overflowing_product", "size", "bytes", _nd([65536, 65536, 65536, 65536]), [b""]),
        ("shape_buffer_mismatch", "size", "bytes", _nd([2, 3], "float32"), [bytes(20)]),
        ("dtype_object", "dtype", "_rdtype", _nd([1], "object"), [b"a"]),
        ("dtype_float128", "dtype", "_rdtype", _nd([1], "float128"), [bytes(16)]),
        ("dtype_big_endian", "dtype", "_rdtype", _nd([1], ">f4"), [bytes(4)]),
        ("dtype_not_a_string", "dtype", "_rdtype", _nd([1], 1), [b"a"]),
        ("buffer_index_out_of_range", "field", "buffer", _nd([1], "uint8", 1), [b"a"]),
        ("unknown_rtype", "rtype", "_rtype", {"_rtype": "teapot"}, []),
        ("rtype_not_a_string", "rtype", "_rtype", {"_rtype": ["ndarray"]}, []),
        ("interface_member_not_a_method", "field", "interface", {"_rtype": "interface", "_rvalue": {"add": 1}}, []),
        ("int_not_decimal", "field", "_rvalue", {"_rtype": "int", "_rvalue": "0x10"}, []),
    ]
    return [{"name": name, "rule": rule, "match": match,
             "header": data if isinstance(data, str) else _header(data, len(buffers)),
             "buffers": [b.hex() for b in buffers]} for name, rule, match, data, buffers in cases]


def _objects(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = {"a": value}
    return value


def make_document() -> dict[str, Any]:
    limits = {"max_depth": MAX_DEPTH, "max_ndim": MAX_NDIM, "max_dim": MAX_DIM,
              "forbidden_keys": sorted(FORBIDDEN_KEYS)}
    return {"_doc": DOC, "description": DOC["vectors"], "version": WIRE_VERSION, "limits": limits,
            "vectors": make_vectors(), "refuse": make_refusals()}


def test_shared_document_is_current() -> None:
    """Vectors, limits and refusals in the file are what this codec writes (regenerate: --write-vectors)."""
    assert json.loads(VECTORS.read_text(encoding="utf-8")) == make_document()


@pytest.mark.parametrize("case", make_refusals(), ids=lambda c: c["name"])
def test_shared_refusals(case: dict[str, Any]) -> None:
    buffers = [bytes.fromhex(b) for b in case["buffers"]]
    with pytest.raises(CodecError) as info:
        unpack(case["header"].encode(), buffers, make_proxy=stub_proxy)
    assert case["match"].lower() in str(info.value).lower()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("key", sorted(FORBIDDEN_KEYS))
def test_encode_refuses_prototype_keys(key: str) -> None:
    with pytest.raises(CodecError, match="prototype"):
        encode({"ok": {key: 1}})
    with pytest.raises(CodecError, match="prototype"):
        encode(Interface({key: print}), register=FakeRegistry().register)


def test_encode_refuses_deep_values() -> None:
    assert decode(*encode(nested(MAX_DEPTH))) == nested(MAX_DEPTH)
    with pytest.raises(CodecError, match="deeper than 64"):
        encode(nested(MAX_DEPTH + 1))
    with pytest.raises(CodecError, match="deeper than 64"):
        encode(nested(100_000))
    with pytest.raises(CodecError, match="deeper than 64"):
        encode({"_rtype": _objects(MAX_DEPTH - 1)})  # the escaping dict adds the 65th level


# ---- fuzz: decode of mutated vectors raises CodecError or returns, never anything else ---------------------------

_SAMPLES = [json.loads(v["header"]) for v in make_vectors()] + [
    json.loads(r["header"]) for r in make_refusals() if r["name"] != "nested_5000_lists"]
_leaf = st.none() | st.booleans() | st.integers(-3, 2**33) | st.floats() | st.text(max_size=6) | st.sampled_from(
    ["_rtype", "_rvalue", "_rshape", "_rdtype", "ndarray", "bytes", "interface", "method", "dict", "int", "float",
     "error", "__proto__", "nan", *DTYPES])


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[Any, list[bytes]]:
    message = json.loads(json.dumps(draw(st.sampled_from(_SAMPLES))))
    data = {"data": message["data"]}
    for _ in range(draw(st.integers(1, 4))):
        node, key = data, "data"
        while isinstance(node[key], dict | list) and node[key] and draw(st.booleans()):
            node, key = node[key], draw(st.sampled_from(list(node[key]) if isinstance(node[key], dict)
                                                        else range(len(node[key]))))
        node[key] = draw(_leaf | st.dictionaries(_leaf.filter(lambda k: isinstance(k, str)), _leaf, max_size=3)
                         | st.lists(_leaf, max_size=3))
    buffers = draw(st.lists(st.binary(max_size=24), max_size=3))
    return data["data"], buffers


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_fuzz_decode_raises_only_codec_errors(case: tuple[Any, list[bytes]]) -> None:
    data, buffers = case
    try:
        decode(data, buffers, make_proxy=stub_proxy)
    except CodecError as err:
        assert str(err) and "\n" not in str(err)


@settings(max_examples=200, deadline=2000)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_fuzz_unpack_and_frames_raise_only_codec_errors(raw: bytes) -> None:
    for attempt in (lambda: unpack(raw, []), lambda: from_frame(b"PRPC" + raw)):
        try:
            attempt()
        except CodecError:
            pass


if __name__ == "__main__" and sys.argv[1:] == ["--write-vectors"]:
    VECTORS.write_text(json.dumps(make_document(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def test_half_built_interface_raises_attribute_error() -> None:
    broken = Interface.__new__(Interface)
    with pytest.raises(AttributeError, match="no member 'add'"):
        _ = broken.add
