"""pyapp.ops against bioimageio.core 0.11's own operators, op by op, on seeded random data.

bioimageio.core is imported inside a fixture (skipped with a reason where it is absent, as in Pyodide).
Cases use the default eps: core 0.11 ignores the kwargs ``eps`` of ``scale_range`` and
``zero_mean_unit_variance`` (always 1e-6); tests/test_ops.py checks our eps handling against numpy formulas.
Per-axis ``binarize`` is not compared: core 0.11 raises a broadcasting ValueError there.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from pyapp.ops import apply_processing
from pyapp.spec.model import Processing

CoreApply = Callable[..., np.ndarray]

SHAPES = {
    "yx": (37, 41),
    "bcyx": (2, 3, 23, 29),
    "byxc": (1, 19, 31, 3),
    "bczyx": (1, 2, 5, 13, 17),
    "cyx": (4, 16, 16),
}
AXES = {
    "yx": ("y", "x"),
    "bcyx": ("batch", "channel", "y", "x"),
    "byxc": ("batch", "y", "x", "channel"),
    "bczyx": ("batch", "channel", "z", "y", "x"),
    "cyx": ("channel", "y", "x"),
}


@pytest.fixture(scope="module")
def core_apply() -> CoreApply:
    """Run one 0.5 processing step through bioimageio.core's operator classes on a one-sample Sample."""
    pytest.importorskip("bioimageio.core", reason="bioimageio.core is not installed (e.g. inside Pyodide)")
    from bioimageio.core import Sample, Tensor, proc_ops
    from bioimageio.core.common import MemberId
    from bioimageio.core.stat_calculators import compute_measures
    from bioimageio.spec.model import v0_5
    from pydantic import TypeAdapter

    adapter = TypeAdapter(v0_5.PostprocessingDescr)
    classes = {
        "binarize": proc_ops.Binarize,
        "clip": proc_ops.Clip,
        "ensure_dtype": proc_ops.EnsureDtype,
        "fixed_zero_mean_unit_variance": proc_ops.FixedZeroMeanUnitVariance,
        "scale_linear": proc_ops.ScaleLinear,
        "scale_mean_variance": proc_ops.ScaleMeanVariance,
        "scale_range": proc_ops.ScaleRange,
        "sigmoid": proc_ops.Sigmoid,
        "softmax": proc_ops.Softmax,
        "zero_mean_unit_variance": proc_ops.ZeroMeanUnitVariance,
    }

    def run(steps: dict[str, Any] | list[dict[str, Any]], x: np.ndarray, axes, others=None) -> np.ndarray:
        """Apply one step or a chain; like core's pipeline, a chain's statistics come from the raw sample."""
        mid = MemberId("t")
        ops = []
        for step in [steps] if isinstance(steps, dict) else steps:
            data = step if step.get("kwargs") or step["id"] != "sigmoid" else {"id": "sigmoid"}
            ops.append(classes[step["id"]].from_proc_descr(adapter.validate_python(data), mid))
        members = {mid: Tensor(x, dims=axes)}
        for name, (arr, arr_axes) in (others or {}).items():
            members[MemberId(name)] = Tensor(arr, dims=arr_axes)
        sample = Sample(members=members, stat={}, id=None)
        with warnings.catch_warnings():
            # core warns that dataset percentiles of one sample are "naively" averaged
            warnings.simplefilter("ignore")
            sample.stat.update(compute_measures({m for op in ops for m in op.required_measures}, [sample]))
            for op in ops:
                op(sample)
        return np.asarray(sample.members[mid].data)

    return run


