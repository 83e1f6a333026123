"""Pre- and post-processing ops with bioimage.io 0.5 semantics, in pure numpy.

``apply_processing(array, steps, axes=...)`` applies a tensor's ``preprocessing`` or ``postprocessing``
steps (:class:`pyapp.spec.model.Processing`, op ids and kwargs of the 0.5 spec) to a whole sample tensor;
``plan_blockwise(shape, steps, axes=..., array=...)`` fixes their statistics from the whole tensor and returns
a callable that processes one block at a time with the same result (None where that cannot be done).

Supported op ids: ``binarize``, ``clip``, ``ensure_dtype``, ``fixed_zero_mean_unit_variance``,
``scale_linear``, ``scale_mean_variance``, ``scale_range``, ``sigmoid``, ``softmax``,
``zero_mean_unit_variance``. Any other id raises :class:`UnsupportedOpError`.

Output type rule
----------------
Arithmetic ops compute in, and return, ``float64`` if their input is ``float64`` and ``float32`` for any
other input (integers, booleans, ``float16``, ``float32``): see :func:`supported_float_type`. ``binarize``
returns ``bool``; ``ensure_dtype`` returns its ``dtype`` (for integer targets values are truncated toward
zero like ``astype``, values outside the target range saturate, NaN becomes 0). Statistics (mean, std,
percentiles) are accumulated in ``float64``.

Statistics
----------
Per-sample statistics are taken over the op's kwargs ``axes`` (all axes when ``axes`` is None; a ``batch``
id that the tensor lacks is ignored) from the tensor as it enters the step (or, with
``stats_source="unprocessed"``, as it was before the first step), or from the ``sample`` entry named by
``reference_tensor``. Percentiles use numpy's ``linear`` method, except ``clip`` with per-sample
percentiles, which uses ``inverted_cdf`` (both as bioimageio.core 0.11 does).

``dataset_stats`` replaces them where bioimageio.core uses dataset statistics: when the op's ``axes`` is
None or contains ``batch`` (for ``scale_mean_variance`` only when ``axes`` contains ``batch``). Its layout
is ``{tensor_id: {key: value}}`` with keys ``"mean"``, ``"std"`` (or ``"var"``) and ``"percentile_<p>"``
(``p`` in 0..100 as written in the kwargs, e.g. ``"percentile_99.8"``, see :func:`percentile_key`), and
values that are numbers or float arrays with the tensor's number of dimensions (reduced axes of size 1).
:func:`dataset_statistics` computes such a mapping from a list of samples. Statistics not found there are
computed from the sample.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from ..spec.model import Processing
from ._blockwise import BlockProcessing, plan_blockwise
from ._common import Context, ProcessingError, UnsupportedOpError, supported_float_type
from ._ops import OPS
from ._stats import dataset_statistics, percentile_key

__all__ = [
    "SUPPORTED_OPS",
    "BlockProcessing",
    "ProcessingError",
    "UnsupportedOpError",
    "apply_processing",
    "dataset_statistics",
    "percentile_key",
    "plan_blockwise",
    "supported_float_type",
]

#: The op ids ``apply_processing`` implements.
SUPPORTED_OPS: tuple[str, ...] = tuple(sorted(OPS))


def _step_parts(step: Processing | Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    if isinstance(step, Mapping):
        return str(step.get("id")), step.get("kwargs") or {}
    return step.id, step.kwargs or {}


def apply_processing(
    array: np.ndarray,
    steps: Sequence[Processing],
    *,
    axes: Sequence[str],
    tensor_id: str = "",
    sample: Mapping[str, tuple[np.ndarray, Sequence[str]]] | None = None,
    dataset_stats: Mapping[str, Mapping[str, Any]] | None = None,
    stats_source: Literal["step", "unprocessed"] = "step",
) -> np.ndarray:
    """Apply processing steps, in order, to a whole sample tensor.

    Parameters
    ----------
    array : ndarray
        The whole (unpadded, untiled) tensor; any numeric or bool dtype. It is never modified.
    steps : sequence of Processing
        The steps (``id`` and ``kwargs`` in the 0.5 view); mappings ``{"id": ..., "kwargs": ...}`` work too.
    axes : sequence of str
        Axis ids of ``array``, e.g. ``("batch", "channel", "y", "x")``.
    tensor_id : str, optional
        Id of the tensor, used in error messages and to look up ``dataset_stats``.
    sample : mapping, optional
        ``{tensor_id: (array, axes)}`` of the sample's unprocessed tensors, for ``reference_tensor`` kwargs.
    dataset_stats : mapping, optional
        Precomputed dataset statistics ``{tensor_id: {"mean": ..., "std": ..., "percentile_<p>": ...}}``,
        see the module docstring for keys, value shapes and when they are used.
    stats_source : {"step", "unprocessed"}, optional
        Where per-sample statistics of the tensor itself come from: the tensor as it enters each step
        (default), or ``array`` before any step, as bioimageio.core 0.11 does (it computes all statistics
        once, before the first step). The two differ only when a step that changes values (e.g.
        ``scale_linear``) precedes one that uses statistics.

    Returns
    -------
    ndarray
        The processed tensor, same shape as ``array``; its dtype follows the module's output type rule.
        When no step changes the data (no steps, or an ``ensure_dtype`` to the same dtype) this is
        ``array`` itself, otherwise a new array.

    Raises
    ------
    UnsupportedOpError
        A step's op id is not implemented (see ``SUPPORTED_OPS``).
    ProcessingError
        Bad kwargs, an axis id the tensor lacks, a missing reference tensor, badly shaped statistics, or
        ``axes`` that does not match ``array.ndim``, or an unknown ``stats_source``.

    Examples
    --------
    >>> from pyapp.spec.model import Processing
    >>> x = np.array([[0, 50, 100]], dtype=np.uint8)
    >>> steps = [Processing("scale_range", {"axes": ["y", "x"], "eps": 1e-6}),
    ...          Processing("clip", {"min": 0.0, "max": 0.4})]
    >>> apply_processing(x, steps, axes=("y", "x"), tensor_id="raw")
    array([[0. , 0.4, 0.4]], dtype=float32)
    """
    x = np.asarray(array)
    axes = tuple(axes)
    if x.ndim != len(axes):
        raise ProcessingError(f"tensor {tensor_id!r}: array has {x.ndim} dimensions but axes are {axes!r}")
    if stats_source not in ("step", "unprocessed"):
        raise ProcessingError(f"stats_source must be 'step' or 'unprocessed', got {stats_source!r}")
    ctx = Context(
        axes=axes,
        tensor_id=tensor_id,
        op_id="",
        sample=sample or {},
        dataset_stats=dataset_stats or {},
        unprocessed=x if stats_source == "unprocessed" else None,
    )
    for step in steps:
        op_id, kwargs = _step_parts(step)
        op = OPS.get(op_id)
        if op is None:
            raise UnsupportedOpError(
                f"tensor {tensor_id!r}: unsupported processing op {op_id!r} (supported: {', '.join(SUPPORTED_OPS)})"
            )
        ctx.op_id = op_id
        y = op(x, kwargs, ctx)
        ctx.owned = ctx.owned or y is not x
        x = y
    return x
