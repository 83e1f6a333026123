"""Load and validate a description: source -> YAML -> (0.4 -> 0.5 conversion) -> dataclasses + issues."""

from __future__ import annotations

import os
import re
from typing import Any

import yaml

from ._convert03 import upgrade_model03
from ._convert04 import convert_model04
from ._errors import one_line
from ._fields import Collector
from ._generic import GENERIC_TYPES, read_generic
from ._iocheck import check_files
from ._limits import check_declared_sizes, check_size, check_yaml_graph
from ._model05 import read_model05
from ._source import Root, SourceError, open_source
from .model import Descr, Issue

#: Newest format versions this library was written against (newer minor versions load with a warning).
LATEST_MODEL = (0, 5, 4)
LATEST_GENERIC = (0, 3, 0)


class SpecError(ValueError):
    """A description is invalid; ``issues`` has every finding, ``str()`` the first error on one line."""

    def __init__(self, source: str, issues: list[Issue]):
        self.source = source
        self.issues = issues
        first = next((i for i in issues if i.severity == "error"), issues[0] if issues else None)
        more = sum(i.severity == "error" for i in issues) - 1
        text = f"{source}: {first.path + ': ' if first and first.path else ''}{first.message if first else 'invalid'}"
        super().__init__(text + (f" (and {more} more errors)" if more > 0 else ""))


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as strings (the spec stores them as ISO 8601 text)."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# YAML 1.2 floats such as ``1e-06`` (PyYAML's 1.1 rules read them as strings).
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: bytes, label: str) -> dict[str, Any]:
    """The YAML mapping in ``text``; SpecError naming the line on a syntax error or a limit it exceeds.

    The text's size is checked before parsing and the composed node graph (aliases expanded, depth) before
    any Python object is built, so a "billion laughs" document costs milliseconds.
    """
    try:
        check_size(label, "description size in bytes", len(text), "yaml_bytes")
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                data = None
            else:
                check_yaml_graph(node, label)
                data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "YAML"
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise SpecError(label, [Issue(where, f"YAML syntax error: {problem}")]) from err
    except SourceError as err:
        raise SpecError(label, [Issue("", str(err).removeprefix(f"{label}: "))]) from err
    except RecursionError:
        raise SpecError(label, [Issue("", "YAML nests too deep to read")]) from None
    if not isinstance(data, dict):
        raise SpecError(label, [Issue("", f"expected a YAML mapping at the top, got {type(data).__name__}")])
    return data


def _version(raw: Any) -> tuple[int, ...] | None:
    try:
        parts = tuple(int(p) for p in str(raw).split("."))
    except ValueError:
        return None
    return parts if len(parts) in (2, 3) else None


def _describe(c: Collector, data: dict[str, Any], root: Root) -> Descr | None:
    """Dispatch on type and format_version; None when the description cannot be read at all."""
    kind = data.get("type")
    raw_version = data.get("format_version")
    version = _version(raw_version)
    if not isinstance(kind, str):
        c.error("type", "field required: one of model, " + ", ".join(GENERIC_TYPES))
        return None
    if version is None:
        c.error("format_version", f"expected a version such as '0.5.4', got {raw_version!r}")
        return None
    original = ".".join(map(str, version))
    if kind != "model":
        if version[:2] > LATEST_GENERIC[:2]:
            c.warn("format_version", f"{original} is newer than pyapp knows ({'.'.join(map(str, LATEST_GENERIC))})")
        return read_generic(c, data, original_version=original, root=root)
    if version[:2] == (0, 3):  # upgraded to 0.4.0 as bioimageio.spec does, then read as 0.4
        upgraded = upgrade_model03(c, data)
        if upgraded is None:
            return None
        data = convert_model04(c, upgraded)
    elif version[:2] == (0, 4):
        data = convert_model04(c, data)
    elif version[:2] != (0, 5):
        c.error("format_version", f"model format {original} is not supported: pyapp reads 0.3.x (0.3.0-0.3.6), "
                "0.4.x and 0.5.x")
        return None
    elif version > LATEST_MODEL:
        c.warn("format_version", f"{original} is newer than {'.'.join(map(str, LATEST_MODEL))}; read as 0.5")
    return read_model05(c, data, original_version=original, root=root)


def load_with_issues(
    src: str | os.PathLike[str] | bytes, *, io_checks: bool = False, allow_network: bool = False,
) -> tuple[Descr | None, list[Issue], Root | None]:
    """Read ``src`` and return ``(description or None, issues, root)``; never raises for bad input."""
    label = src if isinstance(src, str) else "<bytes>" if isinstance(src, bytes | bytearray) else os.fspath(src)
    try:
        text, root = open_source(src, allow_network=allow_network)
        data = parse_yaml(text, root.label or str(label))
    except SourceError as err:
        return None, [Issue("", str(err))], None
    except SpecError as err:
        return None, err.issues, None
    except Exception as err:  # validate never raises
        return None, [Issue("", f"{label}: cannot read: {one_line(err)}")], None
    c = Collector()
    try:
        descr = _describe(c, data, root) if check_declared_sizes(c, data) else None
        if descr is not None and io_checks:
            check_files(c, descr, root, allow_network=allow_network)
    except Exception as err:  # validate never raises: an unexpected failure is one more issue
        c.error("", f"cannot check this description: {one_line(err)}")
        descr = None
    return (None if c.has_errors else descr), c.issues, root


def load(src: str | os.PathLike[str] | bytes, *, io_checks: bool = False, allow_network: bool = False) -> Descr:
    """Load a description (path, folder, zip, bytes or URL) in the 0.5 view.

    Raises
    ------
    SpecError
        When the description has errors; ``err.issues`` lists them all.
    """
    descr, issues, _ = load_with_issues(src, io_checks=io_checks, allow_network=allow_network)
    if descr is None:
        raise SpecError(str(src) if not isinstance(src, bytes | bytearray) else "<bytes>", issues)
    return descr


def validate(
    src: str | os.PathLike[str] | bytes, io_checks: bool = True, *, allow_network: bool = False,
) -> list[Issue]:
    """All issues of a description; it is valid when none has severity ``error``."""
    return load_with_issues(src, io_checks=io_checks, allow_network=allow_network)[1]
