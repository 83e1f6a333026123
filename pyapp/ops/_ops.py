"""The processing ops, one pure function each: ``op(x, kwargs, ctx) -> ndarray``.

An op never writes into ``x`` unless ``ctx.owned`` says the array belongs to the current call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ._common import Context, axis_index, scalar_or_axis
from ._stats import dataset_mode, get_mean_std, get_percentiles

OpFunc = Callable[[np.ndarray, Mapping[str, Any], Context], np.ndarray]

_DEFAULT_EPS = 1e-6


def _eps(kwargs: Mapping[str, Any], ctx: Context) -> float:
    eps = kwargs.get("eps", _DEFAULT_EPS)
    eps = _DEFAULT_EPS if eps is None else float(eps)
    if not eps > 0:
        raise ctx.error(f"kwarg 'eps' must be > 0, got {eps!r}")
    return eps


def binarize(x: np.ndarray, kwargs: Mapping[str, Any], ctx: Context) -> np.ndarray:
    """``x > threshold`` as bool; ``threshold`` a number, or a list along kwarg ``axis``."""
    thr = scalar_or_axis(kwargs, "threshold", x.shape, ctx)
    if isinstance(thr, np.ndarray) and x.dtype.kind == "f":
        thr = thr.astype(x.dtype)  # compare in x's precision, as a Python-float threshold does (NEP 50)
    return np.greater(x, thr)


def _clip_bounds(x: np.ndarray, kwargs: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """clip's ``{"min": ..., "max": ...}`` (either may be absent): numbers, or percentiles of ``x``."""
    bounds: dict[str, Any] = {}
    percentiles: dict[str, float] = {}
    for side in ("min", "max"):
        value, pct = kwargs.get(side), kwargs.get(f"{side}_percentile")
        if value is not None and pct is not None:
            raise ctx.error(f"give only one of {side!r} and '{side}_percentile', got {value!r} and {pct!r}")
        if value is not None:
            bounds[side] = float(value)
        elif pct is not None:
            percentiles[side] = float(pct)
    if not bounds and not percentiles:
        raise ctx.error("give at least one of 'min', 'max', 'min_percentile', 'max_percentile'")
    if "min" in bounds and "max" in bounds and bounds["min"] >= bounds["max"]:
        raise ctx.error(f"expected min < max, got min={bounds['min']!r}, max={bounds['max']!r}")
    if len(percentiles) == 2 and percentiles["min"] >= percentiles["max"]:
        raise ctx.error(f"expected min_percentile < max_percentile, got {percentiles!r}")
    if percentiles:
        kw_axes = kwargs.get("axes")
        dataset = dataset_mode(kw_axes)
        # bioimageio.core 0.11: per-sample clip percentiles use 'inverted_cdf', dataset ones 'linear'
        values = get_percentiles(
            x,
            list(percentiles.values()),
            kw_axes,
            None,
            ctx,
            use_dataset=dataset,
            method="linear" if dataset else "inverted_cdf",
        )
        bounds.update(zip(percentiles, values, strict=True))
    return bounds


def clip(x: np.ndarray, kwargs: Mapping[str, Any], ctx: Context) -> np.ndarray:
    """Limit values to [min, max]; either bound may be a percentile over kwarg ``axes``."""
    bounds = ctx.statistics(_clip_bounds, x, kwargs)
    out, ft = ctx.work_out(x)
    lo, hi = bounds.get("min"), bounds.get("max")
    if lo is not None and hi is not None:
        return np.clip(x, lo, hi, out=out, dtype=ft)
    if lo is not None:
        return np.maximum(x, lo, out=out, dtype=ft)
    return np.minimum(x, hi, out=out, dtype=ft)


def _inner_bound(value: int, fdt: np.dtype[Any], upper: bool) -> np.floating[Any]:
    """``value`` as a float of type ``fdt``, rounded toward the inside of the integer range."""
    fmax = int(np.finfo(fdt).max)
    if abs(value) >= fmax:  # the float type cannot leave this integer range (float16 -> int32)
        return fdt.type(fmax if upper else -fmax)
    b = fdt.type(value)
    if (upper and int(b) > value) or (not upper and int(b) < value):
        b = np.nextafter(b, fdt.type(-np.inf if upper else np.inf))
    return b


