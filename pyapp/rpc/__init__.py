"""Plugin RPC: the stateless message codec (:mod:`pyapp.rpc.codec`, wire format
there) and its framing (:mod:`pyapp.rpc.frame`); sessions and transports come later.

>>> from pyapp.rpc import pack, unpack
>>> unpack(*pack({"answer": 42}))
{'answer': 42}
"""

from ._types import CodecError, Interface, RemoteError
from .codec import DTYPES, FORBIDDEN_KEYS, MAX_DEPTH, MAX_DIM, MAX_NDIM, WIRE_VERSION, decode, encode
from .frame import from_frame, pack, to_frame, unpack

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
    "from_frame",
    "pack",
    "to_frame",
    "unpack",
]
