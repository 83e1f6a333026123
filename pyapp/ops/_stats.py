"""Statistics for the ops: per-sample mean/std/percentiles, and precomputed dataset statistics.

All statistics come back as float64 arrays with the tensor's number of dimensions (reduced axes of size 1),
so they broadcast against the tensor being processed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._common import BATCH, Context, WholeTensorNeeded, crop, reduce_axes, supported_float_type

_F64 = np.float64
#: Elements per chunk when the standard deviation is accumulated chunk by chunk (1 MiB of float32).
_CHUNK = 1 << 18


def percentile_key(percentile: float) -> str:
    """The ``dataset_stats`` key of a percentile: ``percentile_99.8``, ``percentile_1``.

    Examples
    --------
    >>> percentile_key(99.8), percentile_key(1.0)
    ('percentile_99.8', 'percentile_1')
    """
    p = float(percentile)
    return f"percentile_{int(p)}" if p.is_integer() else f"percentile_{p!r}"


def dataset_mode(kw_axes: Any) -> bool:
    """True where bioimageio.core uses dataset statistics: axes None (all axes) or axes with ``batch``."""
    return kw_axes is None or BATCH in (kw_axes if not isinstance(kw_axes, str) else (kw_axes,))


def stats_source(x: np.ndarray, ref_id: str | None, ctx: Context) -> tuple[np.ndarray, tuple[str, ...], str]:
    """The array (and its axes and tensor id) statistics are taken from: ``x`` or the reference tensor."""
    if ref_id is None or (ref_id == ctx.tensor_id and ref_id not in ctx.sample):
        own = x if ctx.unprocessed is None else ctx.unprocessed
        if own is None:
            raise WholeTensorNeeded(ctx.tensor_id)
        return own, ctx.axes, ctx.tensor_id
    try:
        arr, axes = ctx.sample[ref_id]
    except KeyError:
        raise ctx.error(
            f"reference_tensor {ref_id!r} is not in the sample (tensors given: {sorted(ctx.sample)!r}); "
            "pass it with sample={id: (array, axes)}"
        ) from None
    arr = np.asarray(arr)
    axes = tuple(axes)
    if arr.ndim != len(axes):
        raise ctx.error(f"reference_tensor {ref_id!r} has {arr.ndim} dimensions but axes {axes!r}")
    return arr, axes, ref_id


def align(stat: np.ndarray, src_axes: Sequence[str], ctx: Context) -> np.ndarray:
    """Reorder a keepdims statistic of a tensor with ``src_axes`` to broadcast against ``ctx.axes``."""
    src_axes = tuple(src_axes)
    if stat.ndim == 0 or src_axes == ctx.axes:
        return stat
    for a, n in zip(src_axes, stat.shape, strict=True):
        if n != 1 and a not in ctx.axes:
            raise ctx.error(
                f"statistics vary along axis {a!r} of the reference tensor, which tensor {ctx.tensor_id!r} "
                f"lacks (axes: {ctx.axes!r}); add {a!r} to kwargs axes"
            )
    kept = [a for a in ctx.axes if a in src_axes]
    moved = np.transpose(
        stat, [src_axes.index(a) for a in kept] + [i for i, a in enumerate(src_axes) if a not in ctx.axes]
    )
    moved = moved.reshape(moved.shape[: len(kept)])
    return moved.reshape([moved.shape[kept.index(a)] if a in kept else 1 for a in ctx.axes])


def mean_std(arr: np.ndarray, red: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (population, ddof=0) standard deviation over ``red``, accumulated in float64.

    The squared deviations are computed in the float type of ``arr`` (:func:`supported_float_type`), chunk by
    chunk along the longest axis, so no float copy of the whole array is made.
    """
    mean = np.mean(arr, axis=red, dtype=_F64, keepdims=True)
    ft = supported_float_type(arr.dtype)
    if arr.size == 0:
        return mean, np.sqrt(mean)  # NaN, as np.mean of nothing
    axis = int(np.argmax(arr.shape))
    rows = max(1, _CHUNK // max(1, arr.size // arr.shape[axis]))
    sums = np.zeros(mean.shape, _F64)
    for start in range(0, arr.shape[axis], rows):
        part = [slice(None)] * arr.ndim
        part[axis] = slice(start, start + rows)
        index = tuple(part)
        centred = np.subtract(arr[index], crop(mean, index), dtype=ft)
        np.square(centred, out=centred)
        partial = np.sum(centred, axis=red, dtype=_F64, keepdims=True)
        del centred  # before the next chunk's is allocated
        if axis in red:
            sums += partial
        else:
            sums[index] = partial
    var = sums / math.prod(arr.shape[i] for i in red)
    return mean, np.sqrt(var, out=var)


def quantiles(arr: np.ndarray, qs: Sequence[float], red: tuple[int, ...], method: str) -> list[np.ndarray]:
    """Quantiles ``qs`` (in [0, 1]) over ``red`` with numpy's ``method``; NaNs are skipped (like xarray)."""
    if arr.dtype == np.bool_:
        arr = arr.view(np.uint8)
    res = np.quantile(arr, list(qs), axis=red, method=method, keepdims=True)
    if res.dtype.kind == "f" and np.isnan(res).any():
        res = np.nanquantile(arr, list(qs), axis=red, method=method, keepdims=True)
    return [np.asarray(r, dtype=_F64) for r in res]


def _dataset_value(ctx: Context, source_id: str, key: str, shape: tuple[int, ...], axes: tuple[str, ...]):
    """A precomputed dataset statistic as a float64 array, or None if none was given."""
    stats = ctx.dataset_stats.get(source_id)
    if not stats:
        return None
    value = stats.get(key)
    if value is None and key.startswith("percentile_"):
        want = float(key[len("percentile_") :])
        for k, v in stats.items():
            if k.startswith("percentile_") and _float_or_none(k[len("percentile_") :]) == want:
                value = v
                break
    if value is None:
        return None
    arr = np.asarray(value, dtype=_F64)
    fits = arr.ndim == 0 or (arr.ndim == len(shape) and all(n in (1, s) for n, s in zip(arr.shape, shape, strict=True)))
    if not fits:
        raise ctx.error(
            f"dataset_stats[{source_id!r}][{key!r}] has shape {arr.shape}, which does not broadcast against "
            f"tensor shape {shape} (axes {axes!r}); give a number or a keepdims-shaped array"
        )
    return arr


def _float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def get_mean_std(
    x: np.ndarray, kw_axes: Any, ref_id: str | None, ctx: Context, *, use_dataset: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std for an op, aligned to the processed tensor: dataset stats if allowed and given."""
    arr, axes, source_id = stats_source(x, ref_id, ctx)
    if use_dataset:
        mean = _dataset_value(ctx, source_id, "mean", arr.shape, axes)
        std = _dataset_value(ctx, source_id, "std", arr.shape, axes)
        if std is None:
            var = _dataset_value(ctx, source_id, "var", arr.shape, axes)
            std = None if var is None else np.sqrt(var)
        if mean is not None and std is not None:
            return align(mean, axes, ctx), align(std, axes, ctx)
    red = reduce_axes(kw_axes, axes, ctx)
    mean, std = mean_std(arr, red)
    return align(mean, axes, ctx), align(std, axes, ctx)


def get_percentiles(
    x: np.ndarray,
    percentiles: Sequence[float],
    kw_axes: Any,
    ref_id: str | None,
    ctx: Context,
    *,
    use_dataset: bool,
    method: str,
) -> list[np.ndarray]:
    """Percentiles (0..100) for an op, aligned to the processed tensor: dataset stats if allowed and given."""
    arr, axes, source_id = stats_source(x, ref_id, ctx)
    found: dict[int, np.ndarray] = {}
    if use_dataset:
        for i, p in enumerate(percentiles):
            value = _dataset_value(ctx, source_id, percentile_key(p), arr.shape, axes)
            if value is not None:
                found[i] = value
    missing = [i for i in range(len(percentiles)) if i not in found]
    if missing:
        red = reduce_axes(kw_axes, axes, ctx)
        computed = quantiles(arr, [percentiles[i] / 100 for i in missing], red, method)
        found.update(zip(missing, computed, strict=True))
    return [align(found[i], axes, ctx) for i in range(len(percentiles))]


def dataset_statistics(
    arrays: Sequence[np.ndarray],
    *,
    axes: Sequence[str],
    reduce: Sequence[str] | None = None,
    percentiles: Sequence[float] = (),
) -> dict[str, Any]:
    """Compute dataset statistics in the ``dataset_stats`` layout from a list of samples.

    Parameters
    ----------
    arrays : sequence of ndarray
        Samples of one tensor, each with axes ``axes``; they are joined along ``batch`` (or stacked on a new
        leading axis when there is no batch axis), so all other axis sizes must agree.
    axes : sequence of str
        Axis ids of each array.
    reduce : sequence of str, optional
        Axis ids to reduce over (the op's kwargs ``axes``); all axes when None.
    percentiles : sequence of float, optional
        Percentiles (0..100) to compute with numpy's ``linear`` method.

    Returns
    -------
    dict
        ``{"mean", "std", "var", "percentile_<p>"...}``: float64 arrays with the samples' dimensions, the
        reduced axes of size 1.

    Examples
    --------
    >>> a = np.arange(8, dtype=np.float32).reshape(2, 4)
    >>> s = dataset_statistics([a, a + 8], axes=("y", "x"), percentiles=(50,))
    >>> float(s["mean"].squeeze()), float(s["percentile_50"].squeeze())
    (7.5, 7.5)
    """
    axes = tuple(axes)
    arrs = [np.asarray(a) for a in arrays]
    if not arrs:
        raise ValueError("dataset_statistics: arrays is empty; give at least one sample")
    ctx = Context(axes=axes, tensor_id="", op_id="dataset_statistics", sample={}, dataset_stats={})
    red = set(reduce_axes(reduce, axes, ctx))
    if BATCH in axes:
        data = np.concatenate(arrs, axis=axes.index(BATCH))
        red.add(axes.index(BATCH))
        red_t, drop_lead = tuple(sorted(red)), False
    else:
        data = np.stack(arrs)
        red_t, drop_lead = (0, *sorted(r + 1 for r in red)), True
    mean, std = mean_std(data, red_t)
    out: dict[str, Any] = {"mean": mean, "std": std, "var": np.square(std)}
    qs = [p / 100 for p in percentiles]
    for p, v in zip(percentiles, quantiles(data, qs, red_t, "linear") if qs else [], strict=True):
        out[percentile_key(p)] = v
    return {k: v[0] for k, v in out.items()} if drop_lead else out
