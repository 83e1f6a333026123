"""Small typed readers over raw YAML data that record an :class:`Issue` instead of raising.

Each reader returns a usable fallback on bad input, so one pass over a description collects every
problem with its field path.
"""

from __future__ import annotations

import re
from typing import Any

from .model import FileRef, Issue

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_MISSING = object()


class Collector:
    """Collects issues for one description."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def error(self, path: str, message: str) -> None:
        self.issues.append(Issue(path, message, "error"))

    def warn(self, path: str, message: str) -> None:
        self.issues.append(Issue(path, message, "warning"))

    @property
    def has_errors(self) -> bool:
        return any(i.severity == "error" for i in self.issues)


def join(path: str, key: str | int) -> str:
    """Field path notation: ``inputs[0].axes`` for keys and indices."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def get(
    c: Collector, data: dict[str, Any], key: str, path: str, types: type | tuple[type, ...],
    *, required: bool = False, default: Any = None,
) -> Any:
    """``data[key]`` if it has one of ``types``; else record an issue and return ``default``."""
    value = data.get(key, _MISSING)
    where = join(path, key)
    if value is _MISSING or (value is None and not required):
        if required:
            c.error(where, "field required")
        return default
    if isinstance(value, bool) and bool not in _as_tuple(types):
        c.error(where, f"expected {_names(types)}, got {value!r}")
        return default
    if not isinstance(value, types):
        c.error(where, f"expected {_names(types)}, got {_type_name(value)} {_short(value)}")
        return default
    return value


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _names(types: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", list: "a list", dict: "a mapping",
             bool: "a boolean"}
    return " or ".join(names.get(t, t.__name__) for t in _as_tuple(types))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def get_str(c: Collector, data: dict[str, Any], key: str, path: str, *, required: bool = False,
            default: str | None = None) -> str | None:
    """A string field; numbers are accepted where YAML turned a version-like value into one."""
    value = data.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return get(c, data, key, path, str, required=required, default=default)


def get_number(c: Collector, data: dict[str, Any], key: str, path: str, *, required: bool = False,
               default: float | None = None) -> float | None:
    """A float field (an int is fine)."""
    value = get(c, data, key, path, (int, float), required=required, default=default)
    return None if value is None else float(value)


def get_list(c: Collector, data: dict[str, Any], key: str, path: str, *, required: bool = False,
             nonempty: bool = False) -> list[Any]:
    """A list field, ``[]`` when absent or bad."""
    value = get(c, data, key, path, list, required=required, default=[])
    if nonempty and not value and key in data:
        c.error(join(path, key), "must not be empty")
    return value


def get_dict(c: Collector, data: dict[str, Any], key: str, path: str, *, required: bool = False) -> dict[str, Any]:
    """A mapping field, ``{}`` when absent or bad."""
    return get(c, data, key, path, dict, required=required, default={})


def as_dict(c: Collector, value: Any, path: str) -> dict[str, Any] | None:
    """``value`` if it is a mapping, else an issue and None."""
    if isinstance(value, dict):
        return value
    c.error(path, f"expected a mapping, got {_type_name(value)} {_short(value)}")
    return None


def check_sha256(c: Collector, value: Any, path: str) -> str | None:
    """A sha256 hex digest, or None with an issue."""
    if value is None:
        return None
    if not isinstance(value, str) or not _SHA256.match(value):
        c.error(path, f"expected a sha256 hex digest (64 hex characters), got {_short(value)}")
        return None
    return value.lower()


def file_ref(c: Collector, value: Any, path: str, *, sha256: Any = None) -> FileRef | None:
    """A file reference: ``"name"`` or ``{source: name, sha256: ...}`` (0.5 FileDescr)."""
    if value is None:
        c.error(path, "field required")
        return None
    if isinstance(value, dict):
        source = value.get("source")
        if source is None:
            c.error(join(path, "source"), "field required")
            return None
        if not isinstance(source, str) or not source.strip():
            c.error(join(path, "source"), f"expected a file name or URL, got {_short(source)}")
            return None
        return FileRef(source, check_sha256(c, value.get("sha256"), join(path, "sha256")))
    if not isinstance(value, str) or not value.strip():
        c.error(path, f"expected a file name or URL, got {_type_name(value)} {_short(value)}")
        return None
    return FileRef(value, check_sha256(c, sha256, path + "_sha256") if sha256 is not None else None)


def check_unknown(c: Collector, data: dict[str, Any], known: set[str], path: str) -> None:
    """Warn about fields this format version does not define (they are kept, not used)."""
    for key in data:
        if key not in known:
            c.warn(join(path, str(key)), "unknown field (ignored)")


def reject_unknown(c: Collector, data: dict[str, Any], known: set[str] | frozenset[str], path: str,
                   hints: dict[str, str] | None = None, *, version: str = "0.5") -> None:
    """An error for each field format ``version`` does not define (bioimageio.spec forbids extra fields).

    ``hints`` maps fields of another format version to what replaces them.
    """
    for key in data:
        if key not in known:
            hint = (hints or {}).get(str(key))
            c.error(join(path, str(key)), f"unknown field in format {version}" + (f": {hint}" if hint else ""))
