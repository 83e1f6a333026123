"""Shared pieces of the ops package: errors, the float type rule, the per-call context and axis helpers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "ProcessingError",
    "UnsupportedOpError",
    "supported_float_type",
]

#: Axis id of the batch axis; a missing batch axis in a reduction is read as a batch of one.
BATCH = "batch"


class ProcessingError(ValueError):
    """A processing step cannot be applied: bad kwargs, unknown axis, missing reference tensor..."""


class UnsupportedOpError(ProcessingError):
    """A processing step names an op id this package does not implement."""


class WholeTensorNeeded(Exception):
    """A step needs statistics of a tensor that is not at hand as a whole (raised while planning blockwise)."""


def crop(value: Any, region: tuple[slice, ...] | None) -> Any:
    """The part of keepdims statistics (arrays, or tuples/dicts of them) that lies in ``region``.

    Axes of size 1 broadcast and stay; other axes are sliced. Numbers pass unchanged.
    """
    if region is None:
        return value
    if isinstance(value, tuple | list):
        return type(value)(crop(v, region) for v in value)
    if isinstance(value, dict):
        return {k: crop(v, region) for k, v in value.items()}
    if isinstance(value, np.ndarray) and value.ndim == len(region):
        return value[tuple(r if n != 1 else slice(None) for r, n in zip(region, value.shape, strict=True))]
    return value


def supported_float_type(dtype: np.dtype[Any] | type | str) -> np.dtype[Any]:
    """Return the float type ops compute in for an input of ``dtype``.

    Parameters
    ----------
    dtype : numpy dtype or dtype-like
        The dtype of the array going into an op.

    Returns
    -------
    numpy.dtype
        ``float64`` if ``dtype`` is ``float64``, else ``float32`` (integers, booleans, ``float16``
        and ``float32`` alike).

    Examples
    --------
    >>> supported_float_type("uint16")
    dtype('float32')
    >>> supported_float_type(np.float64)
    dtype('float64')
    """
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)


@dataclass
class Context:
    """What an op needs besides its input array and kwargs (one per ``apply_processing`` call)."""

    axes: tuple[str, ...]
    tensor_id: str
    op_id: str
    sample: Mapping[str, tuple[np.ndarray, Sequence[str]]]
    dataset_stats: Mapping[str, Mapping[str, Any]]
    owned: bool = False
    """True when the current array is a buffer this call allocated, so ops may write into it."""
    unprocessed: np.ndarray | None = None
    """The tensor before any step, when statistics are to be taken from it rather than from each step's input."""
    fixed: Any = None
    """The current step's statistics, fixed beforehand from the whole tensor (blockwise processing), or None."""
    region: tuple[slice, ...] | None = None
    """Where the array being processed lies in the whole tensor (blockwise processing), or None."""
    shape: tuple[int, ...] | None = None
    """The whole tensor's shape when the array is one block of it (blockwise processing), or None."""

    def error(self, message: str) -> ProcessingError:
        """A ProcessingError whose message starts with the tensor and op ids."""
        return ProcessingError(f"tensor {self.tensor_id!r}: {self.op_id}: {message}")

    def work_out(self, x: np.ndarray) -> tuple[np.ndarray | None, np.dtype[Any]]:
        """The ``out=`` buffer for a float result of ``x`` (``x`` itself when writable) and the float type."""
        ft = supported_float_type(x.dtype)
        return (x if self.owned and x.dtype == ft else None), ft

    def statistics(self, compute: Any, x: np.ndarray, kwargs: Mapping[str, Any]) -> Any:
        """The current step's statistics: the fixed ones if any, else ``compute(x, kwargs, self)``."""
        return compute(x, kwargs, self) if self.fixed is None else self.fixed

    def require(self, kwargs: Mapping[str, Any], name: str) -> Any:
        """The kwarg ``name``; a ProcessingError when it is missing or None."""
        value = kwargs.get(name)
        if value is None:
            raise self.error(f"missing kwarg {name!r} (got kwargs {dict(kwargs)!r})")
        return value


def axis_index(axes: Sequence[str], axis_id: str, ctx: Context, what: str = "axis") -> int:
    """Position of ``axis_id`` in ``axes``; a ProcessingError naming the tensor's axes if it is absent."""
    try:
        return list(axes).index(axis_id)
    except ValueError:
        raise ctx.error(f"{what} {axis_id!r} is not an axis of the tensor (axes: {tuple(axes)!r})") from None


def reduce_axes(kw_axes: Any, axes: Sequence[str], ctx: Context) -> tuple[int, ...]:
    """Positions of the kwargs ``axes`` (ids) in ``axes``; None means all axes.

    A ``batch`` id missing from the tensor is skipped (a tensor without a batch axis is one sample);
    any other missing id is an error.
    """
    if kw_axes is None:
        return tuple(range(len(axes)))
    if isinstance(kw_axes, str):
        kw_axes = (kw_axes,)
    out = []
    for a in kw_axes:
        if a == BATCH and BATCH not in axes:
            continue
        out.append(axis_index(axes, a, ctx, "kwargs axes entry"))
    return tuple(sorted(set(out)))


def along_axis(values: Any, axis_id: str, shape: Sequence[int], ctx: Context, name: str) -> np.ndarray:
    """``values`` (a number or a list) as a float64 array that broadcasts along ``axis_id`` of the tensor."""
    idx = axis_index(ctx.axes, axis_id, ctx, "kwargs axis")
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if ctx.shape is not None:  # one block of a whole tensor: the values are along the whole axis
        shape = ctx.shape
    if arr.size not in (1, shape[idx]):
        raise ctx.error(
            f"kwarg {name!r} has {arr.size} values but axis {axis_id!r} has size {shape[idx]} "
            f"(give one value per entry, or a single value)"
        )
    bshape = [1] * len(shape)
    bshape[idx] = arr.size
    return crop(arr.reshape(bshape), ctx.region)


def scalar_or_axis(
    kwargs: Mapping[str, Any], name: str, shape: Sequence[int], ctx: Context, default: float | None = None
) -> Any:
    """A kwarg that is a number, or (with kwarg ``axis``) a list of values along that axis."""
    value = kwargs.get(name, default)
    if value is None:
        value = ctx.require(kwargs, name)
    axis_id = kwargs.get("axis")
    if axis_id is not None:
        return along_axis(value, axis_id, shape, ctx, name)
    if isinstance(value, (list, tuple, np.ndarray)):
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
        if arr.size != 1:
            raise ctx.error(f"kwarg {name!r} is a list of {arr.size} values but no kwarg 'axis' names their axis")
        return float(arr[0])
    return float(value)
