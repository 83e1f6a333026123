"""Build a :class:`ModelDescr` from 0.5 model data (0.4 data is converted to 0.5 data first)."""

from __future__ import annotations

import re
from typing import Any

from ._axes import read_axes
from ._convert04 import NAME_CHARS
from ._fields import (
    Collector,
    as_dict,
    check_sha256,
    file_ref,
    get,
    get_dict,
    get_list,
    get_str,
    join,
    reject_unknown,
)
from ._generic import read_generic_fields
from ._processing import (
    DTYPES,
    POSTPROCESSING_IDS,
    PREPROCESSING_IDS,
    read_processing,
    with_ensure_dtype,
)
from .model import WEIGHT_FORMATS, ModelDescr, SizeReference, Tensor, TensorData, WeightsEntry

#: The format version of the normalised view every model is read into (and written as).
MODEL_VIEW_VERSION = "0.5.4"
_TENSOR_ID = re.compile(r"^[a-z0-9_\-.]+$", re.IGNORECASE)
_OUTPUT_FIELDS = frozenset({"id", "axes", "description", "test_tensor", "sample_tensor", "data", "postprocessing"})
_INPUT_FIELDS = _OUTPUT_FIELDS - {"postprocessing"} | {"preprocessing", "optional", "pad", "output_of"}
#: Every field of a 0.5 model description (bioimageio.spec forbids others).
MODEL_FIELDS = frozenset({
    "attachments", "authors", "cite", "config", "covers", "description", "documentation", "format_version",
    "git_repo", "icon", "id", "id_emoji", "inputs", "license", "links", "maintainers", "name", "outputs",
    "packaged_by", "parent", "run_mode", "tags", "timestamp", "training_data", "type", "uploader", "version",
    "version_comment", "weights",
})
_WEIGHTS_BASE = frozenset({"source", "sha256", "authors", "comment", "parent"})
_WEIGHTS_FIELDS = {
    "onnx": _WEIGHTS_BASE | {"opset_version", "external_data"},
    "torchscript": _WEIGHTS_BASE | {"pytorch_version"},
    "pytorch_state_dict": _WEIGHTS_BASE | {"architecture", "dependencies", "pytorch_version", "strict"},
    "keras_hdf5": _WEIGHTS_BASE | {"tensorflow_version"},
    "keras_v3": _WEIGHTS_BASE | {"keras_version", "backend"},
}
_OLD = "a format 0.4 field"
#: What replaced the 0.4 fields people leave in 0.5 descriptions.
HINTS_04 = {
    "test_inputs": f"{_OLD}; 0.5: inputs[i].test_tensor", "test_outputs": f"{_OLD}; 0.5: outputs[i].test_tensor",
    "sample_inputs": f"{_OLD}; 0.5: inputs[i].sample_tensor",
    "sample_outputs": f"{_OLD}; 0.5: outputs[i].sample_tensor",
    "download_url": f"{_OLD} without a 0.5 counterpart", "rdf_source": f"{_OLD} without a 0.5 counterpart",
    "version_number": f"{_OLD}; 0.5: version", "name": f"{_OLD}; 0.5 tensors have an id",
    "data_type": f"{_OLD}; 0.5: data.type", "data_range": f"{_OLD}; 0.5: data.range",
    "shape": f"{_OLD}; 0.5 gives each axis a size", "halo": f"{_OLD}; 0.5 gives each axis a halo",
    "architecture_sha256": f"{_OLD}; 0.5: architecture.sha256", "kwargs": f"{_OLD}; 0.5: architecture.kwargs",
    "attachments": f"{_OLD} in weights entries", "dependencies": f"{_OLD} here; 0.5: weights.pytorch_state_dict",
    "language": f"{_OLD}", "framework": f"{_OLD}",
}
_REQUIRED_VERSIONS = {
    "pytorch_state_dict": ("pytorch_version",), "torchscript": ("pytorch_version",),
    "keras_hdf5": ("tensorflow_version",), "tensorflow_saved_model_bundle": ("tensorflow_version",),
    "tensorflow_js": ("tensorflow_version",), "keras_v3": ("keras_version",),
}


