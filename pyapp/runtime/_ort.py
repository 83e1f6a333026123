"""ONNX Runtime backend for CPython (CPU; CUDA/ROCm providers when the installed build has them)."""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Mapping

import numpy as np

from ..spec.model import ModelDescr
from ._backend import BackendError, match_names

#: Execution providers in the order they are preferred when available.
PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "ROCMExecutionProvider", "CPUExecutionProvider")
#: glibc's ``M_MMAP_THRESHOLD`` for :func:`fix_mmap_threshold`: tensors from 1 MiB up get their own mapping.
MMAP_THRESHOLD = 1 << 20


def fix_mmap_threshold(nbytes: int = MMAP_THRESHOLD) -> bool:
    """Serve allocations of ``nbytes`` and more by their own ``mmap`` (glibc only), returned to the system on free.

    glibc raises its threshold after the first large block is freed, so later tensor-sized blocks come from the
    heap, which fragments and does not shrink. Fixing it keeps the resident size at what is live. Returns
    whether it was set (False off Linux/glibc, where nothing changes).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-3, nbytes))  # -3: M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


class OrtBackend:
    """Runs ONNX weights with ``onnxruntime``; tensors are matched to graph inputs by id, else by position.

    ``memory_arena=False`` trades speed for memory: no CPU memory arena, and glibc's mmap threshold fixed
    (:func:`fix_mmap_threshold`), so the peak resident size is what one block really needs (94 instead of
    119 MiB for a 512x512 U-Net block) at the cost of page faults (~25 % more CPU time per block); see
    docs/benchmarks.md. The default keeps onnxruntime's arena.
    """

    def __init__(self, weights: bytes, model: ModelDescr, *, providers: list[str] | None = None,
                 memory_arena: bool = True):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        # the memory pattern planner keeps a second set of block-sized buffers: ~90 MiB more peak RSS for a
        # 512x512 U-Net block, no measurable speed gain for one-block-at-a-time tiling
        options.enable_mem_pattern = False
        options.enable_cpu_mem_arena = memory_arena
        if not memory_arena:
            fix_mmap_threshold()
        available = ort.get_available_providers()
        chosen = providers or [p for p in PREFERRED_PROVIDERS if p in available]
        try:
            self.session = ort.InferenceSession(weights, options, providers=chosen)
        except Exception as err:
            raise BackendError(f"onnxruntime cannot load the weights: {err}".splitlines()[0]) from err
        graph_in = [i.name for i in self.session.get_inputs()]
        graph_out = [o.name for o in self.session.get_outputs()]
        self._inputs = match_names(graph_in, [t.id for t in model.inputs], "input")
        self._outputs = match_names(graph_out, [t.id for t in model.outputs], "output")
        self.name = f"onnxruntime ({self.session.get_providers()[0]})"

    def run_sync(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one block synchronously (the async :meth:`run` wraps this)."""
        feeds = {self._inputs[tid]: np.ascontiguousarray(a) for tid, a in inputs.items() if tid in self._inputs}
        names = list(self._outputs.values())
        results = self.session.run(names, feeds)
        return dict(zip(self._outputs, results, strict=True))

    async def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.run_sync(inputs)

