"""onnxruntime-web backend for Pyodide: runs ONNX weights on the client GPU (WebGPU) or on wasm.

Imported only inside Pyodide (it needs ``js`` and the ``pyapp_js`` module the model worker registers, which
holds ``ort`` and the execution-provider probe). Arrays cross into JavaScript as typed-array copies of the
numpy buffer and come back as numpy views on a fresh buffer: no JSON, no per-element conversion.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyapp_js  # type: ignore[import-not-found]  # registered by model-worker.js
from js import Object, Reflect  # type: ignore[import-not-found]
from pyodide.ffi import JsException, to_js  # type: ignore[import-not-found]

from ..spec.model import ModelDescr
from ._backend import BackendError, match_names

#: numpy dtype name -> onnxruntime-web tensor type.
ORT_TYPES = {"float32": "float32", "float64": "float64", "uint8": "uint8", "int8": "int8", "uint16": "uint16",
             "int16": "int16", "int32": "int32", "int64": "int64", "uint32": "uint32", "bool": "bool"}


def _options(eps: list[str]) -> object:
    return to_js({"executionProviders": eps, "graphOptimizationLevel": "all"}, dict_converter=Object.fromEntries)


class OrtWebBackend:
    """A model session in onnxruntime-web; ``name`` says which execution provider runs it."""

    def __init__(self, session: object, model: ModelDescr, ep: str):
        self.session = session
        self.ep = ep
        self.name = f"onnxruntime-web ({ep})"
        graph_in = [str(n) for n in session.inputNames]
        graph_out = [str(n) for n in session.outputNames]
        self._inputs = match_names(graph_in, [t.id for t in model.inputs], "input")
        self._outputs = match_names(graph_out, [t.id for t in model.outputs], "output")
        # one JavaScript typed array per input and block size, refilled for every block: onnxruntime-web copies
        # the data into its own memory during run, and a fresh array per block would be garbage to collect
        self._staging: dict[tuple[str, str, int], Any] = {}

    @classmethod
    async def create(cls, weights: bytes, model: ModelDescr, *, ep: str = "auto") -> OrtWebBackend:
        """A session on the best execution provider: WebGPU on a real adapter, else wasm; ``ep`` forces one.

        Raises
        ------
        BackendError
            When no execution provider can load the weights; the reasons of each try are listed.
        """
        candidates = [str(e) for e in await pyapp_js.chooseEps(ep)]
        data = to_js(weights)
        reasons = []
        for candidate in candidates:
            try:
                session = await pyapp_js.ort.InferenceSession.create(data, _options([candidate]))
            except JsException as err:
                reasons.append(f"{candidate}: {str(err).splitlines()[0]}")
                continue
            return cls(session, model, candidate)
        raise BackendError("onnxruntime-web cannot load the weights: " + "; ".join(reasons))

    async def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        entries = []
        for tid, array in inputs.items():
            if tid not in self._inputs:
                continue
            a = np.ascontiguousarray(array)
            kind = ORT_TYPES.get(a.dtype.name)
            if kind is None:
                raise BackendError(f"input {tid!r}: dtype {a.dtype} is not supported by onnxruntime-web")
            pixels = memoryview((a.view(np.uint8) if kind == "bool" else a).reshape(-1))
            key = (tid, kind, a.size)
            data = self._staging.get(key)
            if data is None:
                data = self._staging[key] = to_js(pixels)
            else:
                data.assign(pixels)
            entries.append([self._inputs[tid], pyapp_js.ort.Tensor.new(kind, data, to_js(list(a.shape)))])
        results = await self.session.run(Object.fromEntries(to_js(entries)))
        out = {}
        for tid, name in self._outputs.items():
            t = Reflect.get(results, name)
            data = np.asarray(t.data.to_memoryview())
            if str(t.type) == "bool":
                data = data.view(np.bool_)
            out[tid] = data.reshape([int(d) for d in t.dims])
            t.dispose()
        return out

