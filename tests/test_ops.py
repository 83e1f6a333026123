"""pyapp.ops against numpy formulas: eps, per-axis kwargs, reference tensors, dataset stats, dtypes, errors.

These tests need only numpy and pytest, so they also run inside Pyodide. The comparisons with
bioimageio.core live in tests/test_ops_vs_core.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from pyapp.ops import (
    SUPPORTED_OPS,
    ProcessingError,
    UnsupportedOpError,
    apply_processing,
    dataset_statistics,
    percentile_key,
    supported_float_type,
)
from pyapp.spec.model import Processing

BCYX = ("batch", "channel", "y", "x")
BYXC = ("batch", "y", "x", "channel")


def _rand(shape, seed=0, dtype="float32") -> np.ndarray:
    return (np.random.default_rng(seed).gamma(2.0, 30.0, size=shape) - 20).astype(dtype)


def _p(op_id: str, **kwargs) -> Processing:
    return Processing(op_id, kwargs)


def _run(x, *steps: Processing, axes=BCYX, **kw) -> np.ndarray:
    return apply_processing(x, steps, axes=axes, tensor_id="raw", **kw)


# ---- eps: core 0.11 ignores kwargs eps for these two ops, so they are checked against formulas here ----


@pytest.mark.parametrize("eps", [1e-6, 0.1])
def test_zero_mean_unit_variance_honours_eps(eps: float) -> None:
    """(x - mean) / (std + eps) per sample and channel; core 0.11 would use eps=1e-6 whatever is given."""
    x = _rand((2, 3, 20, 24), seed=1)
    out = _run(x, _p("zero_mean_unit_variance", axes=["y", "x"], eps=eps))
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=(2, 3), keepdims=True)
    std = x64.std(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(out, (x64 - mean) / (std + eps), rtol=1e-6, atol=1e-6)


def test_zero_mean_unit_variance_large_eps_changes_result() -> None:
    x = _rand((1, 1, 8, 8), seed=2) / 100  # std ~ 0.4, so eps=0.1 matters
    small = _run(x, _p("zero_mean_unit_variance", eps=1e-6))
    large = _run(x, _p("zero_mean_unit_variance", eps=0.1))
    assert np.abs(small - large).max() > 0.1
    np.testing.assert_allclose(large * (x.std() + 0.1), x - x.mean(dtype=np.float64), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("eps", [1e-6, 0.1])
def test_scale_range_honours_eps(eps: float) -> None:
    """(x - p_lo) / (p_hi - p_lo + eps) with numpy's linear percentiles; core 0.11 ignores eps."""
    x = np.random.default_rng(3).random((1, 2, 30, 30)).astype(np.float32)  # range ~1, so eps=0.1 matters
    out = _run(x, _p("scale_range", axes=["y", "x"], min_percentile=2, max_percentile=98, eps=eps))
    lo, hi = np.percentile(x.astype(np.float64), [2, 98], axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(out, (x - lo) / (hi - lo + eps), rtol=1e-6, atol=1e-6)
    if eps > 0.01:
        default = _run(x, _p("scale_range", axes=["y", "x"], min_percentile=2, max_percentile=98))
        assert np.abs(default - out).max() > 0.05


def test_scale_range_defaults_to_min_max_over_all_axes() -> None:
    x = _rand((2, 3, 7, 9), seed=4)
    out = _run(x, _p("scale_range"))
    np.testing.assert_allclose(out, (x - x.min()) / (x.max() - x.min() + 1e-6), rtol=1e-6, atol=1e-7)


def test_fixed_zero_mean_unit_variance_along_axis() -> None:
    x = _rand((1, 5, 6, 3), seed=5)
    mean, std = [1.0, 2.0, 3.0], [2.0, 4.0, 8.0]
    out = _run(x, _p("fixed_zero_mean_unit_variance", mean=mean, std=std, axis="channel"), axes=BYXC)
    expected = (x - np.array(mean)) / (np.array(std) + 1e-6)
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_scale_linear_along_axis_and_scalar() -> None:
    x = _rand((2, 3, 4, 5), seed=6)
    out = _run(x, _p("scale_linear", gain=[1.0, 2.0, 3.0], offset=-1.0, axis="channel"))
    np.testing.assert_allclose(out, x * np.array([1.0, 2.0, 3.0])[:, None, None] - 1.0, rtol=1e-6)
    out = _run(x, _p("scale_linear", gain=0.5))
    np.testing.assert_allclose(out, x * 0.5, rtol=1e-7)


# ---- binarize along an axis (bioimageio.core 0.11 fails to broadcast the threshold list) ----


@pytest.mark.parametrize(("axes", "shape"), [(BCYX, (2, 3, 5, 6)), (BYXC, (1, 5, 6, 3))])
def test_binarize_per_channel_threshold(axes, shape) -> None:
    x = _rand(shape, seed=7)
    thresholds = [10.0, 40.0, 70.0]
    out = _run(x, _p("binarize", threshold=thresholds, axis="channel"), axes=axes)
    assert out.dtype == np.bool_
    c = axes.index("channel")
    for i, t in enumerate(thresholds):
        np.testing.assert_array_equal(np.take(out, i, axis=c), np.take(x, i, axis=c) > t)


def test_binarize_float32_threshold_compares_in_input_precision() -> None:
    """A float32 value equal to float32(threshold) is not above it, for scalar and per-axis thresholds."""
    x = np.array([[[[0.1, 0.2]]]], dtype=np.float32)
    scalar = _run(x, _p("binarize", threshold=0.1))
    listed = _run(x, _p("binarize", threshold=[0.1], axis="channel"))
    np.testing.assert_array_equal(scalar, [[[[False, True]]]])
    np.testing.assert_array_equal(listed, scalar)


def test_binarize_threshold_count_must_match_axis() -> None:
    x = _rand((1, 3, 4, 4))
    with pytest.raises(ProcessingError, match=r"'threshold' has 2 values but axis 'channel' has size 3"):
        _run(x, _p("binarize", threshold=[1.0, 2.0], axis="channel"))


# ---- clip ----


def test_clip_percentiles_per_sample_use_inverted_cdf() -> None:
    x = _rand((2, 2, 11, 13), seed=8)
    out = _run(x, _p("clip", min_percentile=5, max_percentile=95, axes=["y", "x"]))
    lo, hi = np.quantile(x, [0.05, 0.95], axis=(2, 3), keepdims=True, method="inverted_cdf")
    np.testing.assert_array_equal(out, np.clip(x, lo, hi))


def test_clip_percentiles_dataset_mode_use_linear() -> None:
    x = _rand((2, 2, 11, 13), seed=9)
    out = _run(x, _p("clip", max_percentile=90, axes=["batch", "y", "x"]))
    hi = np.quantile(x.astype(np.float64), 0.9, axis=(0, 2, 3), keepdims=True, method="linear")
    np.testing.assert_allclose(out, np.minimum(x, hi), rtol=1e-7)


def test_clip_min_must_be_below_max() -> None:
    with pytest.raises(ProcessingError, match="expected min < max"):
        _run(_rand((1, 1, 2, 2)), _p("clip", min=2.0, max=1.0))


# ---- reference tensors ----


def test_scale_range_reference_tensor_with_other_axis_order() -> None:
    """Percentiles of a reference tensor stored as byxc are applied per channel of a bcyx tensor."""
    x = _rand((1, 3, 8, 9), seed=10)
    ref = _rand((1, 8, 9, 3), seed=11) * 3
    out = _run(x, _p("scale_range", axes=["y", "x"], reference_tensor="ref"), sample={"ref": (ref, BYXC)})
    lo = ref.min(axis=(1, 2)).reshape(1, 3, 1, 1)
    hi = ref.max(axis=(1, 2)).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(out, (x - lo) / (hi - lo + 1e-6), rtol=1e-6, atol=1e-6)


def test_scale_mean_variance_matches_reference() -> None:
    """Output mean/std per channel equal the reference's, also when the reference is stored as byxc."""
    x = _rand((1, 2, 16, 16), seed=12)
    ref = _rand((1, 16, 16, 2), seed=13) * np.array([0.5, 3.0]) + np.array([7.0, -2.0])
    step = _p("scale_mean_variance", axes=["y", "x"], reference_tensor="in")
    out = _run(x, step, sample={"in": (ref, BYXC)})
    np.testing.assert_allclose(out.mean(axis=(2, 3)), ref.mean(axis=(1, 2)), rtol=1e-5)
    np.testing.assert_allclose(out.std(axis=(2, 3)), ref.std(axis=(1, 2)), rtol=1e-4)


def test_missing_reference_tensor_is_named() -> None:
    with pytest.raises(ProcessingError, match=r"tensor 'raw': scale_range: reference_tensor 'ref' is not in"):
        _run(_rand((1, 1, 4, 4)), _p("scale_range", reference_tensor="ref"))


# ---- dataset statistics ----


def test_dataset_stats_replace_sample_stats_in_dataset_mode() -> None:
    x = _rand((1, 2, 6, 6), seed=14)
    stats = {"raw": {"mean": 3.0, "std": 2.0}}
    out = _run(x, _p("zero_mean_unit_variance"), dataset_stats=stats)
    np.testing.assert_allclose(out, (x - 3.0) / (2.0 + 1e-6), rtol=1e-6)
    per_channel = {"raw": {"mean": np.array([1.0, 2.0]).reshape(1, 2, 1, 1), "var": 16.0}}
    out = _run(x, _p("zero_mean_unit_variance", axes=["batch", "y", "x"]), dataset_stats=per_channel)
    np.testing.assert_allclose(out, (x - per_channel["raw"]["mean"]) / (4.0 + 1e-6), rtol=1e-6)


def test_dataset_stats_ignored_for_per_sample_axes() -> None:
    """axes without 'batch' mean per-sample statistics (as in bioimageio.core), whatever dataset_stats say."""
    x = _rand((1, 2, 6, 6), seed=15)
    step = _p("zero_mean_unit_variance", axes=["y", "x"])
    np.testing.assert_array_equal(_run(x, step, dataset_stats={"raw": {"mean": 3.0, "std": 2.0}}), _run(x, step))


def test_dataset_percentiles_by_key() -> None:
    x = _rand((1, 1, 6, 6), seed=16)
    stats = {"raw": {percentile_key(1.5): -1.0, "percentile_99.80": 9.0}}
    out = _run(x, _p("scale_range", min_percentile=1.5, max_percentile=99.8, eps=0.5), dataset_stats=stats)
    np.testing.assert_allclose(out, (x + 1.0) / 10.5, rtol=1e-6)


def test_dataset_statistics_helper_matches_per_sample_stats_of_joined_samples() -> None:
    a, b = _rand((1, 2, 5, 5), seed=17), _rand((1, 2, 5, 5), seed=18)
    stats = dataset_statistics([a, b], axes=BCYX, reduce=["y", "x"], percentiles=(1, 99.5))
    assert set(stats) == {"mean", "std", "var", "percentile_1", "percentile_99.5"}
    joined = np.concatenate([a, b]).astype(np.float64)
    np.testing.assert_allclose(stats["mean"], joined.mean(axis=(0, 2, 3), keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(stats["std"], joined.std(axis=(0, 2, 3), keepdims=True), rtol=1e-6)
    out = _run(
        a,
        _p("scale_range", axes=["batch", "y", "x"], max_percentile=99.5, min_percentile=1),
        dataset_stats={"raw": stats},
    )
    lo, hi = np.percentile(joined, [1, 99.5], axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(out, (a - lo) / (hi - lo + 1e-6), rtol=1e-6, atol=1e-6)


def test_badly_shaped_dataset_stats() -> None:
    with pytest.raises(ProcessingError, match=r"dataset_stats\['raw'\]\['mean'\] has shape \(3,\)"):
        _run(
            _rand((1, 2, 3, 3)),
            _p("zero_mean_unit_variance"),
            dataset_stats={"raw": {"mean": [1, 2, 3], "std": 1}},
        )


# ---- dtype rule, ensure_dtype ----


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        ("uint8", "float32"),
        ("int16", "float32"),
        ("uint16", "float32"),
        ("int64", "float32"),
        ("bool", "float32"),
        ("float16", "float32"),
        ("float32", "float32"),
        ("float64", "float64"),
    ],
)
def test_output_float_type_rule(dtype: str, expected: str) -> None:
    x = (np.arange(24).reshape(1, 2, 3, 4) % 5).astype(dtype)
    assert supported_float_type(dtype) == np.dtype(expected)
    for step in (
        _p("scale_linear", gain=2.0),
        _p("zero_mean_unit_variance"),
        _p("scale_range"),
        _p("sigmoid"),
        _p("softmax"),
        _p("clip", max=3.0),
        _p("fixed_zero_mean_unit_variance", mean=1.0, std=2.0),
    ):
        assert _run(x, step).dtype == np.dtype(expected), step.id
    assert _run(x, _p("binarize", threshold=2)).dtype == np.bool_
    assert _run(x, _p("scale_linear", gain=2.0), _p("ensure_dtype", dtype="int16")).dtype == np.int16


def test_ensure_dtype_truncates_and_saturates() -> None:
    """In-range values truncate toward zero (like astype, as core does); out of range saturate; NaN -> 0."""
    x = np.array([[-5.0, -0.7, 0.7, 12.9, 254.99, 300.7, np.nan, np.inf]], dtype=np.float32)
    np.testing.assert_array_equal(
        _run(x, _p("ensure_dtype", dtype="uint8"), axes=("y", "x")), [[0, 0, 0, 12, 254, 255, 0, 255]]
    )
    big = np.array([3e9, -3e9, 5.5], dtype=np.float32)
    np.testing.assert_array_equal(
        _run(big, _p("ensure_dtype", dtype="int32"), axes=("x",)), [2147483520, -2147483648, 5]
    )
    ints = np.array([-300, -1, 7, 70000], dtype=np.int32)
    np.testing.assert_array_equal(_run(ints, _p("ensure_dtype", dtype="uint16"), axes=("x",)), [0, 0, 7, 65535])
    half = np.array([np.nan, -np.inf, 65504.0, -3.5], dtype=np.float16)
    np.testing.assert_array_equal(_run(half, _p("ensure_dtype", dtype="int32"), axes=("x",)), [0, -65504, 65504, -3])
    u64 = np.array([2**63 + 5], dtype=np.uint64)
    assert _run(u64, _p("ensure_dtype", dtype="int64"), axes=("x",))[0] == 2**63 - 1


def test_ensure_dtype_same_dtype_is_no_copy_and_other_is_copy() -> None:
    x = _rand((1, 1, 3, 3))
    assert _run(x, _p("ensure_dtype", dtype="float32")) is x
    y = _run(x, _p("ensure_dtype", dtype="float64"))
    assert y.dtype == np.float64 and not np.shares_memory(x, y)


def test_sigmoid_and_softmax_extremes_without_warnings() -> None:
    x = np.array([[-1000.0, -20.0, 0.0, 20.0, 1000.0]], dtype=np.float32)
    expected = [[0.0, 2.0611536e-09, 0.5, 1.0 - 2.0611536e-09, 1.0]]
    np.testing.assert_allclose(_run(x, _p("sigmoid"), axes=("y", "x")), expected, rtol=1e-6, atol=1e-30)
    out = _run(x.reshape(1, 5, 1, 1) * [1, 2], _p("softmax", axis="channel"))
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)
    assert out[0, 4, 0, 0] == 1.0


# ---- the caller's arrays are never written; chains equal step-by-step application ----

CHAIN = [
    _p("scale_linear", gain=2.0, offset=1.0),
    _p("clip", min_percentile=1.0, max_percentile=99.0, axes=["y", "x"]),
    _p("zero_mean_unit_variance", axes=["channel", "y", "x"]),
    _p("fixed_zero_mean_unit_variance", mean=[0.1, 0.2], std=[1.5, 2.5], axis="channel"),
    _p("scale_range", axes=["y", "x"], min_percentile=2.0, reference_tensor="ref"),
    _p("scale_mean_variance", reference_tensor="ref", axes=["y", "x"]),
    _p("sigmoid"),
    _p("softmax", axis="channel"),
    _p("binarize", threshold=[0.4, 0.6], axis="channel"),
    _p("ensure_dtype", dtype="uint8"),
]


@pytest.mark.parametrize("dtype", ["float32", "float64", "uint8"])
def test_inputs_untouched_and_chain_equals_single_steps(dtype: str) -> None:
    x = (_rand((2, 2, 9, 11), seed=20) + 20).astype(dtype)
    ref = _rand((2, 2, 9, 11), seed=21)
    x0, ref0 = x.copy(), ref.copy()
    sample = {"ref": (ref, BCYX)}
    chained = _run(x, *CHAIN, sample=sample)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(ref, ref0)
    for n in range(1, len(CHAIN)):
        stepwise = x
        for step in CHAIN[:n]:
            stepwise = _run(stepwise, step, sample=sample)
        np.testing.assert_array_equal(_run(x, *CHAIN[:n], sample=sample), stepwise, err_msg=CHAIN[n - 1].id)
        np.testing.assert_array_equal(x, x0)
    assert chained.dtype == np.uint8 and set(np.unique(chained)) <= {0, 1}


# ---- errors ----


def test_unknown_op_names_op_and_tensor() -> None:
    with pytest.raises(UnsupportedOpError) as info:
        _run(_rand((1, 1, 2, 2)), _p("scale_linear", gain=2.0), _p("stardist_postprocessing", ndim=2))
    msg = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "'stardist_postprocessing'" in msg and "'raw'" in msg and "\n" not in msg
    assert "stardist_postprocessing" not in SUPPORTED_OPS


@pytest.mark.parametrize(
    ("step", "match"),
    [
        (
            _p("softmax", axis="time"),
            r"tensor 'raw': softmax: kwargs axis 'time' is not an axis of the tensor",
        ),
        (_p("zero_mean_unit_variance", axes=["z", "y"]), r"kwargs axes entry 'z' is not an axis"),
        (_p("binarize"), r"binarize: missing kwarg 'threshold'"),
        (_p("scale_linear", gain=[1.0, 2.0]), r"'gain' is a list of 2 values but no kwarg 'axis'"),
        (_p("ensure_dtype", dtype="complex64"), r"must be a bool, integer or float type"),
        (_p("ensure_dtype", dtype="float33"), r"'float33' is not a numpy dtype"),
        (_p("scale_range", min_percentile=50, max_percentile=50), r"min_percentile < max_percentile"),
        (_p("clip", min=0.0, min_percentile=1.0), r"give only one of 'min' and 'min_percentile'"),
        (_p("zero_mean_unit_variance", eps=0.0), r"'eps' must be > 0"),
    ],
)
def test_bad_kwargs(step: Processing, match: str) -> None:
    with pytest.raises(ProcessingError, match=match):
        _run(_rand((1, 2, 3, 3)), step)


def test_missing_batch_axis_is_one_sample_and_axes_must_match_ndim() -> None:
    x = _rand((5, 6), seed=22)
    out = apply_processing(x, [_p("zero_mean_unit_variance", axes=["batch", "y", "x"])], axes=("y", "x"))
    np.testing.assert_allclose(out, (x - x.mean()) / (x.std() + 1e-6), rtol=1e-5, atol=1e-6)
    with pytest.raises(ProcessingError, match=r"array has 2 dimensions but axes are \('x',\)"):
        apply_processing(x, [], axes=("x",))


def test_steps_as_mappings() -> None:
    x = _rand((1, 1, 3, 3))
    out = apply_processing(x, [{"id": "scale_linear", "kwargs": {"gain": 3.0}}, {"id": "sigmoid"}], axes=BCYX)
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-3.0 * x.astype(float))), rtol=1e-6)


def test_stats_source_unprocessed_uses_statistics_before_the_first_step() -> None:
    x = _rand((1, 2, 8, 8), seed=23)
    steps = [_p("scale_linear", gain=2.0, offset=5.0), _p("zero_mean_unit_variance", axes=["y", "x"])]
    x64 = x.astype(np.float64)
    mean, std = x64.mean(axis=(2, 3), keepdims=True), x64.std(axis=(2, 3), keepdims=True)
    out = _run(x, *steps, stats_source="unprocessed")
    np.testing.assert_allclose(out, (2 * x64 + 5 - mean) / (std + 1e-6), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_run(x, *steps), (x64 - mean) / (std + 0.5e-6), rtol=1e-5, atol=1e-5)
    with pytest.raises(ProcessingError, match="stats_source must be"):
        _run(x, *steps, stats_source="raw")


def test_percentiles_skip_nan_like_xarray() -> None:
    x = np.array([[np.nan, 0.0, 1.0, 2.0, 4.0]], dtype=np.float32)
    out = _run(x, _p("scale_range", axes=["x"]), axes=("y", "x"))
    np.testing.assert_allclose(out, [[np.nan, 0.0, 0.25, 0.5, 1.0]], rtol=1e-6)
