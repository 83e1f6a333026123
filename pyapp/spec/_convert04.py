"""Check 0.4.x model data and convert it to 0.5 data, following bioimageio.spec's conversion rules.

Issues found here use the 0.4 field names (``inputs[0].shape``), so users see the fields they wrote.
"""

from __future__ import annotations

import re
import string
from typing import Any

from ._fields import Collector, as_dict, get, get_list, get_str, join
from ._rules04 import check_kwargs04, check_model04

AXIS_LETTERS = {"b": "batch", "t": "time", "c": "channel", "z": "space", "y": "space", "x": "space", "i": "index"}
#: 0.4 axis letters whose 0.5 axis id is not the letter itself.
AXIS_ID_OF_LETTER = {"b": "batch", "t": "time", "c": "channel", "i": "index"}
#: Versions bioimageio.spec fills in when a 0.4 weights entry leaves them out.
_VERSION_DEFAULTS = {
    "onnx": {"opset_version": 15},
    "pytorch_state_dict": {"pytorch_version": "1.10"},
    "torchscript": {"pytorch_version": "1.10"},
    "keras_hdf5": {"tensorflow_version": "1.15"},
    "tensorflow_saved_model_bundle": {"tensorflow_version": "1.15"},
    "tensorflow_js": {"tensorflow_version": "1.15"},
}
NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_+- ()")
_PRE04 = {"binarize", "clip", "scale_linear", "sigmoid", "zero_mean_unit_variance", "scale_range"}
_POST04 = _PRE04 | {"scale_mean_variance"}


def _axes_letters(c: Collector, raw: Any, path: str) -> str:
    if not isinstance(raw, str) or not raw:
        c.error(path, f"expected a string of axis letters from 'btczyxi', got {raw!r}")
        return ""
    bad = [a for a in raw if a not in AXIS_LETTERS]
    if bad:
        c.error(path, f"unknown axis letters {bad} in {raw!r}; use letters from 'btczyxi'")
        return ""
    if len(set(raw)) != len(raw):
        c.error(path, f"duplicate axis letters in {raw!r}")
        return ""
    return raw


def _ints(c: Collector, raw: Any, path: str, n: int, *, numbers: bool = False) -> list[Any] | None:
    """A list of ``n`` integers (or numbers; ``null`` entries of a 0.4 scale mean 0: a new axis)."""
    types = (int, float, type(None)) if numbers else (int,)
    if not isinstance(raw, list) or any(isinstance(v, bool) or not isinstance(v, types) for v in raw):
        c.error(path, f"expected a list of {'numbers' if numbers else 'integers'}, got {raw!r}"[:160])
        return None
    if len(raw) != n:
        c.error(path, f"expected {n} values (one per axis), got {len(raw)}")
        return None
    return raw


def _kwargs_axes(axes: Any) -> list[str] | None:
    if not isinstance(axes, str):
        return None
    return [AXIS_ID_OF_LETTER.get(a, a) for a in axes]


def _complement_axis(tensor_axes: str, axes: Any) -> str | None:
    """The single axis not reduced over (per-channel parameters in 0.4 ``axes`` notation)."""
    if not isinstance(axes, str):
        return None
    rest = [a for a in tensor_axes if a not in set(axes) | {"b"}]
    return AXIS_ID_OF_LETTER.get(rest[0], rest[0]) if len(rest) == 1 else None


