"""Size limits checked before anything is parsed, decoded or allocated (hardened loading).

Every limit has a default that fits ordinary bioimage.io packages and an environment variable that raises it
(read at each use, so a running process sees a change; the same code runs in CPython and in Pyodide):

======================= =============================== =================================================
limit                   environment variable            default
======================= =============================== =================================================
``yaml_bytes``          ``PYAPP_MAX_YAML_BYTES``        256 KiB of description text (real ones: ~4 kB)
``yaml_nodes``          ``PYAPP_MAX_YAML_NODES``        1,000,000 YAML nodes after alias expansion
``yaml_depth``          ``PYAPP_MAX_YAML_DEPTH``        100 levels of nested lists/mappings
``channels``            ``PYAPP_MAX_CHANNELS``          65,536 channels declared for one tensor
``file_bytes``          ``PYAPP_MAX_FILE_BYTES``        2 GiB for one package file (zip entry, weights)
``zip_entries``         ``PYAPP_MAX_ZIP_ENTRIES``       10,000 members in a zip package
``image_bytes``         ``PYAPP_MAX_IMAGE_BYTES``       2 GiB of pixels for one decoded image or array
======================= =============================== =================================================
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from typing import Any

from ._errors import LimitError
from ._fields import Collector, join


@dataclass(frozen=True)
class Limits:
    """The limits in force (see the module docstring); :func:`current` reads them from the environment."""

    yaml_bytes: int = 256 * 2**10
    yaml_nodes: int = 1_000_000
    yaml_depth: int = 100
    channels: int = 65_536
    file_bytes: int = 2 * 2**30
    zip_entries: int = 10_000
    image_bytes: int = 2 * 2**30


def variable(name: str) -> str:
    """The environment variable that sets limit ``name``."""
    return f"PYAPP_MAX_{name.upper()}"


_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}
_AMOUNT = re.compile(r"\s*([0-9_]+)\s*([a-z]*?)b?\s*", re.IGNORECASE)


def _amount(text: str) -> int | None:
    """``"2000000"``, ``"1_000_000"``, ``"500M"``, ``"8GiB"`` as an int; None when it is not one."""
    match = _AMOUNT.fullmatch(text)
    unit = match.group(2).lower() if match else ""
    unit = unit + "b" if unit.endswith("i") else unit
    if not match or unit not in _UNITS:
        return None
    return int(match.group(1).replace("_", "") or 0) * _UNITS[unit]


def current() -> Limits:
    """The limits now: the defaults, overridden by each ``PYAPP_MAX_*`` variable holding a positive amount
    (digits, optionally with ``_`` and a unit ``k M G KiB MiB GiB``); other values are ignored."""
    values: dict[str, int] = {}
    for f in fields(Limits):
        amount = _amount(os.environ.get(variable(f.name), ""))
        if amount:
            values[f.name] = amount
    return Limits(**values)


def too_big(label: str, what: str, size: int, name: str, limit: int) -> LimitError:
    """The one-line error for ``size`` over limit ``name``."""
    return LimitError(f"{label}: {what} ({size:,}) exceeds pyapp's limit of {limit:,}; "
                      f"set {variable(name)} to raise it")


def check_size(label: str, what: str, size: int, name: str) -> None:
    """Raise :class:`LimitError` when ``size`` exceeds limit ``name``."""
    limit = getattr(current(), name)
    if size > limit:
        raise too_big(label, what, size, name, limit)


def check_yaml_graph(node: Any, label: str) -> None:
    """Refuse a composed YAML graph that expands to too many nodes, nests too deep, or refers to itself.

    Aliases share nodes, so the expanded size of each node is computed once (iteratively, no recursion):
    a "billion laughs" document is refused after a few thousand steps.
    """
    lim = current()
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[Any, bool]] = [(node, False)]
    while stack:
        item, children_done = stack.pop()
        key = id(item)
        kids = _children(item)
        if children_done:
            active.discard(key)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if size[key] > lim.yaml_nodes:
                raise too_big(label, "YAML nodes after expanding aliases", size[key], "yaml_nodes", lim.yaml_nodes)
            if depth[key] > lim.yaml_depth:
                raise too_big(label, "YAML nesting depth", depth[key], "yaml_depth", lim.yaml_depth)
            continue
        if key in size:
            continue
        if key in active:
            raise LimitError(f"{label}: YAML alias refers to itself (a recursive document)")
        active.add(key)
        stack.append((item, True))
        stack.extend((k, False) for k in kids if id(k) not in size)


def _children(node: Any) -> list[Any]:
    value = getattr(node, "value", None)
    if not isinstance(value, list):
        return []
    if value and isinstance(value[0], tuple):  # mapping: (key, value) pairs
        return [n for pair in value for n in pair]
    return value


def _num(value: Any) -> float:
    """A declared number, or 0 for anything that is not one (the validator reports those)."""
    return abs(float(value)) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _at(values: Any, index: int) -> float:
    return _num(values[index]) if isinstance(values, list) and index < len(values) else 0.0


def _declared_04(tensor: dict[str, Any], letter: str, inputs: dict[str, dict[str, Any]]) -> float:
    """The size a 0.4 tensor declares for axis ``letter`` (fixed, minimum, or implicit from its reference)."""
    axes, shape = tensor.get("axes"), tensor.get("shape")
    if not isinstance(axes, str) or letter not in axes:
        return 0.0
    i = axes.index(letter)
    if isinstance(shape, list):
        return _at(shape, i)
    if not isinstance(shape, dict):
        return 0.0
    if "min" in shape:
        return _at(shape.get("min"), i)
    ref_name, _, ref_letter = str(shape.get("reference_tensor", "")).partition(".")
    ref = inputs.get(ref_name)
    fixed = _declared_04(ref, ref_letter or letter, {}) if ref is not None and ref is not tensor else 0.0
    return _at(shape.get("scale"), i) * fixed + 2 * _at(shape.get("offset"), i)


def check_declared_sizes(c: Collector, data: dict[str, Any]) -> bool:
    """Record an error for each tensor declaring more channels than allowed; False when there was one.

    Runs on the raw YAML data before the 0.4 conversion, which would otherwise build one channel name per
    declared channel.
    """
    limit = current().channels
    ok = True
    inputs = {str(t.get("name")): t for t in data.get("inputs") or [] if isinstance(t, dict)} \
        if isinstance(data.get("inputs"), list) else {}
    for kind in ("inputs", "outputs"):
        tensors = data.get(kind)
        for i, tensor in enumerate(tensors if isinstance(tensors, list) else []):
            if not isinstance(tensor, dict):
                continue
            path = join(kind, i)
            axes = tensor.get("axes")
            if isinstance(axes, str):
                count, where = _declared_04(tensor, "c", inputs), join(path, "shape")
            else:
                count, where = _channels_05(axes), join(path, "axes")
            if count > limit:
                c.error(where, f"declares {count:,.0f} channels; pyapp's limit is {limit:,} "
                               f"(set {variable('channels')} to raise it)")
                ok = False
    return ok


def _channels_05(axes: Any) -> float:
    if not isinstance(axes, list):
        return 0.0
    names = [a.get("channel_names") for a in axes if isinstance(a, dict) and a.get("type") == "channel"]
    return max((float(len(n)) for n in names if isinstance(n, list)), default=0.0)
