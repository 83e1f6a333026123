"""Memory behaviour of the CPython runtime: what is alive while the blocks run, and the arena-free session."""

from __future__ import annotations

import sys
import weakref
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pytest
from shared_paths import GOLD

from pyapp.runtime import ModelRunner, create_backend
from pyapp.runtime._ort import OrtBackend, fix_mmap_threshold
from pyapp.runtime._reproduce import compare, tolerance_for
from pyapp.spec import load
from pyapp.spec.model import Processing


class Watching:
    """The real backend, recording whether the caller's unprocessed input is still alive at each block."""

    def __init__(self, inner, ref: weakref.ref):
        self.inner, self.ref, self.name = inner, ref, inner.name
        self.alive: list[bool] = []

    async def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.alive.append(self.ref() is not None)
        return await self.inner.run(inputs)


@pytest.fixture(scope="module")
def gold():
    return load(GOLD / "bioimageio.yaml")


def _raw(gold) -> tuple[np.ndarray, np.ndarray]:
    x = np.load(GOLD / "test_input.npy")
    return x, np.load(GOLD / "test_output.npy")


def test_unprocessed_input_is_released_before_the_blocks_run(gold):
    raw, expected = _raw(gold)
    pixels = (raw * 1000).astype(np.uint16)  # a new array that only this test references
    ref = weakref.ref(pixels)
    watching = Watching(create_backend(gold), ref)
    runner = ModelRunner(gold, backend=watching)
    inputs = {"raw": pixels}
    del pixels
    out = runner.predict_sync(_handover(inputs))
    assert watching.alive == [False], "the uint16 input was still referenced while the model ran"
    assert out["probability"].shape == expected.shape


def _handover(box: dict) -> dict:
    """The contents of ``box``; ``box`` is emptied so the test keeps no reference."""
    taken = dict(box)
    box.clear()
    return taken


def test_inputs_are_kept_when_postprocessing_refers_to_them(gold):
    raw, _ = _raw(gold)
    step = Processing("scale_range", {"axes": ["x", "y"], "reference_tensor": "raw", "max_percentile": 99.8})
    post = replace(gold.outputs[0], postprocessing=(step,))
    model = replace(gold, outputs=(post,))
    pixels = raw.copy()
    ref = weakref.ref(pixels)
    watching = Watching(create_backend(model), ref)
    out = ModelRunner(model, backend=watching).predict_sync(_handover({"raw": pixels}))
    assert watching.alive == [True]
    assert np.isfinite(out["probability"]).all()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt exists on Linux only")
def test_fixed_mmap_threshold_is_accepted_by_glibc():
    assert fix_mmap_threshold() is True


def test_low_memory_reaches_the_onnx_backend(gold):
    assert create_backend(gold, low_memory=True).session.get_session_options().enable_cpu_mem_arena is False
    assert create_backend(gold).session.get_session_options().enable_cpu_mem_arena is True


def test_arena_free_session_reproduces_the_test_output(gold):
    raw, expected = _raw(gold)
    weights = (GOLD / "weights.onnx").read_bytes()
    outputs = {}
    for arena in (False, True):
        backend = OrtBackend(weights, gold, memory_arena=arena)
        outputs[arena] = ModelRunner(gold, backend=backend).predict_sync({"raw": raw})["probability"]
    np.testing.assert_array_equal(outputs[False], outputs[True])
    assert compare("probability", outputs[False], expected, tolerance_for(gold, "probability", "onnx")).passed


def test_cli_low_memory_writes_the_same_output(tmp_path):
    from pyapp.cli import main

    image = tmp_path / "in.npy"
    np.save(image, np.load(GOLD / "test_input.npy")[0, 0])
    for flag, out in (([], "a"), (["--low-memory"], "b")):
        assert main(["predict", str(GOLD / "bioimageio.yaml"), str(image), "-o", str(tmp_path / out),
                     "--format", "npy", *flag]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "in_probability.npy"),
                                  np.load(tmp_path / "b" / "in_probability.npy"))
