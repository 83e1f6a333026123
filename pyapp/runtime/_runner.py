"""ModelRunner: statistics of the whole image, then per block: preprocessing -> backend -> postprocessing -> stitch.

Steps whose statistics cannot be fixed from the unprocessed image (see ``pyapp.ops.plan_blockwise``) run on the
whole image instead, before (inputs) or after (outputs) the blocks; the results are the same either way.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

import numpy as np

from ..ops import BlockProcessing, apply_processing, plan_blockwise
from ..spec._limits import check_size
from ..spec.model import ModelDescr
from ..tiling import allocate_output, extract, plan_tiles, stitch
from ._backend import Backend, create_backend

Progress = Callable[[int, int, str], None]
#: ``outputs(tensor_id, shape, dtype)``: where an output is written, block by block (``dest[slices] = part``).
OutputFactory = Callable[[str, tuple[int, ...], np.dtype], Any]
T = TypeVar("T")


def _kwargs(step: object) -> dict:
    kwargs = step.get("kwargs") if isinstance(step, Mapping) else getattr(step, "kwargs", None)
    return dict(kwargs or {})


class RunError(ValueError):
    """Inputs that do not fit the model (missing tensor, wrong number of dimensions)."""


class ModelRunner:
    """Runs one model on numpy arrays in the model's axis order; the same code in CPython and Pyodide.

    Parameters
    ----------
    model : ModelDescr
        A loaded description (``pyapp.spec.load``).
    backend : Backend, optional
        What runs the network; by default :func:`create_backend` picks one for this host.
    """

    def __init__(self, model: ModelDescr, backend: Backend | None = None):
        self.model = model
        self.backend = backend if backend is not None else create_backend(model)
        #: Seconds spent in each stage of the last :meth:`predict` (and its number of blocks).
        self.timings: dict[str, float] = {}
        self._post_references = any(_kwargs(step).get("reference_tensor") for t in model.outputs
                                    for step in t.postprocessing)

    def _check(self, inputs: Mapping[str, np.ndarray]) -> None:
        for t in self.model.inputs:
            if t.id not in inputs:
                if not t.optional:
                    needed = [i.id for i in self.model.inputs]
                    raise RunError(f"input tensor {t.id!r} is missing (the model needs {needed})")
                continue
            if inputs[t.id].ndim != len(t.axes):
                raise RunError(f"input tensor {t.id!r}: expected {len(t.axes)} dimensions {t.axis_ids}, "
                               f"got shape {inputs[t.id].shape}")

    async def predict(
        self, inputs: Mapping[str, np.ndarray], *, tile: Mapping[str, int] | None = None,
        memory_budget: int | None = None, progress: Progress | None = None,
        dataset_stats: Mapping[str, Mapping[str, object]] | None = None, outputs: OutputFactory | None = None,
    ) -> dict[str, Any]:
        """Outputs by tensor id for ``inputs`` by tensor id (arrays in each tensor's axis order).

        ``tile`` sets block sizes per axis id; else blocks are chosen from ``memory_budget`` (bytes), else the
        whole image runs as one block. ``progress(done, total, message)`` is called after each block.
        ``outputs(tensor_id, shape, dtype)`` makes what each output is written into, block by block (a file
        or JavaScript array writer: anything that takes ``dest[slices] = part``); it is what is returned. By
        default outputs are numpy arrays (memory-mapped when larger than ``memory_budget``).
        """
        self._check(inputs)
        model = self.model
        clock = time.perf_counter
        t0 = clock()
        sample = {t.id: (inputs[t.id], t.axis_ids) for t in model.inputs if t.id in inputs}
        sources, pre = self._prepare(sample, dataset_stats)
        plan = plan_tiles(model, {tid: a.shape for tid, a in sources.items()}, tile=tile, memory_budget=memory_budget)
        post = {t.id: plan_blockwise(plan.output_shapes[t.id], t.postprocessing, axes=t.axis_ids, tensor_id=t.id,
                                     sample=sample, dataset_stats=dataset_stats) for t in model.outputs}
        if not (self._post_references and None in post.values()):
            # nothing downstream reads the unprocessed inputs beyond what the blocks read: let the rest go
            # (the caller may have handed over its only reference, as pyapp predict does)
            sample, inputs = {}, {}
        dest = {tid: self._destination(tid, plan.output_shapes[tid], post[tid], outputs, memory_budget)
                for tid in plan.output_shapes}
        t1 = clock()
        total, backend_s = len(plan.blocks), 0.0
        for i, block in enumerate(plan.blocks):
            tiles = extract(plan, block, sources, lambda tid, part, region: (
                pre[tid](part, region) if tid in pre else part))
            start = clock()
            results = await self.backend.run(tiles)
            backend_s += clock() - start
            stitch(plan, block, results, dest, lambda tid, part, region: (
                post[tid](part, region) if post[tid] is not None else part))
            if progress is not None:
                progress(i + 1, total, "tiles")
        t2 = clock()
        whole_sample = {**sample, **{t.id: (dest[t.id], t.axis_ids) for t in model.outputs}}
        result = {t.id: dest[t.id] if post[t.id] is not None else self._whole_post(
                      t, dest[t.id], whole_sample, dataset_stats, outputs) for t in model.outputs}
        self.timings = {"preprocess": t1 - t0, "backend": backend_s, "tiling": t2 - t1 - backend_s,
                        "postprocess": clock() - t2, "blocks": total}
        return result

    def _prepare(self, sample: Mapping[str, tuple[np.ndarray, tuple[str, ...]]],
                 dataset_stats: Mapping[str, Mapping[str, object]] | None
                 ) -> tuple[dict[str, np.ndarray], dict[str, BlockProcessing]]:
        """What the blocks read per input (unprocessed, or processed as a whole) and the blockwise processing."""
        sources: dict[str, np.ndarray] = {}
        pre: dict[str, BlockProcessing] = {}
        for tid, (a, axes) in sample.items():
            steps = self.model.tensor(tid).preprocessing
            blockwise = plan_blockwise(a.shape, steps, axes=axes, tensor_id=tid, array=a, sample=sample,
                                       dataset_stats=dataset_stats)
            if blockwise is None:
                sources[tid] = apply_processing(a, steps, axes=axes, tensor_id=tid, sample=sample,
                                                dataset_stats=dataset_stats)
            else:
                sources[tid], pre[tid] = a, blockwise
        return sources, pre

    @staticmethod
    def _destination(tid: str, shape: tuple[int, ...], post: BlockProcessing | None, outputs: OutputFactory | None,
                     memory_budget: int | None) -> Any:
        """Where the blocks of output ``tid`` go: the caller's destination, unless it is postprocessed whole.

        An output larger than pyapp's image limit (``PYAPP_MAX_IMAGE_BYTES``) is refused before anything is
        allocated: a model's size references decide output sizes, and a description is untrusted input.
        """
        # the model's float32 output, or what its postprocessing makes of it
        dtype = np.dtype(np.float32) if post is None else post.result_dtype(np.float32)
        check_size(f"output {tid!r}", f"{shape} {dtype.name} pixels need bytes", math.prod(shape) * dtype.itemsize,
                   "image_bytes")
        if post is None or outputs is None:
            return allocate_output(shape, dtype, memory_budget=memory_budget, name=tid)
        return outputs(tid, shape, dtype)

    @staticmethod
    def _whole_post(tensor: Any, stitched: np.ndarray, sample: Mapping[str, Any],
                    dataset_stats: Mapping[str, Mapping[str, object]] | None, outputs: OutputFactory | None) -> Any:
        """Postprocessing that needs the whole output (statistics of it), into the caller's destination if any."""
        result = apply_processing(stitched, tensor.postprocessing, axes=tensor.axis_ids, tensor_id=tensor.id,
                                  sample=sample, dataset_stats=dataset_stats)
        if outputs is None:
            return result
        out = outputs(tensor.id, result.shape, result.dtype)
        out[(slice(None),) * result.ndim] = result
        return out

    def predict_sync(self, inputs: Mapping[str, np.ndarray], **kwargs: object) -> dict[str, np.ndarray]:
        """:meth:`predict` for synchronous code (the CLI, scripts, notebooks).

        Where an event loop already runs in this thread (Jupyter, Playwright), the prediction runs on a helper
        thread with its own loop.
        """
        coro = self.predict(inputs, **kwargs)  # type: ignore[arg-type]
        del inputs  # the coroutine holds them, and lets them go once preprocessed
        return run_sync(coro)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end from synchronous code; on a helper thread where this thread's loop runs already
    (Jupyter, Playwright).

    Without asyncio imported no event loop can be running: a coroutine whose awaits all complete at once (the
    CPython backends') then runs without one, so scripts and the CLI do not load asyncio (nor ssl, ~9 MiB).
    """
    if "asyncio" not in sys.modules:
        try:
            coro.send(None)
        except StopIteration as done:
            return done.value
        coro.close()
        raise RuntimeError("the coroutine waited for an event loop, and none was running; import asyncio first")
    import asyncio
    import concurrent.futures

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
