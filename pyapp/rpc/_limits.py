"""The limits of the wire format that both codecs enforce (documented in :mod:`pyapp.rpc.codec`)."""

from __future__ import annotations

import json
from typing import Any

from ._types import CodecError

__all__ = ["FORBIDDEN_KEYS", "MAX_DEPTH", "MAX_DIM", "MAX_NDIM", "check_data", "check_key"]

MAX_DEPTH = 64
"""Deepest nesting of arrays/objects a message's ``data`` may have (see the module docstring)."""
MAX_NDIM = 32
"""Most dimensions an ndarray may have."""
MAX_DIM = 2**31 - 1
"""Largest size of one ndarray dimension (an index fits a signed 32-bit int: Pyodide's numpy is wasm32)."""
FORBIDDEN_KEYS = frozenset({
    "__proto__", "constructor", "toString", "toLocaleString", "valueOf", "hasOwnProperty", "isPrototypeOf",
    "propertyIsEnumerable", "__defineGetter__", "__defineSetter__", "__lookupGetter__", "__lookupSetter__",
})
"""Object keys refused on the wire: the properties of JavaScript's ``Object.prototype`` (prototype pollution)."""


_CONTAINERS = frozenset({dict, list, tuple})  # exact types: what JSON and the encoder produce


def check_key(key: str, path: str) -> str:
    """``key`` when it may travel as an object key; CodecError for JavaScript prototype property names."""
    if key in FORBIDDEN_KEYS:
        raise CodecError(f"key {key!r} is not allowed: it names a JavaScript prototype property", path)
    return key


def check_data(data: Any, path: str) -> None:
    """CodecError when ``data`` nests deeper than :data:`MAX_DEPTH` or has a key of :data:`FORBIDDEN_KEYS`.

    Iterative (no recursion), so a hostile message cannot exhaust the stack before it is refused.
    """
    stack: list[tuple[Any, int, str]] = [(data, 1, path)] if type(data) in _CONTAINERS else []
    while stack:
        item, depth, where = stack.pop()
        if depth > MAX_DEPTH:
            raise CodecError(f"message nests deeper than {MAX_DEPTH} arrays/objects", where)
        if type(item) is dict:
            if not FORBIDDEN_KEYS.isdisjoint(item):
                check_key(next(k for k in item if k in FORBIDDEN_KEYS), where)
            values: Any = item.items()
        else:
            values = enumerate(item)
        nested = [(key, value) for key, value in values if type(value) in _CONTAINERS]
        stack.extend((value, depth + 1, f"{where}[{json.dumps(key) if type(item) is dict else key}]")
                     for key, value in nested)
