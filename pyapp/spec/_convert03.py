"""Upgrade model format 0.3.x data to 0.4.0 data, as bioimageio.spec does before it validates such files.

The steps of the 0.3 releases: 0.3.0 changed nothing breaking; 0.3.2 turned author (and ``packaged_by``,
weights author) names into ``{name}`` mappings, updated from ``config.future["0.3.2"]``; 0.3.3 renamed an
implicit output shape's ``reference_input`` to ``reference_tensor``; 0.3.3-0.3.5 equal 0.3.6. From 0.3.6 to
0.4.0 ``language`` and ``framework`` went away, the top-level architecture (``source``, ``sha256``,
``kwargs``) moved into the ``pytorch_state_dict`` weights entry, and ``pytorch_script`` weights became
``torchscript``. Versions outside 0.3.0-0.3.6 are not upgraded (an error).
"""

from __future__ import annotations

import copy
from typing import Any

from ._fields import Collector

UPGRADABLE = ("0.3.0", "0.3.1", "0.3.2", "0.3.3", "0.3.4", "0.3.5", "0.3.6")


def _named(people: Any, updates: Any) -> Any:
    """Name strings as ``{name}`` mappings, merged with the matching ``future`` updates."""
    if not isinstance(people, list):
        return people
    out = [{"name": p} if isinstance(p, str) else p for p in people]
    for person, update in zip(out, updates if isinstance(updates, list) else [], strict=False):
        if isinstance(person, dict) and isinstance(update, dict):
            person.update(update)
    return out


def _to_032(data: dict[str, Any]) -> None:
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    future_all = config.get("future") if isinstance(config.get("future"), dict) else {}
    future = future_all.pop("0.3.2", {}) if isinstance(future_all.get("0.3.2", {}), dict) else {}
    data["type"] = "model"
    data["authors"] = _named(data.get("authors"), future.get("authors"))
    if "packaged_by" in data:
        data["packaged_by"] = _named(data["packaged_by"], future.get("packaged_by"))
    weights = data.get("weights")
    for fmt, entry in weights.items() if isinstance(weights, dict) else ():
        if isinstance(entry, dict) and "authors" in entry:
            update = (future.get("weights") or {}).get(fmt, {}) if isinstance(future.get("weights"), dict) else {}
            entry["authors"] = _named(entry["authors"], update.get("authors") if isinstance(update, dict) else None)
    if "version" in future:
        data["version"] = future.pop("version")


def _to_033(data: dict[str, Any]) -> None:
    for out in data.get("outputs") or [] if isinstance(data.get("outputs"), list) else []:
        shape = out.get("shape") if isinstance(out, dict) else None
        if isinstance(shape, dict) and "reference_input" in shape:
            shape["reference_tensor"] = shape.pop("reference_input")


def _to_040(data: dict[str, Any]) -> None:
    config = data.get("config")
    if isinstance(config, dict):
        if config.get("future") == {}:
            del config["future"]
        if not config:
            del data["config"]
    data.pop("language", None)
    data.pop("framework", None)
    moved = {"architecture": data.pop("source", None), "architecture_sha256": data.pop("sha256", None),
             "kwargs": data.pop("kwargs", None)}
    weights = data.get("weights") if isinstance(data.get("weights"), dict) else {}
    state_dict = weights.get("pytorch_state_dict")
    if isinstance(state_dict, dict):
        state_dict.update({k: v for k, v in moved.items() if v is not None})
    if "pytorch_script" in weights:
        weights["torchscript"] = weights.pop("pytorch_script")
    data["format_version"] = "0.4.0"


def upgrade_model03(c: Collector, data: dict[str, Any]) -> dict[str, Any] | None:
    """0.3.x model data as 0.4.0 data (a copy), or None with an error for a version bioimage.io cannot upgrade."""
    version = str(data.get("format_version"))
    if version not in UPGRADABLE:
        c.error("format_version", f"model format {version} cannot be upgraded (0.3.0 to 0.3.6 can)")
        return None
    data = copy.deepcopy(data)
    if version in ("0.3.0", "0.3.1"):
        _to_032(data)
    if version in ("0.3.0", "0.3.1", "0.3.2"):
        _to_033(data)
    _to_040(data)
    return data
