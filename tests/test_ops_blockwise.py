"""Blockwise processing: statistics fixed from the whole tensor, elementwise steps applied block by block.

The reference is ``apply_processing`` on the whole tensor (itself checked against bioimageio.core in
test_ops_vs_core.py): every block processed on its own must equal the same region of the whole result.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pyapp.ops import ProcessingError, UnsupportedOpError, apply_processing, plan_blockwise
from pyapp.spec.model import Processing as P

AXES = ("batch", "channel", "y", "x")
SHAPE = (1, 2, 37, 41)


def _raw(dtype: str = "uint16") -> np.ndarray:
    rng = np.random.default_rng(7)
    if dtype == "float32":
        return (rng.standard_normal(SHAPE) * 40 + 100).astype(np.float32)
    return rng.integers(0, 4000, SHAPE).astype(dtype)


def _regions(shape: tuple[int, ...]) -> list[tuple[slice, ...]]:
    """Blocks that split y and x unevenly (as tiles do) and keep batch and channel whole."""
    ys = [slice(0, 16), slice(16, 30), slice(30, shape[2])]
    xs = [slice(0, 9), slice(9, shape[3])]
    return [(slice(None), slice(None), y, x) for y, x in itertools.product(ys, xs)]


def _check(raw: np.ndarray, steps, **kwargs) -> None:
    whole = apply_processing(raw, steps, axes=AXES, tensor_id="raw", **kwargs)
    plan = plan_blockwise(raw.shape, steps, axes=AXES, tensor_id="raw", array=raw, **kwargs)
    assert plan is not None
    for region in _regions(raw.shape):
        block = plan(raw[region], region)
        assert block.dtype == whole.dtype
        np.testing.assert_allclose(block, whole[region], rtol=2e-6, atol=2e-6)


CHAINS = {
    "zero_mean_unit_variance": [P("zero_mean_unit_variance", {"axes": ["y", "x"]})],
    "zmuv all axes": [P("zero_mean_unit_variance", {})],
    "zmuv stats vary along y": [P("zero_mean_unit_variance", {"axes": ["x"]})],
    "cast then zmuv": [P("ensure_dtype", {"dtype": "float32"}), P("zero_mean_unit_variance", {"axes": ["y", "x"]})],
    "scale_range": [P("scale_range", {"axes": ["y", "x"], "min_percentile": 1, "max_percentile": 99.8})],
    "scale_range per x": [P("scale_range", {"axes": ["y"], "max_percentile": 90})],
    "clip percentiles": [P("clip", {"axes": ["y", "x"], "min_percentile": 5, "max_percentile": 95})],
    "clip values": [P("clip", {"min": 100, "max": 3000})],
    "scale_linear per channel": [P("scale_linear", {"axis": "channel", "gain": [2.0, 0.5], "offset": [1, -1]})],
    "scale_linear per x": [P("scale_linear", {"axis": "x", "gain": list(range(1, 42))})],
    "fixed zmuv": [P("fixed_zero_mean_unit_variance", {"mean": 1000.0, "std": 300.0})],
    "zmuv then sigmoid then binarize": [P("zero_mean_unit_variance", {"axes": ["y", "x"]}), P("sigmoid", {}),
                                        P("binarize", {"threshold": 0.5})],
    "zmuv then cast to uint8": [P("zero_mean_unit_variance", {}), P("ensure_dtype", {"dtype": "uint8"})],
    "softmax over channels": [P("scale_linear", {"gain": 0.001}), P("softmax", {"axis": "channel"})],
    "scale_mean_variance to itself": [P("scale_mean_variance", {"reference_tensor": "raw", "axes": ["y", "x"]})],
}


@pytest.mark.parametrize("name", CHAINS)
def test_blocks_equal_the_whole_tensor_processed_at_once(name):
    _check(_raw(), CHAINS[name])


@pytest.mark.parametrize("dtype", ["uint8", "int16", "float32"])
def test_other_input_types(dtype):
    _check(_raw(dtype), CHAINS["zero_mean_unit_variance"] + CHAINS["clip values"])


def test_statistics_of_another_tensor_in_the_sample():
    raw, other = _raw(), _raw("float32")
    sample = {"raw": (raw, AXES), "other": (other, AXES)}
    steps = [P("scale_range", {"axes": ["y", "x"], "reference_tensor": "other", "max_percentile": 99})]
    _check(raw, steps, sample=sample)


def test_dataset_statistics_are_used_as_the_whole_tensor_ones_are():
    stats = {"raw": {"mean": 1000.0, "std": 250.0, "percentile_99": 3500.0, "percentile_0": 0.0}}
    _check(_raw(), [P("zero_mean_unit_variance", {"axes": ["batch", "y", "x"]})], dataset_stats=stats)
    _check(_raw(), [P("scale_range", {"max_percentile": 99})], dataset_stats=stats)


def test_statistics_of_a_changed_tensor_cannot_be_planned_blockwise():
    # zmuv's statistics are those of the scaled tensor, which exists only as a whole: not planned
    steps = [P("scale_linear", {"gain": 2.0, "offset": 3.0}), P("zero_mean_unit_variance", {})]
    assert plan_blockwise(SHAPE, steps, axes=AXES, tensor_id="raw", array=_raw()) is None


def test_a_lossy_cast_before_statistics_cannot_be_planned_blockwise():
    steps = [P("ensure_dtype", {"dtype": "uint8"}), P("zero_mean_unit_variance", {})]
    assert plan_blockwise(SHAPE, steps, axes=AXES, tensor_id="raw", array=_raw()) is None


def test_without_the_tensor_only_steps_without_its_statistics_are_planned():
    # outputs: their whole tensor does not exist before the blocks run
    elementwise = [P("sigmoid", {}), P("binarize", {"threshold": 0.5})]
    assert plan_blockwise(SHAPE, elementwise, axes=AXES, tensor_id="out") is not None
    needs_stats = [P("scale_range", {"axes": ["y", "x"]})]
    assert plan_blockwise(SHAPE, needs_stats, axes=AXES, tensor_id="out") is None


def test_an_output_scaled_by_an_input_is_planned_from_that_input():
    raw = _raw()
    out = _raw("float32")
    steps = [P("scale_range", {"axes": ["y", "x"], "reference_tensor": "raw", "max_percentile": 99.8})]
    sample = {"raw": (raw, AXES)}
    whole = apply_processing(out, steps, axes=AXES, tensor_id="out", sample=sample)
    plan = plan_blockwise(out.shape, steps, axes=AXES, tensor_id="out", sample=sample)
    assert plan is not None
    for region in _regions(out.shape):
        np.testing.assert_allclose(plan(out[region], region), whole[region], rtol=2e-6)


def test_no_steps_and_same_type_casts_return_the_block_itself():
    raw = _raw()
    plan = plan_blockwise(SHAPE, [P("ensure_dtype", {"dtype": "uint16"})], axes=AXES, tensor_id="raw", array=raw)
    region = _regions(SHAPE)[0]
    block = raw[region]
    assert plan(block, region) is block


def test_bad_steps_fail_when_planned_with_the_messages_of_apply_processing():
    with pytest.raises(UnsupportedOpError, match="unsupported processing op 'nope'"):
        plan_blockwise(SHAPE, [P("nope", {})], axes=AXES, tensor_id="raw", array=_raw())
    with pytest.raises(ProcessingError, match="min_percentile < max_percentile"):
        plan_blockwise(SHAPE, [P("scale_range", {"min_percentile": 50, "max_percentile": 10})], axes=AXES,
                       tensor_id="raw", array=_raw())
    with pytest.raises(ProcessingError, match="has 3 values but axis 'channel' has size 2"):
        plan_blockwise(SHAPE, [P("scale_linear", {"axis": "channel", "gain": [1, 2, 3]})], axes=AXES,
                       tensor_id="raw", array=_raw())


def test_softmax_needs_its_axis_whole_in_every_block():
    plan = plan_blockwise(SHAPE, [P("softmax", {"axis": "x"})], axes=AXES, tensor_id="raw", array=_raw("float32"))
    region = _regions(SHAPE)[0]
    with pytest.raises(ProcessingError, match="softmax along 'x' needs whole blocks along 'x'"):
        plan(_raw("float32")[region], region)


def test_result_dtype_runs_the_steps_on_one_pixel():
    # a classifier's softmax over 1000 classes: the dtype comes out without a whole block along 'channel'
    plan = plan_blockwise((1, 1000), [P("softmax", {"axis": "channel"}), P("ensure_dtype", {"dtype": "float64"})],
                          axes=("batch", "channel"), tensor_id="probabilities")
    assert plan is not None and plan.result_dtype(np.float32) == np.float64
    scores = np.random.default_rng(0).standard_normal((1, 1000)).astype(np.float32)
    np.testing.assert_allclose(plan(scores, (slice(None), slice(None))).sum(), 1.0, rtol=1e-6)


def test_the_standard_deviation_needs_no_whole_tensor_float_copy():
    import tracemalloc

    raw = np.random.default_rng(0).integers(0, 60000, (1, 1, 2048, 2048)).astype(np.uint16)  # 8 MiB
    tracemalloc.start()
    try:
        plan = plan_blockwise(raw.shape, [P("zero_mean_unit_variance", {})], axes=AXES, tensor_id="raw", array=raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert plan is not None
    # a whole-tensor float32 copy would be 16 MiB: allow a fraction of the uint16 image
    assert peak < 2 * 2**20, f"computing mean and std allocated {peak / 2**20:.1f} MiB (the image is 8 MiB)"
