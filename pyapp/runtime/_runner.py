"""ModelRunner: whole-image preprocessing -> tiles -> backend -> stitched outputs -> postprocessing."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

import numpy as np

from ..ops import apply_processing
from ..spec.model import ModelDescr
from ..tiling import allocate_outputs, extract, plan_tiles, stitch
from ._backend import Backend, create_backend

Progress = Callable[[int, int, str], None]
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
        dataset_stats: Mapping[str, Mapping[str, object]] | None = None,
    ) -> dict[str, np.ndarray]:
        """Outputs by tensor id for ``inputs`` by tensor id (arrays in each tensor's axis order).

        ``tile`` sets block sizes per axis id; else blocks are chosen from ``memory_budget`` (bytes), else the
        whole image runs as one block. ``progress(done, total, message)`` is called after each block.
        """
        self._check(inputs)
        model = self.model
        clock = time.perf_counter
        t0 = clock()
        sample = {t.id: (inputs[t.id], t.axis_ids) for t in model.inputs if t.id in inputs}
        pre = {tid: apply_processing(a, model.tensor(tid).preprocessing, axes=axes, tensor_id=tid, sample=sample,
                                     dataset_stats=dataset_stats)
               for tid, (a, axes) in sample.items()}
        if not self._post_references:
            # nothing downstream reads the unprocessed inputs: let them go before the blocks run (the caller
            # may have handed over its only reference, as pyapp predict does)
            sample, inputs = {}, {}
        t1 = clock()
        plan = plan_tiles(model, {tid: a.shape for tid, a in pre.items()}, tile=tile, memory_budget=memory_budget)
        outputs = allocate_outputs(plan, memory_budget=memory_budget)
        total, backend_s = len(plan.blocks), 0.0
        for i, block in enumerate(plan.blocks):
            tiles = extract(plan, block, pre)
            start = clock()
            results = await self.backend.run(tiles)
            backend_s += clock() - start
            stitch(plan, block, results, outputs)
            if progress is not None:
                progress(i + 1, total, "tiles")
        t2 = clock()
        post_sample = {**sample, **{t.id: (outputs[t.id], t.axis_ids) for t in model.outputs}}
        result = {t.id: apply_processing(outputs[t.id], t.postprocessing, axes=t.axis_ids, tensor_id=t.id,
                                         sample=post_sample, dataset_stats=dataset_stats)
                  for t in model.outputs}
        self.timings = {"preprocess": t1 - t0, "backend": backend_s, "tiling": t2 - t1 - backend_s,
                        "postprocess": clock() - t2, "blocks": total}
        return result

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
    (Jupyter, Playwright)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
