"""Read and check the axes of one 0.5 tensor description."""

from __future__ import annotations

import re
from typing import Any

from ._fields import Collector, as_dict, get, get_list, get_number, get_str, join
from .model import Axis, AxisSize, DataDependentSize, ParameterizedSize, SizeReference

AXIS_TYPES = ("batch", "channel", "index", "time", "space")
#: Axis id an axis gets when the description leaves ``id`` out.
DEFAULT_AXIS_IDS = {"batch": "batch", "channel": "channel", "index": "index", "time": "time", "space": "x"}
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$", re.IGNORECASE)
_AXIS_FIELDS = {"id", "type", "size", "channel_names", "halo", "scale", "unit", "concatenable", "description"}


def _size(c: Collector, value: Any, path: str, *, is_input: bool) -> AxisSize:
    """An axis size: int, ``{min, step}``, ``{tensor_id, axis_id, offset}`` or (outputs) ``{min, max}``."""
    if isinstance(value, bool) or value is None:
        c.error(path, f"expected an integer or a size mapping, got {value!r}")
        return None
    if isinstance(value, int):
        if value < 1:
            c.error(path, f"must be >= 1, got {value}")
        return value
    data = as_dict(c, value, path)
    if data is None:
        return None
    if "tensor_id" in data or "axis_id" in data:
        tensor_id = get_str(c, data, "tensor_id", path, required=True) or ""
        axis_id = get_str(c, data, "axis_id", path, required=True) or ""
        offset = get(c, data, "offset", path, int, default=0)
        return SizeReference(tensor_id, axis_id, offset)
    if "step" in data:
        if not is_input:
            c.error(path, "a parameterized size (min + n*step) is only allowed for input axes")
        minimum = get(c, data, "min", path, int, required=True, default=1)
        step = get(c, data, "step", path, int, required=True, default=1)
        if minimum < 1:
            c.error(join(path, "min"), f"must be >= 1, got {minimum}")
        if step < 1:
            c.error(join(path, "step"), f"must be >= 1, got {step}")
        return ParameterizedSize(minimum, step)
    if not is_input and ("min" in data or "max" in data):
        return DataDependentSize(get(c, data, "min", path, int, default=1), get(c, data, "max", path, int))
    c.error(path, f"expected an integer, {{min, step}} or {{tensor_id, axis_id}}, got keys {sorted(data)}")
    return None


def _channel_names(c: Collector, data: dict[str, Any], path: str) -> tuple[str, ...]:
    names = get_list(c, data, "channel_names", path, required=True, nonempty=True)
    out = []
    for i, name in enumerate(names):
        if not isinstance(name, str | int | float) or isinstance(name, bool):
            c.error(join(join(path, "channel_names"), i), f"expected a string, got {name!r}")
        out.append(str(name))
    return tuple(out)


def _halo(c: Collector, data: dict[str, Any], path: str, size: AxisSize, *, is_input: bool) -> int:
    halo = get(c, data, "halo", path, int, default=0)
    if halo < 0:
        c.error(join(path, "halo"), f"must be >= 0, got {halo}")
    if halo and is_input:
        c.error(join(path, "halo"), "halo is only defined for output axes")
    if halo and not isinstance(size, SizeReference):
        c.error(join(path, "halo"), "an axis with a halo needs a size reference ({tensor_id, axis_id})")
    return halo


def read_axis(c: Collector, raw: Any, path: str, *, is_input: bool) -> Axis | None:
    """One axis of a tensor, or None (with issues) when it is unusable."""
    data = as_dict(c, raw, path)
    if data is None:
        return None
    axis_type = get_str(c, data, "type", path, required=True)
    if axis_type is None:
        return None
    if axis_type not in AXIS_TYPES:
        c.error(join(path, "type"), f"unknown axis type {axis_type!r}; expected one of {', '.join(AXIS_TYPES)}")
        return None
    axis_id = get_str(c, data, "id", path, default=DEFAULT_AXIS_IDS[axis_type]) or DEFAULT_AXIS_IDS[axis_type]
    if not _IDENTIFIER.match(axis_id):
        c.error(join(path, "id"), f"{axis_id!r} is not a valid axis id (letters, digits, underscore)")
    size: AxisSize = None
    names: tuple[str, ...] = ()
    if axis_type == "channel":
        names = _channel_names(c, data, path)
    elif axis_type == "batch":
        size = get(c, data, "size", path, int)
        if size is not None and size != 1:
            c.error(join(path, "size"), f"a batch axis size may only be 1 (or left out), got {size}")
    else:
        size = _size(c, data.get("size"), join(path, "size"), is_input=is_input)
    halo = _halo(c, data, path, size, is_input=is_input)
    scale = get_number(c, data, "scale", path, default=1.0)
    if scale <= 0:
        c.error(join(path, "scale"), f"must be > 0, got {scale}")
    for key in data:
        if key not in _AXIS_FIELDS:
            c.warn(join(path, str(key)), "unknown field (ignored)")
    return Axis(
        id=axis_id, type=axis_type, size=size, channel_names=names, halo=halo, scale=scale,
        unit=get_str(c, data, "unit", path), concatenable=bool(data.get("concatenable", False)),
        description=get_str(c, data, "description", path, default="") or "",
    )


def read_axes(c: Collector, raw: Any, path: str, *, is_input: bool) -> tuple[Axis, ...]:
    """All axes of a tensor: unique ids, at most one batch and one channel axis."""
    if not isinstance(raw, list) or not raw:
        c.error(path, f"expected a non-empty list of axes, got {raw!r}"[:120])
        return ()
    axes = [a for i, r in enumerate(raw) if (a := read_axis(c, r, join(path, i), is_input=is_input))]
    seen: set[str] = set()
    for i, axis in enumerate(axes):
        if axis.id in seen:
            c.error(join(join(path, i), "id"), f"duplicate axis id {axis.id!r}")
        seen.add(axis.id)
    for kind in ("batch", "channel"):
        if sum(a.type == kind for a in axes) > 1:
            c.error(path, f"at most one {kind} axis is allowed")
    return tuple(axes)
