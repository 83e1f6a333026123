"""Rules of model format 0.4 that have no 0.5 counterpart, checked on the 0.4 data before it is converted.

Written from the 0.4 model spec as bioimageio.spec 0.5.12 enforces it: no fields beyond the spec's (also in
tensors and weights entries), ``download_url`` an http(s) URL, ``data_range`` two numbers, processing kwargs
typed and required as in the 0.4 kwargs definitions (``null`` is not a number), a state-dict architecture
given as a source file needs ``architecture_sha256``.
"""

from __future__ import annotations

from typing import Any

from ._fields import Collector, join, reject_unknown

MODEL04_FIELDS = frozenset({
    "attachments", "authors", "cite", "config", "covers", "description", "documentation", "download_url",
    "format_version", "git_repo", "icon", "id", "id_emoji", "inputs", "license", "links", "maintainers", "name",
    "outputs", "packaged_by", "parent", "rdf_source", "run_mode", "sample_inputs", "sample_outputs", "tags",
    "test_inputs", "test_outputs", "timestamp", "training_data", "type", "uploader", "version", "version_number",
    "weights",
})
_INPUT04 = frozenset({"name", "description", "axes", "data_type", "data_range", "shape", "preprocessing"})
_OUTPUT04 = frozenset({"name", "description", "axes", "data_type", "data_range", "shape", "halo", "postprocessing"})
_WEIGHTS_BASE = frozenset({"source", "sha256", "attachments", "authors", "dependencies", "parent"})
_WEIGHTS04 = {
    "onnx": _WEIGHTS_BASE | {"opset_version"},
    "pytorch_state_dict": _WEIGHTS_BASE | {"architecture", "architecture_sha256", "kwargs", "pytorch_version"},
    "torchscript": _WEIGHTS_BASE | {"pytorch_version"},
    "keras_hdf5": _WEIGHTS_BASE | {"tensorflow_version"},
    "tensorflow_js": _WEIGHTS_BASE | {"tensorflow_version"},
    "tensorflow_saved_model_bundle": _WEIGHTS_BASE | {"tensorflow_version"},
}
_NUMBER = (int, float)
_AXES = (str,)
#: op -> kwarg -> (allowed types, required); a ``None`` in the types means null is allowed.
_KWARGS04: dict[str, dict[str, tuple[tuple[Any, ...], bool]]] = {
    "binarize": {"threshold": (_NUMBER, True)},
    "clip": {"min": (_NUMBER, True), "max": (_NUMBER, True)},
    "scale_linear": {"axes": ((str, None), False), "gain": ((*_NUMBER, list), False),
                     "offset": ((*_NUMBER, list), False)},
    "zero_mean_unit_variance": {"mode": (_AXES, False), "axes": (_AXES, True), "mean": ((*_NUMBER, list, None), False),
                                "std": ((*_NUMBER, list, None), False), "eps": (_NUMBER, False)},
    "scale_range": {"mode": (_AXES, True), "axes": (_AXES, True), "min_percentile": (_NUMBER, False),
                    "max_percentile": (_NUMBER, False), "eps": (_NUMBER, False),
                    "reference_tensor": ((str, None), False)},
    "scale_mean_variance": {"mode": (_AXES, True), "reference_tensor": (_AXES, True), "axes": ((str, None), False),
                            "eps": (_NUMBER, False)},
}
_MODES = {"zero_mean_unit_variance": ("fixed", "per_dataset", "per_sample"),
          "scale_range": ("per_dataset", "per_sample"), "scale_mean_variance": ("per_dataset", "per_sample")}


def _is(value: Any, types: tuple[Any, ...]) -> bool:
    if value is None:
        return None in types
    return not isinstance(value, bool) and isinstance(value, tuple(t for t in types if t is not None))


