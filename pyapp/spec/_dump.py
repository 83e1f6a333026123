"""Write any loaded description as format 0.5 YAML (models) or as its generic fields."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from .model import (
    Axis,
    DataDependentSize,
    Descr,
    FileRef,
    ModelDescr,
    ParameterizedSize,
    SizeReference,
    Tensor,
)


def _file(ref: FileRef) -> dict[str, Any]:
    out: dict[str, Any] = {"source": ref.source}
    if ref.sha256:
        out["sha256"] = ref.sha256
    return out


def _size(size: Any) -> Any:
    if isinstance(size, ParameterizedSize):
        return {"min": size.min, "step": size.step}
    if isinstance(size, SizeReference):
        return {"tensor_id": size.tensor_id, "axis_id": size.axis_id, "offset": size.offset}
    if isinstance(size, DataDependentSize):
        return {"min": size.min, **({"max": size.max} if size.max is not None else {})}
    return size


def _axis(axis: Axis) -> dict[str, Any]:
    out: dict[str, Any] = {"type": axis.type}
    if axis.type not in ("batch", "channel") or axis.id != axis.type:
        out["id"] = axis.id
    if axis.type == "channel":
        out["channel_names"] = list(axis.channel_names)
    elif axis.size is not None:
        out["size"] = _size(axis.size)
    if axis.halo:
        out["halo"] = axis.halo
    if axis.type in ("space", "time") and axis.scale != 1.0:
        out["scale"] = axis.scale
    if axis.unit:
        out["unit"] = axis.unit
    if axis.concatenable:
        out["concatenable"] = True
    if axis.description:
        out["description"] = axis.description
    return out


def _tensor(t: Tensor, *, is_input: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": t.id}
    if t.description:
        out["description"] = t.description
    out["axes"] = [_axis(a) for a in t.axes]
    if t.test_tensor is not None:
        out["test_tensor"] = _file(t.test_tensor)
    if t.sample_tensor is not None:
        out["sample_tensor"] = _file(t.sample_tensor)
    data: dict[str, Any] = {"type": t.data.type}
    if t.data.range != (None, None):
        data["range"] = list(t.data.range)
    if t.data.unit:
        data["unit"] = t.data.unit
    if t.data.values is not None:
        data["values"] = list(t.data.values)
    out["data"] = data
    steps = t.preprocessing if is_input else t.postprocessing
    out["preprocessing" if is_input else "postprocessing"] = [
        {"id": s.id, **({"kwargs": dict(s.kwargs)} if s.kwargs else {})} for s in steps
    ]
    if t.optional:
        out["optional"] = True
    return out


def to_dict(descr: Descr) -> dict[str, Any]:
    """Plain data of a description, in the 0.5 layout for models."""
    out: dict[str, Any] = {
        "type": descr.type,
        "format_version": descr.format_version,
        "name": descr.name,
        "description": descr.description,
    }
    optional = {
        "authors": [dict(a) for a in descr.authors], "cite": [dict(c) for c in descr.cite],
        "license": descr.license, "tags": list(descr.tags), "version": descr.version,
        "covers": [c.source for c in descr.covers],
        "documentation": descr.documentation.source if descr.documentation else None,
        "attachments": [_file(a) for a in descr.attachments], "config": dict(descr.config),
    }
    out.update({k: v for k, v in optional.items() if v not in (None, [], {})})
    out.update(descr.other)
    if isinstance(descr, ModelDescr):
        if descr.timestamp:
            out["timestamp"] = descr.timestamp
        out["inputs"] = [_tensor(t, is_input=True) for t in descr.inputs]
        out["outputs"] = [_tensor(t, is_input=False) for t in descr.outputs]
        out["weights"] = {
            fmt: {**_file(w.source), **({"parent": w.parent} if w.parent else {}), **w.extra}
            for fmt, w in descr.weights.items()
        }
    return out


def dump(descr: Descr) -> str:
    """The description as YAML text (models in format 0.5)."""
    return yaml.safe_dump(to_dict(descr), sort_keys=False, allow_unicode=True, width=100)


def save(descr: Descr, path: str | os.PathLike[str]) -> Path:
    """Write :func:`dump` to ``path`` atomically (a half-written file never replaces a good one)."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".yaml", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(dump(descr))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
