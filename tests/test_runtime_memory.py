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


def _raw(gold: object) -> tuple[np.ndarray, np.ndarray]:
    x = np.load(GOLD / "test_input.npy")
    return x, np.load(GOLD / "test_output.npy")


def _mirrored(side: int) -> np.ndarray:
    raw, _ = _raw(None)
    return np.pad((raw[0, 0] * 1000).astype(np.uint16), (0, side - raw.shape[-1]), mode="symmetric")[None, None]


def test_no_whole_image_float_copy_is_made_while_the_blocks_run(gold):
    # 1024² uint16 (2 MiB) in, 1024² float32 (4 MiB) out, 9 blocks of 512²: a whole-image float32 preprocessed
    # copy (4 MiB) or a float32 temporary of the standard deviation (4 MiB) would show in the peak
    import tracemalloc

    pixels = _mirrored(1024)
    runner = ModelRunner(gold)
    runner.predict_sync({"raw": pixels[:, :, :512, :512]})  # warm-up outside the measurement
    tracemalloc.start()
    try:
        out = runner.predict_sync({"raw": pixels})["probability"]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert runner.timings["blocks"] == 9
    block_set = 512 * 512 * 4 * 3  # an input tile, the model's output block, its kept part
    assert peak <= out.nbytes + block_set + 2**20, (
        f"predict allocated {peak / 2**20:.1f} MiB at its peak for a {out.nbytes / 2**20:.0f} MiB output")


class Recording:
    """An output destination that records where each block goes (as a file or JavaScript array writer would)."""

    def __init__(self, shape, dtype):
        self.array, self.writes = np.zeros(shape, dtype), []

    def __setitem__(self, index, value):
        self.writes.append(index)
        self.array[index] = value


def test_outputs_go_block_by_block_into_the_destination_the_caller_makes(gold):
    pixels = _mirrored(1024)
    made = {}

    def make(tid, shape, dtype):
        made[tid] = Recording(shape, dtype)
        return made[tid]

    runner = ModelRunner(gold)
    result = runner.predict_sync({"raw": pixels}, outputs=make)
    assert result["probability"] is made["probability"]
    assert len(made["probability"].writes) == 9
    expected = ModelRunner(gold).predict_sync({"raw": pixels})["probability"]
    np.testing.assert_array_equal(made["probability"].array, expected)


def test_postprocessing_by_blocks_gives_the_whole_image_result(gold):
    pixels = _mirrored(1024)
    plain = ModelRunner(gold).predict_sync({"raw": pixels})["probability"]
    binarize = Processing("binarize", {"threshold": 0.5})
    steps = (*gold.outputs[0].postprocessing, binarize)
    model = replace(gold, outputs=(replace(gold.outputs[0], postprocessing=steps),))
    masks = ModelRunner(model).predict_sync({"raw": pixels})["probability"]
    assert masks.dtype == np.bool_
    np.testing.assert_array_equal(masks, plain > 0.5)


def test_steps_that_need_a_whole_processed_image_still_run_on_the_whole_image(gold):
    # statistics of a scaled image (scale_linear, then zero_mean_unit_variance) cannot be fixed from the raw
    # pixels: the runner processes the whole image first; zmuv of 2x is zmuv of x (up to eps)
    pixels = _mirrored(1024)
    plain = ModelRunner(gold).predict_sync({"raw": pixels})["probability"]
    steps = (Processing("scale_linear", {"gain": 2.0}), *gold.inputs[0].preprocessing)
    model = replace(gold, inputs=(replace(gold.inputs[0], preprocessing=steps),))
    np.testing.assert_allclose(ModelRunner(model).predict_sync({"raw": pixels})["probability"], plain, atol=1e-5)


def test_an_input_processed_whole_is_released_before_the_blocks_run(gold):
    # scale_linear then zero_mean_unit_variance: processed as a whole, so the blocks read the processed copy
    raw, _ = _raw(gold)
    steps = (Processing("scale_linear", {"gain": 2.0}), *gold.inputs[0].preprocessing)
    model = replace(gold, inputs=(replace(gold.inputs[0], preprocessing=steps),))
    pixels = (raw * 1000).astype(np.uint16)  # a new array that only this test references
    watching = Watching(create_backend(model), weakref.ref(pixels))
    box = {"raw": pixels}
    del pixels
    ModelRunner(model, backend=watching).predict_sync(_handover(box))
    assert watching.alive == [False], "the uint16 input was still referenced while the model ran"


def test_an_input_processed_by_blocks_is_what_the_blocks_read(gold):
    raw, _ = _raw(gold)
    pixels = (raw * 1000).astype(np.uint16)
    watching = Watching(create_backend(gold), weakref.ref(pixels))
    box = {"raw": pixels}
    del pixels
    ModelRunner(gold, backend=watching).predict_sync(_handover(box))
    assert watching.alive == [True]


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


def test_scripts_and_the_cli_predict_without_loading_asyncio(tmp_path):
    # asyncio pulls in ssl (~9 MiB resident together); the CPython backends never wait for an event loop
    import subprocess

    image = tmp_path / "in.npy"
    np.save(image, np.load(GOLD / "test_input.npy")[0, 0])
    code = ("import sys\nfrom pyapp.cli import main\n"
            f"assert main(['predict', {str(GOLD / 'bioimageio.yaml')!r}, {str(image)!r}, '-o', {str(tmp_path)!r}])"
            " == 0\nprint('asyncio' in sys.modules, 'ssl' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "False False", done.stdout + done.stderr
    assert (tmp_path / "in_probability.tif").exists()


def test_a_coroutine_that_waits_for_a_loop_is_refused_without_one():
    import subprocess

    code = ("from pyapp.runtime import run_sync\n"
            "class Wait:\n    def __await__(self):\n        yield 'a future'\n"
            "async def job():\n    await Wait()\n"
            "try:\n    run_sync(job())\nexcept RuntimeError as err:\n    print(err)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "waited for an event loop, and none was running" in done.stdout, done.stdout + done.stderr


def test_an_output_over_the_image_limit_is_refused_before_any_block_runs(gold, monkeypatch):
    from pyapp.spec._limits import LimitError

    pixels = _mirrored(1024)
    watching = Watching(create_backend(gold), weakref.ref(pixels))
    monkeypatch.setenv("PYAPP_MAX_IMAGE_BYTES", "3MiB")  # the 1024² float32 output needs 4 MiB
    expected = (r"output 'probability': \(1, 1, 1024, 1024\) float32 pixels need bytes \(4,194,304\) exceeds "
                r"pyapp's limit of 3,145,728; set PYAPP_MAX_IMAGE_BYTES")
    with pytest.raises(LimitError, match=expected):
        ModelRunner(gold, backend=watching).predict_sync({"raw": pixels})
    assert watching.alive == [], "a block ran"
