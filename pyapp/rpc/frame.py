"""One message as a JSON header + buffers, or as a single binary frame (for a WebSocket).

The layout is part of the wire format documented in :mod:`pyapp.rpc.codec`.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from ._types import CodecError
from .codec import MAX_DEPTH, WIRE_VERSION, MakeProxy, Register, decode, encode

__all__ = ["from_frame", "pack", "to_frame", "unpack"]

_MAGIC = b"PRPC"


def pack(value: Any, *, register: Register | None = None, root: str = "value") -> tuple[bytes, list[memoryview]]:
    """Encode ``value`` into a JSON header (UTF-8 bytes, with the wire version) and the buffers."""
    data, buffers = encode(value, register=register, root=root)
    header = {"v": WIRE_VERSION, "n": len(buffers), "data": data}
    return json.dumps(header, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(), buffers


def unpack(header: bytes, buffers: list[Any] = (), *, make_proxy: MakeProxy | None = None) -> Any:
    """Decode a header and buffers from :func:`pack` (or from :func:`from_frame`).

    Raises
    ------
    CodecError
        Invalid JSON, a header from a newer wire version, a buffer count mismatch, or any decode error.
    """
    try:
        message = json.loads(bytes(header))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CodecError(f"header is not UTF-8 JSON: {exc}") from exc
    except RecursionError:
        raise CodecError(f"message nests deeper than {MAX_DEPTH} arrays/objects") from None
    if not isinstance(message, dict) or type(message.get("v")) is not int or "data" not in message:
        raise CodecError('header must be a JSON object with "v", "n" and "data"')
    if message["v"] > WIRE_VERSION:
        raise CodecError(f"message uses wire version {message['v']}, this reader knows up to {WIRE_VERSION}; "
                         "update pyapp on this side")
    if message.get("n") != len(buffers):
        raise CodecError(f"header announces {message.get('n')!r} buffers, got {len(buffers)}")
    return decode(message["data"], buffers, make_proxy=make_proxy, root="message")


def _pad(n: int) -> int:
    return -n % 8


def to_frame(header: bytes, buffers: list[Any]) -> bytes:
    """Join a header and its buffers into one binary frame (layout in the module docstring)."""
    parts = [_MAGIC, struct.pack("<I", len(header)), header, bytes(_pad(8 + len(header)))]
    for buffer in buffers:
        size = memoryview(buffer).nbytes
        parts += [struct.pack("<Q", size), buffer, bytes(_pad(size))]
    return b"".join(parts)


def from_frame(frame: bytes | bytearray | memoryview) -> tuple[bytes, list[memoryview]]:
    """Split a frame from :func:`to_frame` into the header and zero-copy views of the buffers.

    Raises
    ------
    CodecError
        Wrong magic bytes or a truncated frame.
    """
    view = memoryview(frame).cast("B")
    if view[:4] != _MAGIC:
        raise CodecError(f"not a pyapp RPC frame: starts with {bytes(view[:4])!r}, expected {_MAGIC!r}")
    if len(view) < 8:
        raise CodecError("frame truncated inside the header length")
    (size,) = struct.unpack_from("<I", view, 4)
    end = 8 + size
    if end > len(view):
        raise CodecError(f"frame truncated: header needs {size} bytes, frame has {len(view) - 8}")
    header = bytes(view[8:end])
    offset = end + _pad(end)
    buffers = []
    while offset < len(view):
        if offset + 8 > len(view):
            raise CodecError(f"frame truncated at byte {offset}: buffer length missing")
        (size,) = struct.unpack_from("<Q", view, offset)
        start, offset = offset + 8, offset + 8 + size
        if offset > len(view):
            raise CodecError(f"frame truncated: buffer {len(buffers)} needs {size} bytes from {start}")
        buffers.append(view[start:offset])
        offset += _pad(size)
    return header, buffers