def _data(c: Collector, raw: Any, path: str) -> TensorData:
    if raw is None:
        return TensorData()
    if isinstance(raw, list):
        c.warn(path, "per-channel data descriptions are not used by pyapp; the first one is kept")
        raw = raw[0] if raw else {}
    data = as_dict(c, raw, path)
    if data is None:
        return TensorData()
    dtype = get_str(c, data, "type", path, default="float32") or "float32"
    if dtype not in DTYPES:
        c.error(join(path, "type"), f"unknown data type {dtype!r}; expected one of {', '.join(DTYPES)}")
        dtype = "float32"
    rng = data.get("range") or [None, None]
    if not isinstance(rng, list) or len(rng) != 2:
        c.error(join(path, "range"), f"expected [min, max], got {rng!r}")
        rng = [None, None]
    values = data.get("values")
    return TensorData(dtype, (rng[0], rng[1]), get_str(c, data, "unit", path),
                      tuple(values) if isinstance(values, list) else None)


def read_tensor(c: Collector, raw: Any, path: str, *, is_input: bool) -> Tensor | None:
    """One input (``is_input``) or output tensor description."""
    data = as_dict(c, raw, path)
    if data is None:
        return None
    tensor_id = get_str(c, data, "id", path, default="input" if is_input else "output") or ""
    if not _TENSOR_ID.match(tensor_id):
        c.error(join(path, "id"), f"{tensor_id!r} is not a valid tensor id")
    axes = read_axes(c, data.get("axes"), join(path, "axes"), is_input=is_input)
    axis_ids = tuple(a.id for a in axes)
    test = data.get("test_tensor")
    test_ref = file_ref(c, test, join(path, "test_tensor")) if test is not None else None
    if test is None:
        c.error(join(path, "test_tensor"), "field required")
    sample = data.get("sample_tensor")
    tdata = _data(c, data.get("data"), join(path, "data"))
    key, ids = ("preprocessing", PREPROCESSING_IDS) if is_input else ("postprocessing", POSTPROCESSING_IDS)
    steps = read_processing(c, data.get(key), join(path, key), allowed=ids, axis_ids=axis_ids)
    steps = with_ensure_dtype(steps, tdata.type, is_input=is_input)
    reject_unknown(c, data, _INPUT_FIELDS if is_input else _OUTPUT_FIELDS, path, HINTS_04)
    return Tensor(
        id=tensor_id, axes=axes, description=get_str(c, data, "description", path, default="") or "",
        test_tensor=test_ref,
        sample_tensor=file_ref(c, sample, join(path, "sample_tensor")) if sample is not None else None,
        data=tdata,
        preprocessing=steps if is_input else (),
        postprocessing=() if is_input else steps,
        optional=bool(data.get("optional", False)) if is_input else False,
    )


def _check_references(c: Collector, inputs: list[Tensor], outputs: list[Tensor]) -> None:
    """Tensor ids are unique; size references and reference_tensor kwargs point at existing tensors."""
    tensors = {}
    for kind, group in (("inputs", inputs), ("outputs", outputs)):
        for i, t in enumerate(group):
            if t.id in tensors:
                c.error(join(join(kind, i), "id"), f"duplicate tensor id {t.id!r}")
            tensors.setdefault(t.id, t)
    for kind, group in (("inputs", inputs), ("outputs", outputs)):
        for i, t in enumerate(group):
            for j, axis in enumerate(t.axes):
                ref = axis.size
                if not isinstance(ref, SizeReference):
                    continue
                where = join(join(join(kind, i), "axes"), j) + ".size"
                target = tensors.get(ref.tensor_id)
                if target is None:
                    c.error(join(where, "tensor_id"), f"no tensor {ref.tensor_id!r} in this model")
                elif ref.axis_id not in target.axis_ids:
                    c.error(join(where, "axis_id"), f"tensor {ref.tensor_id!r} has no axis {ref.axis_id!r}")
                elif target is t and ref.axis_id == axis.id:
                    c.error(where, "an axis size cannot refer to itself")
            for j, step in enumerate((*t.preprocessing, *t.postprocessing)):
                ref_id = step.kwargs.get("reference_tensor")
                if isinstance(ref_id, str) and ref_id not in tensors:
                    c.error(f"{kind}[{i}].processing[{j}].kwargs.reference_tensor", f"no tensor {ref_id!r}")


