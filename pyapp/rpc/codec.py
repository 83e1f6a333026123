"""Stateless message codec: Python values ⇄ JSON-like data + a list of binary buffers.

This module is the contract between the Python and the JavaScript side of the plugin RPC. It holds no
session state: callables are turned into ids by a caller-supplied ``register`` function, and remote ids
are turned back into callables by a caller-supplied ``make_proxy`` factory.

Wire format (version 1)
-----------------------
``encode(value)`` returns ``(data, buffers)``. ``data`` is made of JSON values only (null, true/false,
numbers, strings, arrays, objects with string keys); ``buffers`` is a list of byte buffers (in the browser:
the transferable ArrayBuffers of a ``postMessage``). Plain values map to themselves: ``None``, ``bool``,
``str``, ``int`` with ``|x| <= 2**53``, finite ``float``, ``list`` and ``tuple`` (both become arrays and
decode as ``list``) and ``dict`` with ``str`` keys. numpy scalars are sent as their Python value. Every other
value is an object with an ``_rtype`` tag:

============ ====================================================================================
``_rtype``   fields
============ ====================================================================================
``bytes``    ``_rvalue``: buffer index. Decodes to ``bytes``.
``ndarray``  ``_rvalue``: buffer index, ``_rshape``: list of ints, ``_rdtype``: one of ``bool int8 int16
             int32 int64 uint8 uint16 uint32 uint64 float16 float32 float64 complex64 complex128``. The
             buffer holds the C-order elements, little-endian, exactly ``prod(shape) * itemsize`` bytes.
``method``   ``_rvalue``: id (string) given by the sender's registry, ``_rname``: the function's name.
``interface`` ``_rvalue``: object of member name → encoded ``method``. Decodes to :class:`Interface`.
``error``    ``_rvalue``: message, ``_rname``: exception type name, ``_rtraceback``: the traceback text
             (may be empty). Decodes to :class:`RemoteError`.
``int``      ``_rvalue``: decimal string, for integers outside JavaScript's safe range (``|x| > 2**53``).
``float``    ``_rvalue``: ``"nan"``, ``"inf"`` or ``"-inf"`` (JSON has no non-finite numbers).
``dict``     ``_rvalue``: the encoded object; used only for a dict that itself has an ``_rtype`` key.
============ ====================================================================================

A decoder that meets an ``_rtype`` it does not know raises :class:`CodecError`.

Limits (both codecs refuse, on encode and on decode, with :class:`CodecError`; the refusal vectors in
``tests/data/rpc_vectors.json`` hold one message per rule):

- ``data`` nests at most :data:`MAX_DEPTH` (64) arrays/objects: a scalar has depth 0, an array or object
  1 + the largest depth of its values (tagged objects and their fields count like any other object);
- no object key (plain dict, escaped ``dict``, ``interface`` member) names a property of JavaScript's
  ``Object.prototype`` (:data:`FORBIDDEN_KEYS`: ``__proto__``, ``constructor``, ``toString``, ...);
- ``_rshape`` is a list of at most :data:`MAX_NDIM` (32) integers, each ``0 <= n <=`` :data:`MAX_DIM`
  (2**31 - 1); JSON booleans, fractions and strings are not integers.

:mod:`pyapp.rpc.frame` carries this over byte streams. ``pack(value)`` turns the result into
``(header, buffers)`` where ``header`` is UTF-8 JSON text ``{"v": 1, "n": <number of buffers>, "data": <data>}``
(compact separators, no NaN). ``to_frame`` joins both into one binary frame (for a WebSocket); all integers
little-endian::

    b"PRPC" | u32 header length | header | pad to 8 | (u64 buffer length | buffer | pad to 8) * n

Padding bytes are zero; every buffer starts at an offset that is a multiple of 8, so typed-array and numpy
views of it need no copy. A reader rejects a header whose ``v`` is greater than :data:`WIRE_VERSION`.
"""

from __future__ import annotations

import json
import math
import traceback
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ._limits import FORBIDDEN_KEYS, MAX_DEPTH, MAX_DIM, MAX_NDIM, check_data, check_key
from ._types import CodecError, Interface, RemoteError

__all__ = [
    "DTYPES",
    "FORBIDDEN_KEYS",
    "MAX_DEPTH",
    "MAX_DIM",
    "MAX_NDIM",
    "WIRE_VERSION",
    "CodecError",
    "Interface",
    "RemoteError",
    "decode",
    "encode",
]

WIRE_VERSION = 1
"""Version written into every packed header; readers refuse newer versions."""

