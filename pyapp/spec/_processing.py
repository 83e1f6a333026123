"""Check pre/post-processing steps (0.5 ids and kwargs) and add the implicit ``ensure_dtype`` steps."""

from __future__ import annotations

from typing import Any

from ._fields import Collector, as_dict, get_str, join
from .model import Processing

DTYPES = ("float32", "float64", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64", "bool")

PREPROCESSING_IDS = frozenset({
    "binarize", "clip", "ensure_dtype", "fixed_zero_mean_unit_variance", "scale_linear", "scale_range",
    "sigmoid", "softmax", "zero_mean_unit_variance",
})
POSTPROCESSING_IDS = PREPROCESSING_IDS | {"scale_mean_variance"}
#: Ops that need code we do not run (custom python, stardist/cellpose): accepted, reported as a warning.
EXTERNAL_IDS = frozenset({"custom", "stardist_postprocessing", "cellpose_flow_dynamics"})

_NUMBER = (int, float)
_NUMBERS = (int, float, list)
#: kwarg name -> (allowed types, required); the checks every op shares.
_KWARGS: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {
    "binarize": {"threshold": (_NUMBERS, True), "axis": ((str,), False)},
    "clip": {"min": (_NUMBER, False), "max": (_NUMBER, False), "min_percentile": (_NUMBER, False),
             "max_percentile": (_NUMBER, False), "axes": ((list,), False)},
    "ensure_dtype": {"dtype": ((str,), True)},
    "fixed_zero_mean_unit_variance": {"mean": (_NUMBERS, True), "std": (_NUMBERS, True), "axis": ((str,), False)},
    "scale_linear": {"gain": (_NUMBERS, False), "offset": (_NUMBERS, False), "axis": ((str,), False)},
    "scale_range": {"axes": ((list,), False), "min_percentile": (_NUMBER, False),
                    "max_percentile": (_NUMBER, False), "eps": (_NUMBER, False), "reference_tensor": ((str,), False)},
    "sigmoid": {},
    "softmax": {"axis": ((str,), False)},
    "zero_mean_unit_variance": {"axes": ((list,), False), "eps": (_NUMBER, False)},
    "scale_mean_variance": {"reference_tensor": ((str,), True), "axes": ((list,), False), "eps": (_NUMBER, False)},
}


def _check_kwargs(c: Collector, op: str, kwargs: dict[str, Any], path: str, axis_ids: tuple[str, ...]) -> None:
    rules = _KWARGS.get(op)
    if rules is None:
        return
    for name, (types, required) in rules.items():
        value = kwargs.get(name)
        if value is None:
            if required:
                c.error(join(path, name), f"field required for {op!r}")
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            c.error(join(path, name), f"invalid value {value!r} for {op!r}")
    for name in kwargs:
        if name not in rules:
            c.error(join(path, str(name)), f"unknown argument for {op!r}; expected one of {sorted(rules)}")
    _check_axes_kwargs(c, kwargs, path, axis_ids)
    _check_op_values(c, op, kwargs, path)


def _check_axes_kwargs(c: Collector, kwargs: dict[str, Any], path: str, axis_ids: tuple[str, ...]) -> None:
    axes = kwargs.get("axes")
    if isinstance(axes, list):
        bad = [a for a in axes if a not in axis_ids]
        if bad:
            c.error(join(path, "axes"), f"{bad} not among the tensor's axes {list(axis_ids)}")
    axis = kwargs.get("axis")
    if isinstance(axis, str) and axis not in axis_ids:
        c.error(join(path, "axis"), f"{axis!r} is not among the tensor's axes {list(axis_ids)}")


def _check_op_values(c: Collector, op: str, kwargs: dict[str, Any], path: str) -> None:
    if op == "ensure_dtype" and isinstance(kwargs.get("dtype"), str) and kwargs["dtype"] not in DTYPES:
        c.error(join(path, "dtype"), f"unknown dtype {kwargs['dtype']!r}; expected one of {', '.join(DTYPES)}")
    if op == "clip" and all(kwargs.get(k) is None for k in ("min", "max", "min_percentile", "max_percentile")):
        c.error(path, "clip needs at least one of min, max, min_percentile, max_percentile")
    if op == "scale_range":
        low, high = kwargs.get("min_percentile", 0.0), kwargs.get("max_percentile", 100.0)
        if isinstance(low, _NUMBER) and isinstance(high, _NUMBER) and not 0 <= low < high <= 100:
            c.error(path, f"need 0 <= min_percentile < max_percentile <= 100, got {low} and {high}")
    for name in ("eps",):
        value = kwargs.get(name)
        if isinstance(value, _NUMBER) and not isinstance(value, bool) and not 0 < value <= 0.1:
            c.error(join(path, name), f"must be in (0, 0.1], got {value}")


def read_processing(
    c: Collector, raw: Any, path: str, *, allowed: frozenset[str], axis_ids: tuple[str, ...],
) -> tuple[Processing, ...]:
    """A list of ``{id, kwargs}`` steps, checked against the op table."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        c.error(path, f"expected a list of processing steps, got {type(raw).__name__}")
        return ()
    steps = []
    for i, item in enumerate(raw):
        where = join(path, i)
        data = as_dict(c, item, where)
        if data is None:
            continue
        op = get_str(c, data, "id", where, required=True)
        kwargs = data.get("kwargs") or {}
        if op == "sigmoid" and "kwargs" in data:
            c.error(join(where, "kwargs"), "sigmoid takes no kwargs")
        if not isinstance(kwargs, dict):
            c.error(join(where, "kwargs"), f"expected a mapping, got {type(kwargs).__name__}")
            kwargs = {}
        if op is None:
            continue
        if op in EXTERNAL_IDS:
            c.warn(join(where, "id"), f"{op!r} needs code outside the spec; pyapp cannot run it")
        elif op not in allowed:
            c.error(join(where, "id"), f"unknown processing {op!r}; expected one of {', '.join(sorted(allowed))}")
            continue
        _check_kwargs(c, op, kwargs, join(where, "kwargs"), axis_ids)
        steps.append(Processing(op, dict(kwargs)))
    return tuple(steps)


def with_ensure_dtype(steps: tuple[Processing, ...], dtype: str, *, is_input: bool) -> tuple[Processing, ...]:
    """Insert the spec's implicit casts: inputs start and end with ensure_dtype, outputs end with one.

    A step list that already ends with ``binarize`` needs no final cast (as in bioimageio.spec).
    """
    cast = Processing("ensure_dtype", {"dtype": dtype})
    out = list(steps)
    if is_input and (not out or out[0].id != "ensure_dtype"):
        out.insert(0, cast)
    if not out or out[-1].id not in ("ensure_dtype", "binarize"):
        out.append(cast)
    return tuple(out)