def _weights_entry(c: Collector, fmt: str, raw: Any, path: str, *, strict: bool) -> WeightsEntry | None:
    data = as_dict(c, raw, path)
    if data is None:
        return None
    if strict and fmt in _WEIGHTS_FIELDS:
        reject_unknown(c, data, _WEIGHTS_FIELDS[fmt], path, HINTS_04)
    source = file_ref(c, data.get("source"), join(path, "source"))
    if source is None:
        return None
    sha = check_sha256(c, data.get("sha256"), join(path, "sha256"))
    extra = {k: v for k, v in data.items() if k not in ("source", "sha256", "parent")}
    if fmt == "pytorch_state_dict":
        arch = get_dict(c, data, "architecture", path, required=True)
        if arch and not isinstance(arch.get("callable"), str):
            c.error(join(join(path, "architecture"), "callable"), "field required")
        if arch and "source" not in arch and "import_from" not in arch:
            c.error(join(path, "architecture"), "needs a source file or import_from")
    for key in _REQUIRED_VERSIONS.get(fmt, ()):
        if data.get(key) is None:
            c.error(join(path, key), f"field required for {fmt} weights")
    if fmt == "onnx":
        opset = get(c, data, "opset_version", path, int, required=True, default=None)
        if opset is not None and opset < 7:
            c.error(join(path, "opset_version"), f"must be >= 7, got {opset}")
    return WeightsEntry(fmt, type(source)(source.source, sha), get_str(c, data, "parent", path), extra)


def read_weights(c: Collector, raw: Any, *, strict: bool = True) -> dict[str, WeightsEntry]:
    """The ``weights`` mapping: known formats, parents that exist, exactly one entry without parent.

    ``strict``: fields a 0.5 entry does not define are errors (0.4 entries were checked before conversion).
    """
    data = as_dict(c, raw, "weights") if raw is not None else None
    if data is None:
        if raw is None:
            c.error("weights", "field required")
        return {}
    entries = {}
    for fmt, value in data.items():
        if value is None:
            continue
        if fmt not in WEIGHT_FORMATS:
            c.error(join("weights", str(fmt)), f"unknown weights format; expected one of {', '.join(WEIGHT_FORMATS)}")
            continue
        entry = _weights_entry(c, fmt, value, join("weights", fmt), strict=strict)
        if entry is not None:
            entries[fmt] = entry
    if not entries:
        c.error("weights", "at least one weights entry is required")
    for fmt, entry in entries.items():
        if entry.parent is not None and (entry.parent not in entries or entry.parent == fmt):
            c.error(f"weights.{fmt}.parent", f"{entry.parent!r} is not another weights entry of this model")
    if entries and "onnx" not in entries and {"torchscript", "pytorch_state_dict"} & set(entries):
        c.warn("weights", "no onnx weights: the browser runs ONNX only; add them with "
               "`pyapp convert MODEL --to onnx -o OUT`")
    if entries and sum(e.parent is None for e in entries.values()) > 1:
        c.warn("weights", "more than one weights entry without a parent")
    return entries


def read_model05(c: Collector, data: dict[str, Any], *, original_version: str, root: Any) -> ModelDescr:
    """A model description from 0.5 data; issues go to ``c``."""
    generic = read_generic_fields(c, data, model=True)
    bad = sorted(set(generic["name"]) - NAME_CHARS)
    v05 = original_version.startswith("0.5")
    if v05 and generic["name"] and not 5 <= len(generic["name"]) <= 128:
        c.error("name", f"{generic['name']!r}: a model name has 5 to 128 characters")
    if bad:
        c.error("name", f"{generic['name']!r} has characters a model name may not use: {''.join(bad)!r} "
                "(allowed: letters, digits, '_+- ()')")
    inputs = [t for i, r in enumerate(get_list(c, data, "inputs", "", required=True, nonempty=True))
              if (t := read_tensor(c, r, join("inputs", i), is_input=True))]
    outputs = [t for i, r in enumerate(get_list(c, data, "outputs", "", required=True, nonempty=True))
               if (t := read_tensor(c, r, join("outputs", i), is_input=False))]
    _check_references(c, inputs, outputs)
    weights = read_weights(c, data.get("weights"), strict=v05)
    timestamp = data.get("timestamp")
    if timestamp is not None and not isinstance(timestamp, str):
        timestamp = timestamp.isoformat() if hasattr(timestamp, "isoformat") else str(timestamp)
    generic.pop("_known")
    if v05:  # 0.4 descriptions were checked in 0.4 terms before they were converted
        reject_unknown(c, data, MODEL_FIELDS, "", HINTS_04)
    generic["other"].pop("timestamp", None)
    generic["format_version"] = MODEL_VIEW_VERSION
    return ModelDescr(
        inputs=tuple(inputs), outputs=tuple(outputs), weights=weights, timestamp=timestamp,
        original_format_version=original_version, root=root, **generic,
    )