def _data(layout: str, dtype: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = SHAPES[layout]
    if dtype == "uint8":
        return rng.integers(0, 256, size=shape, dtype=np.uint8)
    if dtype == "uint16":
        return rng.integers(0, 4000, size=shape, dtype=np.uint16)
    return (rng.gamma(2.0, 30.0, size=shape) - 20).astype(dtype)


CASES = [
    ("binarize", {"threshold": 40.0}, "yx", "float32"),
    ("binarize", {"threshold": 100.5}, "bcyx", "uint8"),
    ("clip", {"min": 0.0, "max": 60.0}, "bcyx", "float32"),
    ("clip", {"max": 100.0}, "yx", "uint16"),
    ("clip", {"min_percentile": 5.0, "max_percentile": 95.0, "axes": ["y", "x"]}, "bcyx", "float32"),
    ("clip", {"min_percentile": 2.0, "max_percentile": 99.0, "axes": ["z", "y", "x"]}, "bczyx", "float64"),
    ("clip", {"min_percentile": 10.0, "max_percentile": 90.0}, "byxc", "float32"),
    ("clip", {"max_percentile": 99.5, "axes": ["batch", "y", "x"]}, "bcyx", "uint8"),
    ("ensure_dtype", {"dtype": "float64"}, "bcyx", "float32"),
    ("ensure_dtype", {"dtype": "float32"}, "yx", "uint8"),
    ("ensure_dtype", {"dtype": "int32"}, "byxc", "float32"),
    ("ensure_dtype", {"dtype": "bool"}, "yx", "float32"),
    ("fixed_zero_mean_unit_variance", {"mean": 12.5, "std": 3.25}, "yx", "float32"),
    (
        "fixed_zero_mean_unit_variance",
        {"mean": [1.0, 2.0, 3.0], "std": [4.0, 5.0, 6.0], "axis": "channel"},
        "bcyx",
        "uint8",
    ),
    (
        "fixed_zero_mean_unit_variance",
        {"mean": [1.0, 20.0, 3.0], "std": [0.5, 5.0, 6.0], "axis": "channel"},
        "byxc",
        "float32",
    ),
    ("scale_linear", {"gain": 2.5, "offset": -3.0}, "yx", "float32"),
    ("scale_linear", {"gain": 0.003}, "bcyx", "uint16"),
    (
        "scale_linear",
        {"gain": [1.0, 2.0, 0.5], "offset": [0.0, 1.0, -1.0], "axis": "channel"},
        "bcyx",
        "float32",
    ),
    ("scale_linear", {"gain": [2.0, 0.5, 3.0], "offset": 1.0, "axis": "channel"}, "byxc", "float64"),
    ("scale_linear", {"gain": 2.0, "offset": [1.0, -1.0], "axis": "channel"}, "bczyx", "float32"),
    ("scale_range", {"axes": ["y", "x"], "min_percentile": 1.0, "max_percentile": 99.8}, "bcyx", "float32"),
    ("scale_range", {"axes": ["y", "x"], "min_percentile": 3.0, "max_percentile": 97.0}, "yx", "uint8"),
    ("scale_range", {}, "bczyx", "float32"),
    ("scale_range", {"axes": ["batch", "x", "y"], "max_percentile": 99.0}, "byxc", "float32"),
    ("scale_range", {"axes": ["channel", "z", "y", "x"], "min_percentile": 0.5}, "bczyx", "float64"),
    ("sigmoid", {}, "bcyx", "float32"),
    ("sigmoid", {}, "yx", "float64"),
    ("softmax", {"axis": "channel"}, "bcyx", "float32"),
    ("softmax", {}, "byxc", "float32"),
    ("softmax", {"axis": "x"}, "cyx", "float64"),
    ("zero_mean_unit_variance", {}, "bcyx", "float32"),
    ("zero_mean_unit_variance", {"axes": ["y", "x"]}, "bcyx", "uint8"),
    ("zero_mean_unit_variance", {"axes": ["batch", "y", "x"]}, "byxc", "float32"),
    ("zero_mean_unit_variance", {"axes": ["channel", "z", "y", "x"]}, "bczyx", "float64"),
    ("zero_mean_unit_variance", {"axes": ["x"]}, "yx", "float32"),
]


@pytest.mark.parametrize(("op_id", "kwargs", "layout", "dtype"), CASES)
def test_matches_core(core_apply: CoreApply, op_id: str, kwargs: dict, layout: str, dtype: str) -> None:
    """Our op equals bioimageio.core's within 1e-6 (relative and absolute), bool/int results exactly."""
    x = _data(layout, dtype, seed=len(op_id) * 7 + len(layout))
    if op_id in ("sigmoid", "softmax"):
        x = (x / 20).astype(dtype)
    ours = apply_processing(x, [Processing(op_id, kwargs)], axes=AXES[layout], tensor_id="t")
    theirs = core_apply({"id": op_id, "kwargs": kwargs}, x, AXES[layout])
    assert ours.shape == theirs.shape
    if theirs.dtype.kind in "biu":
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)
    else:
        assert ours.dtype.kind == "f"
        _assert_close(ours, theirs)


