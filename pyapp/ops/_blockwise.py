"""Processing block by block: statistics fixed once from the whole tensor, the elementwise work per block.

A tiled prediction then never holds a float copy of the whole input (nor of the whole output before it is
written): see :func:`plan_blockwise`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..spec.model import Processing
from ._common import Context, ProcessingError, UnsupportedOpError, WholeTensorNeeded, crop
from ._ops import OPS, STATISTICS, OpFunc


@dataclass(frozen=True)
class _Step:
    op_id: str
    op: OpFunc
    kwargs: Mapping[str, Any]
    statistics: Any  # the op's fixed statistics (None for ops without)


@dataclass(frozen=True)
class BlockProcessing:
    """A tensor's processing steps with their statistics fixed; call it on one block at a time.

    ``processing(block, region)`` returns what ``apply_processing`` on the whole tensor gives at ``region``
    (``block`` being the whole unprocessed tensor at ``region``).
    """

    axes: tuple[str, ...]
    tensor_id: str
    shape: tuple[int, ...]
    steps: tuple[_Step, ...]

    def __call__(self, block: np.ndarray, region: tuple[slice, ...]) -> np.ndarray:
        """The processed ``block`` found at ``region`` (one slice per axis) of the whole tensor."""
        return self._run(block, region, whole_check=True)

    def result_dtype(self, dtype: Any) -> np.dtype[Any]:
        """The dtype the steps make of a tensor of ``dtype`` (run on one pixel)."""
        pixel = np.zeros((1,) * len(self.shape), dtype)
        return self._run(pixel, (slice(0, 1),) * len(self.shape), whole_check=False).dtype

    def _run(self, block: np.ndarray, region: tuple[slice, ...], *, whole_check: bool) -> np.ndarray:
        ctx = Context(axes=self.axes, tensor_id=self.tensor_id, op_id="", sample={}, dataset_stats={},
                      region=tuple(region), shape=self.shape)
        x = block
        for step in self.steps:
            ctx.op_id = step.op_id
            if whole_check and step.op_id == "softmax":
                self._check_whole_along(step.kwargs.get("axis") or "channel", block.shape, ctx)
            ctx.fixed = crop(step.statistics, ctx.region)
            y = step.op(x, step.kwargs, ctx)
            ctx.owned = ctx.owned or y is not x
            x = y
        return x

    def _check_whole_along(self, axis_id: str, block_shape: tuple[int, ...], ctx: Context) -> None:
        idx = self.axes.index(axis_id) if axis_id in self.axes else None
        if idx is not None and block_shape[idx] != self.shape[idx]:
            raise ctx.error(f"softmax along {axis_id!r} needs whole blocks along {axis_id!r} (a block has "
                            f"{block_shape[idx]} of {self.shape[idx]})")


def _keeps_values(x: np.ndarray | None, op_id: str, kwargs: Mapping[str, Any]) -> bool:
    """Whether a step leaves every value of ``x`` as it is (a cast to a type that holds them all exactly)."""
    if x is None or op_id != "ensure_dtype":
        return False
    try:
        target = np.dtype(kwargs.get("dtype"))
    except TypeError:
        return False
    return target == x.dtype or (target.kind == "f" and np.can_cast(x.dtype, target, "safe"))


def plan_blockwise(
    shape: Sequence[int],
    steps: Sequence[Processing],
    *,
    axes: Sequence[str],
    tensor_id: str = "",
    array: np.ndarray | None = None,
    sample: Mapping[str, tuple[np.ndarray, Sequence[str]]] | None = None,
    dataset_stats: Mapping[str, Mapping[str, Any]] | None = None,
) -> BlockProcessing | None:
    """Fix the statistics of ``steps`` so that they can be applied block by block, or None where they cannot.

    Parameters
    ----------
    shape : sequence of int
        The whole tensor's shape.
    steps, axes, tensor_id, sample, dataset_stats
        As for :func:`pyapp.ops.apply_processing` (statistics per step, ``stats_source="step"``).
    array : ndarray, optional
        The whole unprocessed tensor, when it is at hand (an input; not an output before the model runs).

    Returns
    -------
    BlockProcessing or None
        None when a step needs statistics of a tensor that exists only as a whole: of ``array`` when it is not
        given, or of what earlier steps made of it (unless they only cast to a type that holds every value).

    Raises
    ------
    UnsupportedOpError, ProcessingError
        As :func:`pyapp.ops.apply_processing` would for the whole tensor.
    """
    axes = tuple(axes)
    shape = tuple(int(n) for n in shape)
    if len(shape) != len(axes):
        raise ProcessingError(f"tensor {tensor_id!r}: shape {shape} has {len(shape)} dimensions but axes are {axes!r}")
    ctx = Context(axes=axes, tensor_id=tensor_id, op_id="", sample=sample or {}, dataset_stats=dataset_stats or {},
                  shape=shape)
    source = array  # the tensor as it enters the current step, while it is the unprocessed one
    planned = []
    for step in steps:
        op_id, kwargs = (str(step.get("id")), step.get("kwargs") or {}) if isinstance(step, Mapping) else (
            step.id, step.kwargs or {})
        op = OPS.get(op_id)
        if op is None:
            raise UnsupportedOpError(f"tensor {tensor_id!r}: unsupported processing op {op_id!r} "
                                     f"(supported: {', '.join(sorted(OPS))})")
        ctx.op_id = op_id
        statistics = None
        if op_id in STATISTICS:
            try:
                statistics = STATISTICS[op_id](source, kwargs, ctx)  # type: ignore[arg-type]
            except WholeTensorNeeded:
                return None
        else:  # check the kwargs now, on a one-pixel block, rather than when the first block runs
            op(np.zeros((1,) * len(shape), np.float32), kwargs, Context(
                axes=axes, tensor_id=tensor_id, op_id=op_id, sample={}, dataset_stats={}, shape=shape,
                region=(slice(0, 1),) * len(shape)))
        planned.append(_Step(op_id, op, dict(kwargs), statistics))
        if not _keeps_values(source, op_id, kwargs):
            source = None
    return BlockProcessing(axes, tensor_id, shape, tuple(planned))