def check_kwargs04(c: Collector, op: str, raw: dict[str, Any], path: str, *, has_kwargs: bool) -> None:
    """Check one 0.4 processing step's kwargs (``path`` is the step's path)."""
    where = join(path, "kwargs")
    if op == "sigmoid":
        if has_kwargs:
            c.error(where, "sigmoid takes no kwargs")
        return
    rules = _KWARGS04.get(op, {})
    for name, (types, required) in rules.items():
        if name not in raw:
            if required:
                c.error(join(where, name), f"field required for {op!r}")
        elif not _is(raw[name], types):
            shown = "null" if raw[name] is None else repr(raw[name])
            c.error(join(where, name), f"{shown} is not a valid value for {op!r}"
                    + (" (a number is required)" if _NUMBER[0] in types else ""))
    reject_unknown(c, raw, frozenset(rules), where, version="0.4")
    mode = raw.get("mode", "fixed" if op == "zero_mean_unit_variance" else None)
    if op in _MODES and isinstance(mode, str) and mode not in _MODES[op]:
        c.error(join(where, "mode"), f"{mode!r} is not one of {', '.join(_MODES[op])}")
    if op == "zero_mean_unit_variance" and isinstance(mode, str):
        given = raw.get("mean") is not None and raw.get("std") is not None
        if mode == "fixed" and not given:
            c.error(where, "mean and std are required for mode 'fixed' (the default mode)")
        elif mode != "fixed" and (raw.get("mean") is not None or raw.get("std") is not None):
            c.error(where, f"mean and std are not allowed for mode {mode!r}")
    if op == "scale_linear" and raw.get("gain", 1.0) in (1, 1.0) and raw.get("offset", 0.0) in (0, 0.0):
        c.error(where, "redundant scale_linear: set gain != 1 and/or offset != 0")
    _check_percentiles(c, raw, where)


def _check_percentiles(c: Collector, raw: dict[str, Any], where: str) -> None:
    low, high = raw.get("min_percentile", 0.0), raw.get("max_percentile", 100.0)
    if _is(low, _NUMBER) and not 0 <= low < 100:
        c.error(join(where, "min_percentile"), f"must be in [0, 100), got {low}")
    if _is(high, _NUMBER) and not 1 < high <= 100:
        c.error(join(where, "max_percentile"), f"must be in (1, 100], got {high}")


def _check_tensor(c: Collector, raw: Any, path: str, *, is_input: bool) -> None:
    if not isinstance(raw, dict):
        return
    reject_unknown(c, raw, _INPUT04 if is_input else _OUTPUT04, path, version="0.4")
    rng = raw.get("data_range")
    if rng is not None and (not isinstance(rng, list) or len(rng) != 2 or not all(_is(v, _NUMBER) for v in rng)):
        c.error(join(path, "data_range"), f"expected two numbers [min, max] (.inf allowed), got {rng!r}")


def _check_weights(c: Collector, raw: Any) -> None:
    for fmt, entry in (raw or {}).items() if isinstance(raw, dict) else ():
        if not isinstance(entry, dict) or fmt not in _WEIGHTS04:
            continue
        path = join("weights", str(fmt))
        reject_unknown(c, entry, _WEIGHTS04[fmt], path, version="0.4")
        arch = entry.get("architecture")
        if fmt == "pytorch_state_dict" and isinstance(arch, str) and ":" in arch \
                and not arch.startswith(("http://", "https://")) and not entry.get("architecture_sha256"):
            c.error(join(path, "architecture_sha256"), "required when the architecture is a source file")


def check_model04(c: Collector, data: dict[str, Any], version: str) -> None:
    """Fields and values of 0.4 model data that the 0.5 view cannot check any more."""
    known = MODEL04_FIELDS | ({"dependencies"} if version == "0.4.0" else set())
    reject_unknown(c, data, known, "", version="0.4")
    url = data.get("download_url")
    if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        c.error("download_url", f"must be an http(s) URL, got {url!r}")
    for key, is_input in (("inputs", True), ("outputs", False)):
        for i, tensor in enumerate(data.get(key) or [] if isinstance(data.get(key), list) else []):
            _check_tensor(c, tensor, join(key, i), is_input=is_input)
    _check_weights(c, data.get("weights"))