def _proc(c: Collector, raw: Any, path: str, tensor_axes: str, allowed: set[str]) -> dict[str, Any] | None:
    """One 0.4 ``{name, kwargs}`` step as a 0.5 ``{id, kwargs}`` step."""
    data = as_dict(c, raw, path)
    if data is None:
        return None
    name = get_str(c, data, "name", path, required=True)
    kwargs = data.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        c.error(join(path, "kwargs"), f"expected a mapping, got {type(kwargs).__name__}")
        return None
    if name is None:
        return None
    if name not in allowed:
        c.error(join(path, "name"), f"unknown processing {name!r}; expected one of {', '.join(sorted(allowed))}")
        return None
    errors = len(c.issues)
    check_kwargs04(c, name, kwargs, path, has_kwargs="kwargs" in data)
    if any(i.severity == "error" for i in c.issues[errors:]):
        return None  # reported in 0.4 terms; the 0.5 checks would repeat it
    kw = dict(kwargs)
    mode = kw.pop("mode", "per_sample" if name == "scale_range" else "fixed")
    axes = kw.pop("axes", None)
    if name == "sigmoid":
        return {"id": name}
    if name in ("scale_linear", "binarize", "clip"):
        axis = _complement_axis(tensor_axes, axes)
        if axis is not None and any(isinstance(kw.get(k), list) for k in ("gain", "offset", "threshold")):
            kw["axis"] = axis
        return {"id": name, "kwargs": kw}
    if name == "zero_mean_unit_variance" and mode == "fixed":
        axis = _complement_axis(tensor_axes, axes)
        if axis is not None and (isinstance(kw.get("mean"), list) or isinstance(kw.get("std"), list)):
            kw["axis"] = axis
        kw.pop("eps", None)
        return {"id": "fixed_zero_mean_unit_variance", "kwargs": kw}
    ids = _kwargs_axes(axes)
    if name == "zero_mean_unit_variance" and mode == "per_dataset":
        ids = ["batch", *(ids or [])]
    if ids:
        kw["axes"] = ids
    return {"id": name, "kwargs": kw}


def _channel_names(n: int) -> list[str]:
    return [f"channel{i}" for i in range(n)]


def _input_axes(c: Collector, data: dict[str, Any], path: str, letters: str) -> list[dict[str, Any]]:
    shape = data.get("shape")
    n = len(letters)
    if isinstance(shape, dict):
        mins = _ints(c, shape.get("min"), join(join(path, "shape"), "min"), n)
        steps = _ints(c, shape.get("step"), join(join(path, "shape"), "step"), n)
        sizes: list[Any] = [m if s == 0 else {"min": m, "step": s}
                            for m, s in zip(mins or [1] * n, steps or [0] * n, strict=True)]
    else:
        sizes = _ints(c, shape, join(path, "shape"), n) or [1] * n
    axes = []
    for letter, size in zip(letters, sizes, strict=True):
        kind = AXIS_LETTERS[letter]
        if kind == "batch":
            axes.append({"type": "batch"})
        elif kind == "channel":
            count = size if isinstance(size, int) else size["min"]
            axes.append({"type": "channel", "channel_names": _channel_names(max(count, 1))})
        else:
            axes.append({"type": kind, "id": AXIS_ID_OF_LETTER.get(letter, letter), "size": size})
    return axes


