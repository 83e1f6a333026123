"""The codec's value types: :class:`CodecError`, :class:`RemoteError` and :class:`Interface`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

__all__ = ["CodecError", "Interface", "RemoteError"]


class CodecError(ValueError):
    """A value cannot be encoded, or a message cannot be decoded; ``path`` says where inside the value."""

    def __init__(self, message: str, path: str = ""):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class RemoteError(Exception):
    """An exception raised on the other side of the connection, with its type name and traceback text."""

    def __init__(self, type_name: str, message: str, remote_traceback: str = ""):
        self.type_name = type_name
        self.message = message
        self.remote_traceback = remote_traceback
        super().__init__(f"{type_name}: {message}")

    def __str__(self) -> str:
        text = f"{self.type_name}: {self.message}"
        return f"{text}\n\nRemote traceback:\n{self.remote_traceback.rstrip()}" if self.remote_traceback else text


class Interface(Mapping[str, Callable[..., Any]]):
    """A named set of functions sent as one object (``_rtype: "interface"``); members read as attributes.

    >>> calc = Interface({"add": lambda a, b: a + b})
    >>> calc.add(1, 2), list(calc)
    (3, ['add'])
    """

    def __init__(self, members: Mapping[str, Callable[..., Any]]):
        for name, member in members.items():
            if not isinstance(name, str) or not callable(member):
                raise TypeError(f"Interface members must be str → callable, got {name!r}: {member!r}")
        self._members = dict(members)

    @classmethod
    def from_object(cls, obj: object) -> Interface:
        """The public callable attributes of ``obj`` (names not starting with ``_``), e.g. a plugin class."""
        names = (n for n in dir(obj) if not n.startswith("_"))
        return cls({n: getattr(obj, n) for n in names if callable(getattr(obj, n))})

    def __getitem__(self, name: str) -> Callable[..., Any]:
        return self._members[name]

    def __getattr__(self, name: str) -> Callable[..., Any]:
        members = self.__dict__.get("_members", {})  # absent while __init__ runs or after it failed
        try:
            return members[name]
        except KeyError:
            raise AttributeError(f"interface has no member {name!r}; it has {sorted(members)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)

    def __repr__(self) -> str:
        return f"Interface({sorted(self._members)})"