def _float_to_int(x: np.ndarray, dt: np.dtype[Any], ctx: Context) -> np.ndarray:
    info = np.iinfo(dt)
    lo, hi = _inner_bound(int(info.min), x.dtype, False), _inner_bound(int(info.max), x.dtype, True)
    if x.size == 0 or (lo <= np.min(x) and np.max(x) <= hi):  # NaN fails both tests
        return x.astype(dt)
    y = x if ctx.owned else x.copy()
    np.nan_to_num(y, copy=False, nan=0.0, posinf=hi, neginf=lo)
    np.clip(y, lo, hi, out=y)
    return y.astype(dt)


def _int_to_int(x: np.ndarray, dt: np.dtype[Any]) -> np.ndarray:
    src, dst = np.iinfo(x.dtype), np.iinfo(dt)
    lo, hi = max(int(src.min), int(dst.min)), min(int(src.max), int(dst.max))
    if (lo > src.min or hi < src.max) and x.size and (np.min(x) < lo or np.max(x) > hi):
        x = np.clip(x, x.dtype.type(lo), x.dtype.type(hi))
    return x.astype(dt)


def ensure_dtype(x: np.ndarray, kwargs: Mapping[str, Any], ctx: Context) -> np.ndarray:
    """Cast to kwarg ``dtype``; integer targets truncate toward zero and saturate (NaN -> 0)."""
    name = ctx.require(kwargs, "dtype")
    try:
        dt = np.dtype(name)
    except TypeError:
        raise ctx.error(f"kwarg 'dtype' {name!r} is not a numpy dtype (e.g. 'float32', 'uint8')") from None
    if dt.kind not in "biuf":
        raise ctx.error(f"kwarg 'dtype' must be a bool, integer or float type, got {name!r}")
    if x.dtype == dt:
        return x
    if dt.kind in "iu" and x.dtype.kind == "f":
        return _float_to_int(x, dt, ctx)
    if dt.kind in "iu" and x.dtype.kind in "iu":
        return _int_to_int(x, dt)
    with np.errstate(over="ignore"):
        return x.astype(dt)


def scale_linear(x: np.ndarray, kwargs: Mapping[str, Any], ctx: Context) -> np.ndarray:
    """``x * gain + offset``; with kwarg ``axis``, ``gain``/``offset`` may be lists along that axis."""
    gain = scalar_or_axis(kwargs, "gain", x.shape, ctx, default=1.0)
    offset = scalar_or_axis(kwargs, "offset", x.shape, ctx, default=0.0)
    out, ft = ctx.work_out(x)
    out = np.multiply(x, gain, out=out, dtype=ft)
    return np.add(out, offset, out=out, dtype=ft)


def _range_stats(x: np.ndarray, kwargs: Mapping[str, Any], ctx: Context) -> tuple[Any, Any]:
    """scale_range's lower percentile and ``p_max - p_min + eps``."""
    p_lo = float(kwargs.get("min_percentile", 0.0) or 0.0)
    p_hi = kwargs.get("max_percentile", 100.0)
    p_hi = 100.0 if p_hi is None else float(p_hi)
    if not 0 <= p_lo < p_hi <= 100:
        raise ctx.error(f"expected 0 <= min_percentile < max_percentile <= 100, got {p_lo!r} and {p_hi!r}")
    eps = _eps(kwargs, ctx)
    kw_axes = kwargs.get("axes")
    lo, hi = get_percentiles(
        x,
        [p_lo, p_hi],
        kw_axes,
        kwargs.get("reference_tensor"),
        ctx,
        use_dataset=dataset_mode(kw_axes),
        method="linear",
    )
    return lo, (hi - lo) + eps


def scale_range(x: np.ndarray, kwargs: Mapping[str, Any], ctx: Context) -> np.ndarray:
    """``(x - p_min) / (p_max - p_min + eps)`` with percentiles over ``axes`` (of ``reference_tensor``)."""
    lo, denom = ctx.statistics(_range_stats, x, kwargs)
    out, ft = ctx.work_out(x)
    out = np.subtract(x, lo, out=out, dtype=ft)
    return np.divide(out, denom, out=out, dtype=ft)


def _zmuv_stats(x: np.ndarray, kwargs: Mapping[str, Any], ctx: Context) -> tuple[Any, Any]:
    """zero_mean_unit_variance's mean and ``std + eps``."""
    eps = _eps(kwargs, ctx)
    kw_axes = kwargs.get("axes")
    mean, std = get_mean_std(x, kw_axes, None, ctx, use_dataset=dataset_mode(kw_axes))
    return mean, std + eps