DTYPES = (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
)
"""The ndarray dtypes the wire carries (names as in numpy and in ``_rdtype``)."""

_MAX_SAFE_INT = 2**53

Register = Callable[[Callable[..., Any]], str]
"""``register(func) -> id``: the sender's registry of callables that the peer may call back."""
MakeProxy = Callable[[str, str], Callable[..., Any]]
"""``make_proxy(id, name) -> callable``: builds the local stand-in for a remote function."""


class _Encoder:
    """One ``encode`` call's working state (the buffers and the cycle guard); never outlives the call."""

    def __init__(self, register: Register | None):
        self.register = register
        self.buffers: list[memoryview] = []
        self._active: set[int] = set()

    def add_buffer(self, view: memoryview) -> int:
        self.buffers.append(view)
        return len(self.buffers) - 1

    def value(self, value: Any, path: str) -> Any:
        handler = _PLAIN_ENCODERS.get(type(value))
        if handler is None:
            handler = _find_encoder(value)
        if handler is None:
            raise CodecError(f"cannot encode a value of type {_type_name(value)}; {_SUPPORTED}", path)
        return handler(self, value, path)

    def container(self, value: Any, path: str, items: Callable[[], Any]) -> Any:
        if id(value) in self._active:
            raise CodecError("circular reference: the value contains itself", path)
        self._active.add(id(value))
        try:
            return items()
        finally:
            self._active.discard(id(value))


class _Decoder:
    """One ``decode`` call's inputs: the received buffers and the proxy factory."""

    def __init__(self, buffers: list[Any], make_proxy: MakeProxy | None):
        self.buffers = buffers
        self.make_proxy = make_proxy

    def value(self, data: Any, path: str) -> Any:
        if isinstance(data, list):
            return [self.value(v, f"{path}[{i}]") for i, v in enumerate(data)]
        if not isinstance(data, dict):
            return data
        if "_rtype" not in data:
            return {k: self.value(v, f"{path}[{json.dumps(k)}]") for k, v in data.items()}
        rtype = data["_rtype"]
        codec = _RTYPES.get(rtype) if isinstance(rtype, str) else None
        if codec is None:
            raise CodecError(f"unknown _rtype {rtype!r}; this decoder knows {sorted(_RTYPES)}", path)
        return codec.decode(self, data, path)

    def buffer(self, data: dict[str, Any], path: str) -> Any:
        index = data.get("_rvalue")
        if type(index) is not int or not 0 <= index < len(self.buffers):
            raise CodecError(f"_rvalue {index!r} is not a buffer index (have {len(self.buffers)} buffers)", path)
        return self.buffers[index]


