"""Tests for pyapp.tiling: plan blocks, cut tiles, stitch outputs; fake numpy "models" stand in for backends."""

from __future__ import annotations

import gc
import math
import os
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyapp.spec.model import Axis, DataDependentSize, ModelDescr, ParameterizedSize, SizeReference, Tensor
from pyapp.tiling import (
    TilePlan,
    TilingError,
    allocate_outputs,
    extract,
    output_shapes,
    plan_tiles,
    stitch,
    valid_input_shape,
)

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
SPACE = ("y", "x")


def model_of(inputs, outputs) -> ModelDescr:
    return ModelDescr("m", "test model", "0.5.4", tuple(inputs), tuple(outputs), {})


def channel(n: int) -> Axis:
    return Axis("channel", "channel", channel_names=tuple(f"c{i}" for i in range(n)))


def bcyx(tid: str, sizes, *, channels: int = 1, batch=None, scale: float = 1.0, pad=None) -> Tensor:
    axes = [Axis("batch", "batch", batch), channel(channels)]
    axes += [Axis(a, "space", s, scale=scale) for a, s in zip(SPACE, sizes, strict=True)]
    return Tensor(tid, tuple(axes), pad=pad)


def ref_out(tid: str, ref: str, *, halo: int = 0, a=1, offset: int = 0, channels: int = 1,
            axes=SPACE) -> Tensor:
    """An output following input ``ref`` on ``axes`` with factor ``a`` (input scale 1, output scale 1/a)."""
    out_axes = [Axis("batch", "batch"), channel(channels)]
    out_axes += [Axis(ax, "space", SizeReference(ref, ax, offset), halo=halo, scale=float(1 / Fraction(a)))
                 for ax in axes]
    return Tensor(tid, tuple(out_axes))


def run_tiled(plan: TilePlan, inputs, model_fn, **alloc) -> dict[str, np.ndarray]:
    """The runner's loop: extract -> fake backend -> stitch, over all blocks."""
    outputs = allocate_outputs(plan, dtype=np.float64, **alloc)
    for out in outputs.values():
        out[...] = np.nan
    for block in plan.blocks:
        tiles = extract(plan, block, inputs)
        for tid, arr in tiles.items():
            assert arr.shape == plan.block_shapes[tid]
        stitch(plan, block, model_fn(tiles), outputs)
    return outputs