def _assert_close(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Equal within 1e-6 relative, or 1e-6 of the output's largest magnitude (float32 rounding at 400 is
    about 3e-5, so a purely relative bound would test float32 against core's float64 arithmetic)."""
    scale = max(1.0, float(np.max(np.abs(theirs))))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6 * scale)


@pytest.mark.parametrize(
    ("op_id", "kwargs"),
    [
        ("scale_range", {"axes": ["y", "x"], "min_percentile": 2.0, "max_percentile": 98.0}),
        ("scale_range", {"min_percentile": 5.0}),
        ("scale_mean_variance", {"axes": ["y", "x"]}),
        ("scale_mean_variance", {}),
        ("scale_mean_variance", {"axes": ["channel", "y", "x"], "eps": 0.01}),
    ],
)
def test_reference_tensor_matches_core(core_apply: CoreApply, op_id: str, kwargs: dict) -> None:
    """Statistics come from the reference tensor named in kwargs, as in bioimageio.core."""
    axes = AXES["bcyx"]
    x = _data("bcyx", "float32", seed=3)
    ref = _data("bcyx", "uint16", seed=4)
    kwargs = {**kwargs, "reference_tensor": "ref"}
    ours = apply_processing(
        x, [Processing(op_id, kwargs)], axes=axes, tensor_id="t", sample={"ref": (ref, axes), "t": (x, axes)}
    )
    theirs = core_apply({"id": op_id, "kwargs": kwargs}, x, axes, others={"ref": (ref, axes)})
    _assert_close(ours, theirs)


def test_chain_matches_core_step_by_step(core_apply: CoreApply) -> None:
    """A typical input chain (scale_range, clip, ensure_dtype) equals core applied step after step."""
    axes = AXES["bcyx"]
    x = _data("bcyx", "uint16", seed=11)
    steps = [
        {"id": "scale_range", "kwargs": {"axes": ["y", "x"], "min_percentile": 1.0, "max_percentile": 99.0}},
        {"id": "clip", "kwargs": {"min": 0.0, "max": 1.0}},
        {"id": "scale_linear", "kwargs": {"gain": 255.0}},
        {"id": "ensure_dtype", "kwargs": {"dtype": "uint8"}},
    ]
    ours = apply_processing(x, [Processing(s["id"], s["kwargs"]) for s in steps], axes=axes, tensor_id="t")
    theirs = x
    for step in steps:
        theirs = core_apply(step, theirs, axes)
    assert ours.dtype == theirs.dtype == np.uint8
    # float32 vs core's float64 rounding may move a value across an integer boundary
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1
    assert np.mean(ours != theirs) < 1e-3


def test_chain_statistics_source(core_apply: CoreApply) -> None:
    """Core 0.11 takes all statistics from the unprocessed tensor, before the first step.

    ``stats_source="unprocessed"`` reproduces that; the default ("step") takes them from each step's input,
    which differs when a value-changing step precedes a statistics step.
    """
    axes = AXES["bcyx"]
    x = _data("bcyx", "float32", seed=12)
    steps = [
        {"id": "scale_linear", "kwargs": {"gain": 2.0, "offset": 5.0}},
        {"id": "zero_mean_unit_variance", "kwargs": {"axes": ["y", "x"]}},
        {"id": "clip", "kwargs": {"min_percentile": 5.0, "max_percentile": 95.0, "axes": ["y", "x"]}},
    ]
    procs = [Processing(s["id"], s["kwargs"]) for s in steps]
    theirs = core_apply(steps, x, axes)
    like_core = apply_processing(x, procs, axes=axes, tensor_id="t", stats_source="unprocessed")
    _assert_close(like_core, theirs)
    per_step = apply_processing(x, procs, axes=axes, tensor_id="t")
    assert np.abs(per_step - theirs).max() > 1.0
    step_by_step = x
    for step in steps:
        step_by_step = core_apply(step, step_by_step, axes)
    _assert_close(per_step, step_by_step)