def zero_mean_unit_variance(x: np.ndarray, kwargs: Mapping[str, Any], ctx: Context) -> np.ndarray:
    """``(x - mean) / (std + eps)`` with mean/std over kwarg ``axes`` (all axes if None)."""
    mean, std = ctx.statistics(_zmuv_stats, x, kwargs)
    out, ft = ctx.work_out(x)
    out = np.subtract(x, mean, out=out, dtype=ft)
    return np.divide(out, std, out=out, dtype=ft)


def fixed_zero_mean_unit_variance(x: np.ndarray, kwargs: Mapping[str, Any], ctx: Context) -> np.ndarray:
    """``(x - mean) / (std + eps)`` with given mean/std (numbers, or lists along kwarg ``axis``)."""
    mean = scalar_or_axis(kwargs, "mean", x.shape, ctx)
    std = scalar_or_axis(kwargs, "std", x.shape, ctx)
    std = std + _eps(kwargs, ctx)
    out, ft = ctx.work_out(x)
    out = np.subtract(x, mean, out=out, dtype=ft)
    return np.divide(out, std, out=out, dtype=ft)


def _mean_variance_stats(x: np.ndarray, kwargs: Mapping[str, Any], ctx: Context) -> tuple[Any, Any, Any]:
    """scale_mean_variance's mean, factor ``(ref_std + eps) / (std + eps)`` and reference mean."""
    ref = ctx.require(kwargs, "reference_tensor")
    eps = _eps(kwargs, ctx)
    kw_axes = kwargs.get("axes")
    # bioimageio.core 0.11 uses dataset statistics here only when 'batch' is named in axes
    use_dataset = kw_axes is not None and dataset_mode(kw_axes)
    mean, std = get_mean_std(x, kw_axes, None, ctx, use_dataset=use_dataset)
    ref_mean, ref_std = get_mean_std(x, kw_axes, ref, ctx, use_dataset=use_dataset)
    return mean, (ref_std + eps) / (std + eps), ref_mean


def scale_mean_variance(x: np.ndarray, kwargs: Mapping[str, Any], ctx: Context) -> np.ndarray:
    """``(x - mean) / (std + eps) * (ref_std + eps) + ref_mean`` matching ``reference_tensor``."""
    mean, factor, ref_mean = ctx.statistics(_mean_variance_stats, x, kwargs)
    out, ft = ctx.work_out(x)
    out = np.subtract(x, mean, out=out, dtype=ft)
    out = np.multiply(out, factor, out=out, dtype=ft)
    return np.add(out, ref_mean, out=out, dtype=ft)


def sigmoid(x: np.ndarray, kwargs: Mapping[str, Any], ctx: Context) -> np.ndarray:
    """The logistic function ``1 / (1 + exp(-x))``."""
    out, ft = ctx.work_out(x)
    out = np.negative(x, out=out, dtype=ft)
    with np.errstate(over="ignore"):  # exp(-x) -> inf gives the exact limit 0
        np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)


def softmax(x: np.ndarray, kwargs: Mapping[str, Any], ctx: Context) -> np.ndarray:
    """Softmax along kwarg ``axis`` (default ``channel``), shifted by the maximum for stability."""
    axis_id = kwargs.get("axis") or "channel"
    idx = axis_index(ctx.axes, axis_id, ctx, "kwargs axis")
    peak = np.max(x, axis=idx, keepdims=True)
    out, ft = ctx.work_out(x)
    out = np.subtract(x, peak, out=out, dtype=ft)
    np.exp(out, out=out)
    out /= np.sum(out, axis=idx, keepdims=True)
    return out


#: Op id -> the statistics function of the ops that take statistics of a tensor (or validate kwargs that
#: way); the op uses ``ctx.statistics(function, x, kwargs)``, so blockwise processing can fix them beforehand.
STATISTICS: dict[str, Callable[[np.ndarray, Mapping[str, Any], Context], Any]] = {
    "clip": _clip_bounds,
    "scale_mean_variance": _mean_variance_stats,
    "scale_range": _range_stats,
    "zero_mean_unit_variance": _zmuv_stats,
}

#: Op id -> implementation, for the op ids of the bioimage.io 0.5 spec this package supports.
OPS: dict[str, OpFunc] = {
    "binarize": binarize,
    "clip": clip,
    "ensure_dtype": ensure_dtype,
    "fixed_zero_mean_unit_variance": fixed_zero_mean_unit_variance,
    "scale_linear": scale_linear,
    "scale_mean_variance": scale_mean_variance,
    "scale_range": scale_range,
    "sigmoid": sigmoid,
    "softmax": softmax,
    "zero_mean_unit_variance": zero_mean_unit_variance,
}