def transform(x: np.ndarray, a, b: int, axes) -> np.ndarray:
    """A translation-equivariant stand-in for a network: per axis, scale by ``a`` and grow/shrink by ``b``."""
    for ax in axes:
        if a == 2:
            x = np.repeat(x, 2, axis=ax)
        elif a == Fraction(1, 2):
            x = np.take(x, np.arange(0, x.shape[ax] - 1, 2), axis=ax)
        elif b < 0:
            x = np.take(x, np.arange(-b // 2, x.shape[ax] + b - b // 2), axis=ax)
        elif b > 0:
            width = [(0, 0)] * x.ndim
            width[ax] = (b // 2, b - b // 2)
            x = np.pad(x, width, mode="symmetric")
    return x


def box3(x: np.ndarray, axes) -> np.ndarray:
    """A local model: mean over 3 pixels along each of ``axes``, symmetric border."""
    for ax in axes:
        width = [(0, 0)] * x.ndim
        width[ax] = (1, 1)
        p = np.pad(x, width, mode="symmetric")
        n = x.shape[ax]
        x = (np.take(p, range(n), axis=ax) + np.take(p, range(1, n + 1), axis=ax)
             + np.take(p, range(2, n + 2), axis=ax)) / 3
    return x


def image(shape, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape)


def check_valid_block(model: ModelDescr, plan: TilePlan) -> None:
    """Every block shape the model gets is allowed by its description."""
    for t in model.inputs:
        for ax, s in zip(t.axes, plan.block_shapes[t.id], strict=True):
            if isinstance(ax.size, int):
                assert s == ax.size
            elif isinstance(ax.size, ParameterizedSize):
                assert s >= ax.size.min and (s - ax.size.min) % ax.size.step == 0


# ---------------------------------------------------------------------------------------------- properties

SIZE_SPECS = st.one_of(
    st.integers(2, 48),
    st.builds(ParameterizedSize, st.integers(1, 24), st.integers(1, 16)),
)
RELATIONS = st.sampled_from([(1, 0), (1, -2), (1, -4), (1, 2), (2, 0), (Fraction(1, 2), 0)])


def _fits_scale(spec, a) -> bool:
    if a != Fraction(1, 2):
        return True
    if isinstance(spec, int):
        return spec % 2 == 0
    return spec.min % 2 == 0 and spec.step % 2 == 0


@SETTINGS
@given(
    specs=st.tuples(SIZE_SPECS, SIZE_SPECS),
    relation=RELATIONS,
    halo=st.integers(0, 6),
    shape=st.tuples(st.integers(1, 3), st.integers(1, 2), st.integers(1, 70), st.integers(1, 70)),
    how=st.sampled_from(["whole", "tile", "budget"]),
    tile=st.integers(1, 64),
    budget=st.integers(1, 400_000),
)
def test_identity_like_models_reproduce_the_whole_output(specs, relation, halo, shape, how, tile, budget):
    a, b = relation
    if not all(_fits_scale(s, a) for s in specs):
        specs = tuple(s * 2 if isinstance(s, int) else ParameterizedSize(s.min * 2, s.step * 2) for s in specs)
    if b > 0:
        halo = max(halo, 1)
    model = model_of([bcyx("raw", specs, channels=shape[1])],
                     [ref_out("out", "raw", halo=halo, a=a, offset=b, channels=shape[1])])
    kwargs = {"whole": {}, "tile": {"tile": {"y": tile, "x": tile}}, "budget": {"memory_budget": budget}}[how]
    try:
        plan = plan_tiles(model, {"raw": shape}, **kwargs)
    except TilingError as e:  # tile or fixed size too small for the halo, or an output would be empty
        assert any(m in str(e) for m in ("no valid interior", "too small", "fixed size", "no allowed size")), e
        return
    check_valid_block(model, plan)
    x = image(shape)
    got = run_tiled(plan, {"raw": x}, lambda t: {"out": transform(t["raw"], a, b, (2, 3))})
    expected_shape = tuple(output_shapes(model, {"raw": shape})["out"].values())
    assert got["out"].shape == expected_shape == plan.output_shapes["out"]
    want = transform(x, a, b, (2, 3))[tuple(slice(0, n) for n in expected_shape)]
    np.testing.assert_array_equal(got["out"], want)


@SETTINGS
@given(
    spec=SIZE_SPECS,
    halo=st.integers(1, 5),
    shape=st.tuples(st.integers(1, 2), st.integers(1, 60), st.integers(1, 60)),
    tile=st.tuples(st.integers(1, 48), st.integers(1, 48)),
)
def test_local_model_matches_the_untiled_result(spec, halo, shape, tile):
    model = model_of([bcyx("raw", (spec, spec))], [ref_out("out", "raw", halo=halo)])
    try:
        plan = plan_tiles(model, {"raw": (shape[0], 1, *shape[1:])}, tile=dict(zip(SPACE, tile, strict=True)))
    except TilingError as e:
        assert "no valid interior" in str(e), e
        return
    check_valid_block(model, plan)
    x = image((shape[0], 1, *shape[1:]), seed=1)
    got = run_tiled(plan, {"raw": x}, lambda t: {"out": box3(t["raw"], (2, 3))})
    np.testing.assert_allclose(got["out"], box3(x, (2, 3)), rtol=0, atol=1e-12)


@SETTINGS
@given(halo=st.integers(1, 3), shape=st.tuples(*[st.integers(1, 24)] * 3), tile=st.integers(4, 16))
def test_3d_local_model(halo, shape, tile):
    zyx = ("z", "y", "x")
    ipt = Tensor("raw", (Axis("batch", "batch"), channel(1),
                         *(Axis(a, "space", ParameterizedSize(4, 4)) for a in zyx)))
    out = ref_out("out", "raw", halo=halo, axes=zyx)
    model = model_of([ipt], [out])
    x = image((1, 1, *shape), seed=2)
    try:
        plan = plan_tiles(model, {"raw": x.shape}, tile=dict.fromkeys(zyx, tile))
    except TilingError as e:
        assert "no valid interior" in str(e), e
        return
    got = run_tiled(plan, {"raw": x}, lambda t: {"out": box3(t["raw"], (2, 3, 4))})
    np.testing.assert_allclose(got["out"], box3(x, (2, 3, 4)), rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------- examples

def test_image_smaller_than_block_is_padded_and_cropped_back():
    model = model_of([bcyx("raw", (64, ParameterizedSize(32, 32)))], [ref_out("out", "raw", halo=8)])
    plan = plan_tiles(model, {"raw": (1, 1, 10, 20)})
    assert len(plan) == 1
    assert plan.block_shapes["raw"] == (1, 1, 64, 32)
    assert plan.output_shapes["out"] == (1, 1, 10, 20)
    x = image((1, 1, 10, 20))
    np.testing.assert_array_equal(run_tiled(plan, {"raw": x}, lambda t: {"out": t["raw"]})["out"], x)


def test_halo_overlap_and_last_block_shift():
    model = model_of([bcyx("raw", (ParameterizedSize(16, 8), ParameterizedSize(16, 8)))],
                     [ref_out("out", "raw", halo=4)])
    plan = plan_tiles(model, {"raw": (1, 1, 100, 40)}, tile={"y": 32, "x": 32})
    assert plan.grid == {"batch": 1, "raw.y": 5, "raw.x": 2}
    ys = sorted({(b.read["raw"][2].start, b.read["raw"][2].stop, b.pad["raw"][2] if b.pad["raw"] else (0, 0))
                 for b in plan.blocks})
    # first block starts one halo before the image, the last one ends one halo after it
    assert ys[0] == (0, 28, (4, 0))
    assert ys[-1] == (72, 100, (0, 4))
    writes = sorted({b.write["out"][2].start for b in plan.blocks})
    assert writes == [0, 24, 48, 72, 76]  # the later block wins where blocks overlap (as bioimageio.core)


def test_whole_image_by_default_and_valid_input_shape():
    model = model_of([bcyx("raw", (ParameterizedSize(32, 16), 48))], [ref_out("out", "raw")])
    plan = plan_tiles(model, {"raw": (2, 1, 70, 30)})
    assert len(plan) == 1 and plan.block_shapes["raw"] == (2, 1, 80, 48)
    assert valid_input_shape(model, {"raw": (2, 1, 70, 30)}) == {
        "raw": {"batch": 2, "channel": 1, "y": 80, "x": 48}}
    assert valid_input_shape(model, {"raw": {"batch": 1, "channel": 1, "y": 10, "x": 10}})["raw"]["y"] == 32


def test_fixed_size_axis_is_tiled_when_the_image_is_larger():
    model = model_of([bcyx("raw", (32, 32), batch=1)], [ref_out("out", "raw", halo=2)])
    x = image((3, 1, 50, 90))
    plan = plan_tiles(model, {"raw": x.shape}, tile={"y": 8})  # fixed sizes stay fixed
    assert plan.block_shapes["raw"] == (1, 1, 32, 32)
    assert plan.grid["batch"] == 3
    np.testing.assert_allclose(run_tiled(plan, {"raw": x}, lambda t: {"out": box3(t["raw"], (2, 3))})["out"],
                               box3(x, (2, 3)), atol=1e-12)


def test_memory_budget_shrinks_batch_then_space_and_outputs_go_to_memmap(tmp_path):
    model = model_of([bcyx("raw", (ParameterizedSize(16, 16),) * 2)], [ref_out("out", "raw", halo=2)])
    x = image((2, 1, 130, 70))
    whole = plan_tiles(model, {"raw": x.shape})
    assert len(whole) == 1
    small = plan_tiles(model, {"raw": x.shape}, memory_budget=200_000)
    assert small.block_shapes["raw"][0] == 1 and len(small) > 2
    tiny = plan_tiles(model, {"raw": x.shape}, memory_budget=1)  # smallest blocks with an interior
    assert tiny.block_shapes["raw"] == (1, 1, 16, 16)
    got = run_tiled(tiny, {"raw": x}, lambda t: {"out": box3(t["raw"], (2, 3))},
                    memory_budget=1000, tmpdir=tmp_path)
    assert isinstance(got["out"], np.memmap)
    assert len(os.listdir(tmp_path)) == 1
    np.testing.assert_allclose(got["out"], box3(x, (2, 3)), atol=1e-12)
    small_out = allocate_outputs(tiny, memory_budget=10**9)
    assert type(small_out["out"]) is np.ndarray
    del got
    gc.collect()
    assert os.listdir(tmp_path) == []


def test_multi_tensor_model_with_scaled_second_input():
    # input "low" is "raw" at half resolution; "out" follows "raw", "out_low" follows "low"
    raw = bcyx("raw", (ParameterizedSize(16, 16),) * 2)
    low_axes = (Axis("batch", "batch"), channel(2),
                *(Axis(a, "space", SizeReference("raw", a), scale=2.0) for a in SPACE))
    low = Tensor("low", low_axes, pad="edge")
    out = ref_out("out", "raw", halo=4)
    out_low = Tensor("out_low", (Axis("batch", "batch"), channel(2),
                                 *(Axis(a, "space", SizeReference("low", a), halo=1, scale=2.0) for a in SPACE)))
    model = model_of([raw, low], [out, out_low])
    x, y = image((1, 1, 100, 60)), image((1, 2, 50, 30), seed=3)

    def fake(t):
        up = np.repeat(np.repeat(t["low"].sum(axis=1, keepdims=True), 2, axis=2), 2, axis=3)
        return {"out": t["raw"] + up, "out_low": 2 * t["low"]}

    plan = plan_tiles(model, {"raw": x.shape, "low": y.shape}, tile={"y": 32, "x": 32})
    assert plan.block_shapes == {"raw": (1, 1, 32, 32), "low": (1, 2, 16, 16)}
    assert plan.pad_modes == {"raw": "symmetric", "low": "edge"}
    got = run_tiled(plan, {"raw": x, "low": y}, fake)
    want = fake({"raw": x, "low": y})
    np.testing.assert_array_equal(got["out"], want["out"])
    np.testing.assert_array_equal(got["out_low"], want["out_low"])
    with pytest.raises(TilingError, match=r"input 'low' axis 'y': size 49 does not match"):
        plan_tiles(model, {"raw": x.shape, "low": (1, 2, 49, 30)})


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_fixed_batch_size(n):
    model = model_of([bcyx("raw", (16, 16), batch=2)], [ref_out("out", "raw")])
    x = image((n, 1, 16, 16))
    plan = plan_tiles(model, {"raw": x.shape})
    assert plan.block_shapes["raw"][0] == 2 and len(plan) == max(1, math.ceil(n / 2))
    np.testing.assert_array_equal(run_tiled(plan, {"raw": x}, lambda t: {"out": t["raw"] * 1})["out"], x)
    no_batch = model_of([bcyx("raw", (16, 16), batch=2)], [Tensor("p", (channel(3),))])
    if n > 2:
        with pytest.raises(TilingError, match="the batch axis: batch size"):
            plan_tiles(no_batch, {"raw": x.shape})


def test_optional_input_may_be_left_out():
    extra = Tensor("mask", bcyx("mask", (16, 16)).axes, optional=True)
    model = model_of([bcyx("raw", (16, 16)), extra], [ref_out("out", "raw")])
    plan = plan_tiles(model, {"raw": (1, 1, 16, 16)})
    assert list(plan.block_shapes) == ["raw"]


def test_output_shapes_with_scale_and_offset():
    model = model_of([bcyx("raw", (ParameterizedSize(16, 16),) * 2)],
                     [ref_out("half", "raw", a=Fraction(1, 2)), ref_out("double", "raw", a=2),
                      ref_out("valid", "raw", offset=-8)])
    shapes = output_shapes(model, {"raw": {"batch": 3, "channel": 1, "y": 33, "x": 20}})
    assert shapes == {
        "half": {"batch": 3, "channel": 1, "y": 16, "x": 10},
        "double": {"batch": 3, "channel": 1, "y": 66, "x": 40},
        "valid": {"batch": 3, "channel": 1, "y": 25, "x": 12},
    }


def test_views_where_no_padding_is_needed():
    model = model_of([bcyx("raw", (ParameterizedSize(16, 16),) * 2)], [ref_out("out", "raw", halo=4)])
    x = image((1, 1, 200, 200))
    plan = plan_tiles(model, {"raw": x.shape}, tile={"y": 64, "x": 64})
    inner = [b for b in plan.blocks if b.pad["raw"] is None]
    assert inner and all(np.shares_memory(extract(plan, b, {"raw": x})["raw"], x) for b in inner)


# ---------------------------------------------------------------------------------------------- errors

def _simple() -> ModelDescr:
    return model_of([bcyx("raw", (ParameterizedSize(16, 16),) * 2, channels=3)], [ref_out("out", "raw", halo=8)])


@pytest.mark.parametrize(("call", "message"), [
    (lambda: plan_tiles(_simple(), {"raw": (1, 3, 64)}), r"input 'raw': expected 4 dimensions"),
    (lambda: plan_tiles(_simple(), {"raw": (1, 2, 64, 64)}), r"input 'raw' axis 'channel': expected 3 channels"),
    (lambda: plan_tiles(_simple(), {"raw": (1, 3, 0, 64)}), r"input 'raw' axis 'y': size must be"),
    (lambda: plan_tiles(_simple(), {"raw": {"batch": 1, "y": 3}}), r"input 'raw': shape .*missing"),
    (lambda: plan_tiles(_simple(), {"img": (1, 3, 64, 64)}), r"unknown inputs \['img'\]"),
    (lambda: plan_tiles(_simple(), {}), r"inputs \['raw'\] are missing"),
    (lambda: plan_tiles(_simple(), {"raw": (1, 3, 64, 64)}, tile={"y": 16}),
     r"input 'raw' axis 'y': a block of 16 leaves no valid interior .*at least 32"),
    (lambda: plan_tiles(_simple(), {"raw": (1, 3, 64, 64)}, tile={"z": 16}), r"tile: unknown axes \['z'\]"),
    (lambda: plan_tiles(_simple(), {"raw": (1, 3, 64, 64)}, tile={"y": 0}), r"axis 'y' must be an int >= 1"),
])
def test_errors_name_the_tensor_and_axis(call, message):
    with pytest.raises(TilingError, match=message):
        call()


def test_untileable_and_data_dependent_models():
    classifier = model_of([bcyx("raw", (32, 32))], [Tensor("p", (Axis("batch", "batch"), channel(5)))])
    assert len(plan_tiles(classifier, {"raw": (1, 1, 20, 32)})) == 1
    with pytest.raises(TilingError, match=r"input 'raw' axis 'y': size 40 is larger than the model's fixed"):
        plan_tiles(classifier, {"raw": (1, 1, 40, 32)})
    dd = model_of([bcyx("raw", (32, 32))], [Tensor("pts", (Axis("i", "index", DataDependentSize()),))])
    with pytest.raises(TilingError, match=r"output 'pts' axis 'i': the size depends on the data"):
        plan_tiles(dd, {"raw": (1, 1, 32, 32)})
    bad_pad = model_of([bcyx("raw", (32, 32), pad="mirror")], [ref_out("out", "raw")])
    with pytest.raises(TilingError, match=r"input 'raw': unknown pad mode 'mirror'"):
        plan_tiles(bad_pad, {"raw": (1, 1, 32, 32)})
    dangling = model_of([bcyx("raw", (32, 32))], [ref_out("out", "raw", axes=("y", "z"))])
    with pytest.raises(TilingError, match=r"output 'out' axis 'z': size refers to axis 'z' of tensor 'raw'"):
        plan_tiles(dangling, {"raw": (1, 1, 32, 32)})
    odd = model_of([bcyx("raw", (ParameterizedSize(3, 2),) * 2)], [ref_out("out", "raw", a=Fraction(1, 2))])
    with pytest.raises(TilingError, match=r"input 'raw' axis 'y': no allowed size"):
        plan_tiles(odd, {"raw": (1, 1, 32, 32)})


def test_stitch_and_extract_check_shapes():
    plan = plan_tiles(_simple(), {"raw": (1, 3, 64, 64)})
    outputs = allocate_outputs(plan)
    with pytest.raises(TilingError, match=r"input 'raw': the plan is for shape \(1, 3, 64, 64\), got shape"):
        extract(plan, plan.blocks[0], {"raw": np.zeros((1, 3, 64, 65))})
    with pytest.raises(TilingError, match=r"output 'out': the model should return shape \(1, 1, 64, 64\)"):
        stitch(plan, plan.blocks[0], {"out": np.zeros((1, 1, 60, 64))}, outputs)


# ---------------------------------------------------------------------------------------------- reference

def test_block_counts_match_bioimageio_core():
    block_meta = pytest.importorskip("bioimageio.core.block_meta")
    for image_size, block, halo in [(100, 32, 4), (257, 64, 16), (65, 64, 0), (500, 48, 8)]:
        model = model_of([bcyx("raw", (ParameterizedSize(16, 16),) * 2)], [ref_out("out", "raw", halo=halo)])
        plan = plan_tiles(model, {"raw": (1, 1, image_size, image_size)}, tile={"y": block, "x": block})
        n, _ = block_meta.split_shape_into_blocks(
            {"y": image_size, "x": image_size}, {"y": block, "x": block}, {"y": halo, "x": halo})
        assert len(plan) == n == math.prod(plan.grid.values())