def _type_name(value: object) -> str:
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _field(data: dict[str, Any], key: str, kind: type | tuple[type, ...], path: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise CodecError(f"{data.get('_rtype')} message needs {key} of type {kind}, got {value!r}", path)
    return value


# ---- plain JSON values -------------------------------------------------------------------------------------


def _enc_scalar(enc: _Encoder, value: Any, path: str) -> Any:
    return value


def _enc_int(enc: _Encoder, value: int, path: str) -> Any:
    return value if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT else {"_rtype": "int", "_rvalue": str(value)}


def _enc_float(enc: _Encoder, value: float, path: str) -> Any:
    return value if math.isfinite(value) else {"_rtype": "float", "_rvalue": repr(value)}


def _enc_list(enc: _Encoder, value: list | tuple, path: str) -> Any:
    return enc.container(value, path, lambda: [enc.value(v, f"{path}[{i}]") for i, v in enumerate(value)])


def _enc_dict(enc: _Encoder, value: dict, path: str) -> Any:
    def items() -> dict[str, Any]:
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CodecError(f"dict keys must be strings, got {key!r} ({_type_name(key)})", path)
            out[check_key(key, path)] = enc.value(item, f"{path}[{json.dumps(key)}]")
        return {"_rtype": "dict", "_rvalue": out} if "_rtype" in out else out

    return enc.container(value, path, items)


_PLAIN_ENCODERS: dict[type, Callable[[_Encoder, Any, str], Any]] = {
    type(None): _enc_scalar, bool: _enc_scalar, str: _enc_scalar, int: _enc_int, float: _enc_float,
    list: _enc_list, tuple: _enc_list, dict: _enc_dict,
}


# ---- tagged values: one encoder/decoder pair per _rtype ---------------------------------------------------


def _enc_bytes(enc: _Encoder, value: bytes | bytearray | memoryview, path: str) -> Any:
    view = memoryview(value)
    if view.format != "B" or not view.c_contiguous:
        view = memoryview(view.tobytes())  # one copy, for strided or typed views
    return {"_rtype": "bytes", "_rvalue": enc.add_buffer(view)}


def _dec_bytes(dec: _Decoder, data: dict[str, Any], path: str) -> bytes:
    return bytes(dec.buffer(data, path))


def _enc_ndarray(enc: _Encoder, value: np.ndarray, path: str) -> Any:
    dtype = value.dtype
    if dtype.name not in DTYPES or dtype.fields is not None:
        raise CodecError(f"cannot send an ndarray of dtype {dtype.str!r} ({dtype.name}); use one of {DTYPES}", path)
    array = np.asarray(value, dtype=dtype.newbyteorder("<"), order="C")  # copies only if needed
    view = memoryview(array.reshape(-1).view(np.uint8))
    return {"_rtype": "ndarray", "_rvalue": enc.add_buffer(view), "_rshape": list(array.shape), "_rdtype": dtype.name}


def _dec_ndarray(dec: _Decoder, data: dict[str, Any], path: str) -> np.ndarray:
    name = _field(data, "_rdtype", str, path)
    if name not in DTYPES:
        raise CodecError(f"_rdtype {name!r} is not one of {DTYPES}", path)
    shape = _field(data, "_rshape", list, path)
    if len(shape) > MAX_NDIM or not all(type(n) is int and 0 <= n <= MAX_DIM for n in shape):
        raise CodecError(f"_rshape must be a list of at most {MAX_NDIM} integers 0..{MAX_DIM}, got "
                         f"{json.dumps(shape)[:80]}", path)
    dtype = np.dtype(name).newbyteorder("<")
    buffer = dec.buffer(data, path)
    count = math.prod(shape)
    if memoryview(buffer).nbytes != count * dtype.itemsize:
        raise CodecError(f"buffer has {memoryview(buffer).nbytes} bytes, shape {shape} of {name} needs "
                         f"{count * dtype.itemsize}", path)
    return np.frombuffer(buffer, dtype=dtype, count=count).reshape(tuple(shape))


def _enc_method(enc: _Encoder, value: Callable[..., Any], path: str) -> Any:
    if enc.register is None:
        raise CodecError(f"cannot send the callable {value!r} without a registry; pass register= to encode", path)
    name = getattr(value, "__name__", None) or type(value).__name__
    return {"_rtype": "method", "_rvalue": enc.register(value), "_rname": str(name)}


def _dec_method(dec: _Decoder, data: dict[str, Any], path: str) -> Callable[..., Any]:
    method_id = _field(data, "_rvalue", str, path)
    if dec.make_proxy is None:
        raise CodecError(f"received a remote function {method_id!r} but no make_proxy factory was given", path)
    return dec.make_proxy(method_id, str(data.get("_rname", "")))


def _enc_interface(enc: _Encoder, value: Interface, path: str) -> Any:
    members = {check_key(name, path): _enc_method(enc, member, f"{path}.{name}") for name, member in value.items()}
    return {"_rtype": "interface", "_rvalue": members}


def _dec_interface(dec: _Decoder, data: dict[str, Any], path: str) -> Interface:
    members = _field(data, "_rvalue", dict, path)
    for name, member in members.items():
        if not isinstance(member, dict) or member.get("_rtype") != "method":
            raise CodecError(f"interface member {name!r} must be a method object, got {json.dumps(member)[:80]}",
                             path)
    return Interface({name: _dec_method(dec, member, f"{path}.{name}") for name, member in members.items()})


def _enc_error(enc: _Encoder, value: BaseException, path: str) -> Any:
    if isinstance(value, RemoteError):
        name, message, text = value.type_name, value.message, value.remote_traceback
    else:
        name, message = type(value).__name__, str(value)
        text = "".join(traceback.format_exception(value)) if value.__traceback__ is not None else ""
    return {"_rtype": "error", "_rvalue": message, "_rname": name, "_rtraceback": text}


def _dec_error(dec: _Decoder, data: dict[str, Any], path: str) -> RemoteError:
    return RemoteError(_field(data, "_rname", str, path), _field(data, "_rvalue", str, path),
                       str(data.get("_rtraceback") or ""))


def _dec_int(dec: _Decoder, data: dict[str, Any], path: str) -> int:
    try:
        return int(_field(data, "_rvalue", str, path))
    except ValueError as exc:
        raise CodecError(f"_rvalue {data['_rvalue']!r} is not a decimal integer", path) from exc


def _dec_float(dec: _Decoder, data: dict[str, Any], path: str) -> float:
    text = _field(data, "_rvalue", str, path)
    if text not in ("nan", "inf", "-inf"):
        raise CodecError(f"_rvalue {text!r} is not one of 'nan', 'inf', '-inf'", path)
    return float(text)


def _dec_dict(dec: _Decoder, data: dict[str, Any], path: str) -> dict[str, Any]:
    value = _field(data, "_rvalue", dict, path)
    return {k: dec.value(v, f"{path}[{json.dumps(k)}]") for k, v in value.items()}


class _RType(NamedTuple):
    """How one ``_rtype`` travels: the Python types it encodes (by isinstance) and its decoder."""

    types: tuple[type, ...]
    encode: Callable[[_Encoder, Any, str], Any] | None
    decode: Callable[[_Decoder, dict[str, Any], str], Any]


_RTYPES: dict[str, _RType] = {
    "bytes": _RType((bytes, bytearray, memoryview), _enc_bytes, _dec_bytes),
    "ndarray": _RType((np.ndarray,), _enc_ndarray, _dec_ndarray),
    "interface": _RType((Interface,), _enc_interface, _dec_interface),
    "error": _RType((BaseException,), _enc_error, _dec_error),
    "method": _RType((), _enc_method, _dec_method),  # any other callable, see _find_encoder
    "int": _RType((), None, _dec_int),  # produced by _enc_int
    "float": _RType((), None, _dec_float),  # produced by _enc_float
    "dict": _RType((), None, _dec_dict),  # produced by _enc_dict
}

_SUPPORTED = ("supported: None, bool, int, float, str, list, tuple, dict with str keys, bytes, numpy arrays "
              "and scalars, exceptions, callables, Interface")


def _enc_numpy_scalar(enc: _Encoder, value: np.generic, path: str) -> Any:
    return enc.value(value.item(), path)


def _find_encoder(value: Any) -> Callable[[_Encoder, Any, str], Any] | None:
    """The encoder for a value that is not a plain JSON type: by _rtype table, then numpy scalar, callable."""
    for rtype in _RTYPES.values():
        if rtype.types and isinstance(value, rtype.types):
            return rtype.encode
    if isinstance(value, np.generic) and value.dtype.kind in "biufc":
        return _enc_numpy_scalar if value.dtype.kind != "c" else None
    if isinstance(value, (int, float, str, list, tuple, dict)):  # subclasses of plain types
        return _PLAIN_ENCODERS[next(t for t in type(value).__mro__ if t in _PLAIN_ENCODERS)]
    if callable(value) and not isinstance(value, type):
        return _enc_method
    return None


# ---- public API ---------------------------------------------------------------------------------------------


def encode(value: Any, *, register: Register | None = None, root: str = "value") -> tuple[Any, list[memoryview]]:
    """Encode ``value`` into JSON-like data and a list of buffers (see the module docstring).

    Parameters
    ----------
    value
        The value to send.
    register
        ``register(func) -> id`` for callables found in ``value``; without it callables are an error.
    root
        The name of ``value`` in error messages (``args`` gives paths like ``args[1]["image"]``).

    Returns
    -------
    tuple
        ``(data, buffers)``; the buffers are zero-copy ``memoryview`` s of the arrays and bytes in ``value``
        (a non-contiguous or big-endian array is copied once).

    Raises
    ------
    CodecError
        A value of an unsupported type, a dict with a non-string or forbidden key, a circular reference or
        nesting deeper than :data:`MAX_DEPTH`; the message names the type and the path.

    Examples
    --------
    >>> data, buffers = encode({"x": np.arange(3, dtype=np.uint8), "n": 1})
    >>> data, [bytes(b) for b in buffers]
    ({'x': {'_rtype': 'ndarray', '_rvalue': 0, '_rshape': [3], '_rdtype': 'uint8'}, 'n': 1}, [b'\\x00\\x01\\x02'])
    """
    enc = _Encoder(register)
    try:
        data = enc.value(value, root)
    except RecursionError:
        raise CodecError(f"value nests deeper than {MAX_DEPTH} arrays/objects", root) from None
    check_data(data, root)
    return data, enc.buffers


def decode(data: Any, buffers: list[Any] = (), *, make_proxy: MakeProxy | None = None, root: str = "value") -> Any:
    """Decode what :func:`encode` produced; ndarrays are views of ``buffers`` (read-only for ``bytes``).

    Raises
    ------
    CodecError
        An unknown ``_rtype``, a missing or malformed field, a bad buffer index or size, a remote function
        without a ``make_proxy`` factory, or a message outside the limits of the module docstring.
    """
    check_data(data, root)
    return _Decoder(list(buffers), make_proxy).value(data, root)