def _output_axes(c: Collector, data: dict[str, Any], path: str, letters: str,
                 sizes_of: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    n = len(letters)
    shape = data.get("shape")
    halo = _ints(c, data["halo"], join(path, "halo"), n) if data.get("halo") is not None else None
    axes = []
    if isinstance(shape, dict):
        ref = get_str(c, shape, "reference_tensor", join(path, "shape"), required=True) or ""
        scale = _ints(c, shape.get("scale"), join(join(path, "shape"), "scale"), n, numbers=True) or [1.0] * n
        offset = _ints(c, shape.get("offset"), join(join(path, "shape"), "offset"), n, numbers=True) or [0] * n
        ref_tensor, _, ref_axis = ref.partition(".")
        for i, letter in enumerate(letters):
            axes.append(_implicit_axis(letter, ref_tensor, ref_axis or letter, scale[i] or 0.0, offset[i] or 0,
                                       halo[i] if halo else 0, sizes_of))
        return axes
    sizes = _ints(c, shape, join(path, "shape"), n) or [1] * n
    for letter, size in zip(letters, sizes, strict=True):
        kind = AXIS_LETTERS[letter]
        if kind == "batch":
            axes.append({"type": "batch"})
        elif kind == "channel":
            axes.append({"type": "channel", "channel_names": _channel_names(max(size, 1))})
        else:
            axes.append({"type": kind, "id": AXIS_ID_OF_LETTER.get(letter, letter), "size": size})
    return axes


def _implicit_axis(letter: str, ref_tensor: str, ref_letter: str, scale: float, offset: float, halo: int,
                   sizes_of: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One output axis of a 0.4 implicit shape ``size = ref_size * scale + 2 * offset``."""
    kind = AXIS_LETTERS[letter]
    if kind == "batch":
        return {"type": "batch"}
    ref_size = sizes_of.get(ref_tensor, {}).get(ref_letter)
    if kind in ("channel", "index") or not scale:
        fixed = ref_size if isinstance(ref_size, int) else 0
        count = max(round(scale * fixed + 2 * offset), 1)
        if kind == "channel":
            return {"type": "channel", "channel_names": _channel_names(count)}
        return {"type": kind, "id": AXIS_ID_OF_LETTER.get(letter, letter), "size": count}
    axis: dict[str, Any] = {
        "type": kind, "id": AXIS_ID_OF_LETTER.get(letter, letter),
        "size": {"tensor_id": ref_tensor, "axis_id": AXIS_ID_OF_LETTER.get(ref_letter, ref_letter),
                 "offset": int(2 * offset)},
        "scale": 1.0 / scale,
    }
    if halo:
        axis["halo"] = halo
    return axis


def _tensor(c: Collector, raw: Any, path: str, *, is_input: bool, test: Any, sample: Any,
            sizes_of: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    data = as_dict(c, raw, path)
    if data is None:
        return None
    name = get_str(c, data, "name", path, required=True) or ""
    letters = _axes_letters(c, data.get("axes"), join(path, "axes"))
    get_str(c, data, "data_type", path, required=True)
    if "shape" not in data:
        c.error(join(path, "shape"), "field required")
    if not letters:
        return None
    axes = (_input_axes(c, data, path, letters) if is_input
            else _output_axes(c, data, path, letters, sizes_of))
    key = "preprocessing" if is_input else "postprocessing"
    steps = [s for i, r in enumerate(get_list(c, data, key, path))
             if (s := _proc(c, r, join(join(path, key), i), letters, _PRE04 if is_input else _POST04))]
    out: dict[str, Any] = {"id": name, "axes": axes, "data": {"type": data.get("data_type", "float32")}}
    if data.get("description"):
        out["description"] = data["description"]
    if test is not None:
        out["test_tensor"] = {"source": test}
    if sample is not None:
        out["sample_tensor"] = {"source": sample}
    if is_input:
        out["preprocessing"] = [*steps, {"id": "ensure_dtype", "kwargs": {"dtype": "float32"}}]
    else:
        out["postprocessing"] = steps
    return out


def _sizes(raw: Any) -> dict[str, dict[str, Any]]:
    """Axis letter -> size of each tensor with an explicit shape (for implicit output shapes)."""
    sizes: dict[str, dict[str, Any]] = {}
    for t in raw if isinstance(raw, list) else []:
        if not isinstance(t, dict) or not isinstance(t.get("axes"), str):
            continue
        shape = t.get("shape")
        if isinstance(shape, dict):
            shape = shape.get("min")
        if isinstance(shape, list) and len(shape) == len(t["axes"]):
            sizes[str(t.get("name"))] = dict(zip(t["axes"], shape, strict=True))
    return sizes


def _weights(c: Collector, raw: Any) -> Any:
    if not isinstance(raw, dict):
        return raw
    out = {}
    for fmt, entry in raw.items():
        if not isinstance(entry, dict):
            out[fmt] = entry
            continue
        w = {k: v for k, v in entry.items() if k not in ("architecture", "architecture_sha256", "kwargs")}
        arch = entry.get("architecture")
        if fmt == "pytorch_state_dict" and isinstance(arch, str):
            w["architecture"] = _architecture(c, arch, entry, join("weights", fmt))
        deps = entry.get("dependencies")
        if isinstance(deps, str):
            w["dependencies"] = {"source": deps.partition(":")[2] or deps}
        for key, default in _VERSION_DEFAULTS.get(fmt, {}).items():
            w.setdefault(key, default)
        out[fmt] = w
    return out


def _architecture(c: Collector, arch: str, entry: dict[str, Any], path: str) -> dict[str, Any]:
    """0.4 ``file.py:Callable`` or ``module.Callable`` as a 0.5 architecture mapping."""
    kwargs = entry.get("kwargs") or {}
    if (":" in arch and not arch.startswith(("http://", "https://"))) or arch.count(":") > 1:
        source, _, callable_name = arch.rpartition(":")
        out = {"source": source, "callable": callable_name, "kwargs": kwargs}
        if entry.get("architecture_sha256"):
            out["sha256"] = entry["architecture_sha256"]
        return out
    module, _, callable_name = arch.rpartition(".")
    if not module:
        c.error(join(path, "architecture"), f"expected 'file.py:Callable' or 'module.Callable', got {arch!r}")
    return {"import_from": module, "callable": callable_name, "kwargs": kwargs}


def _test_files(c: Collector, data: dict[str, Any], key: str, n: int) -> list[Any]:
    files = get_list(c, data, key, "", required=key.startswith("test"))
    if files and len(files) != n:
        c.error(key, f"expected {n} files (one per tensor), got {len(files)}")
    return [*files, *[None] * max(0, n - len(files))]


def convert_model04(c: Collector, data: dict[str, Any]) -> dict[str, Any]:
    """0.4 model data as 0.5 data (issues about 0.4-only fields go to ``c``)."""
    check_model04(c, data, str(data.get("format_version")))
    raw_inputs = get_list(c, data, "inputs", "", required=True, nonempty=True)
    raw_outputs = get_list(c, data, "outputs", "", required=True, nonempty=True)
    sizes_of = _sizes(raw_inputs)
    tests_in = _test_files(c, data, "test_inputs", len(raw_inputs))
    tests_out = _test_files(c, data, "test_outputs", len(raw_outputs))
    samples_in = _test_files(c, data, "sample_inputs", len(raw_inputs))
    samples_out = _test_files(c, data, "sample_outputs", len(raw_outputs))
    inputs = [t for i, r in enumerate(raw_inputs)
              if (t := _tensor(c, r, join("inputs", i), is_input=True, test=tests_in[i], sample=samples_in[i],
                               sizes_of=sizes_of))]
    outputs = [t for i, r in enumerate(raw_outputs)
               if (t := _tensor(c, r, join("outputs", i), is_input=False, test=tests_out[i],
                                sample=samples_out[i], sizes_of=sizes_of))]
    drop = {"inputs", "outputs", "weights", "test_inputs", "test_outputs", "sample_inputs", "sample_outputs",
            "attachments", "format_version",
            # 0.4-only fields without a 0.5 counterpart, dropped as bioimageio.spec's converter does
            "download_url", "dependencies", "framework", "language", "rdf_source"}
    out = {k: v for k, v in data.items() if k not in drop}
    attachments = data.get("attachments")
    if isinstance(attachments, dict):
        out["attachments"] = [{"source": f} for f in get_list(c, attachments, "files", "attachments")]
    elif attachments is not None:
        c.error("attachments", f"expected a mapping with 'files', got {type(attachments).__name__}")
    cite = data.get("cite")
    if isinstance(cite, list):
        out["cite"] = [_cite_entry(e) for e in cite]
    get(c, data, "documentation", "", str, required=True)
    if isinstance(data.get("name"), str):
        out["name"] = "".join(ch if ch in NAME_CHARS else " " for ch in data["name"])
    out.update(inputs=inputs, outputs=outputs, weights=_weights(c, data.get("weights")), format_version="0.5.4")
    return out


def _cite_entry(entry: Any) -> Any:
    """0.4 allowed a DOI in ``url``; 0.5 wants it in ``doi``. A doi.org prefix is dropped (as bioimageio.spec
    does for 0.4 descriptions)."""
    if isinstance(entry, dict) and isinstance(entry.get("doi"), str):
        entry = {**entry, "doi": re.sub(r"^(https://doi\.org/|http://dx\.doi\.org/)", "", entry["doi"])}
    if isinstance(entry, dict) and isinstance(entry.get("url"), str) and entry["url"].startswith("10."):
        entry = {**entry, "doi": entry["url"]}
        del entry["url"]
    return entry
