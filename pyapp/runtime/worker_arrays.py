"""Whole images in the model worker without copies in Python's heap (Pyodide only).

A WebAssembly heap never shrinks: every whole-image copy Python makes stays resident for the life of the page.
So a downloaded image file goes from the response into the in-memory file system from JavaScript (Emscripten
keeps file contents outside the heap) and only its decoded pixels enter the heap; and outputs are stitched block
by block into JavaScript typed arrays, which the page then receives as they are.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from pyodide.ffi import to_js  # type: ignore[import-not-found]

from ..io import flat_runs
from .worker_describe import check_download, fetch

#: numpy dtype name -> the JavaScript typed array that holds it (bool as 0/1 bytes).
TYPED_ARRAYS = {"bool": "Uint8Array", "int8": "Int8Array", "uint8": "Uint8Array", "int16": "Int16Array",
                "uint16": "Uint16Array", "int32": "Int32Array", "uint32": "Uint32Array", "float32": "Float32Array",
                "float64": "Float64Array"}


async def fetch_to_file(url: str, path: Path) -> None:
    """Download ``url`` into ``path`` (in-memory file system); the bytes never pass through Python's heap."""
    import js  # type: ignore[import-not-found]
    import pyodide_js  # type: ignore[import-not-found]

    response = await fetch(url)
    buffer = await response.js_response.arrayBuffer()
    check_download(url, buffer.byteLength)
    pyodide_js.FS.writeFile(str(path), js.Uint8Array.new(buffer))


class JsOutput:
    """An output stitched block by block into a JavaScript typed array (``data``), outside Python's heap."""

    def __init__(self, shape: tuple[int, ...], dtype: Any):
        import js  # type: ignore[import-not-found]

        self.shape, self.dtype = tuple(int(n) for n in shape), np.dtype(dtype)
        self.data = getattr(js, TYPED_ARRAYS[self.dtype.name]).new(math.prod(self.shape))

    def __setitem__(self, index: tuple[slice, ...], value: Any) -> None:
        import pyapp_js  # type: ignore[import-not-found]  # registered by web/pyapp/model-worker.js

        block, runs = flat_runs(self.shape, self.dtype, index, value, "output")
        if runs:  # copied from Python's heap into the typed array by JavaScript (web/pyapp/stitch.js)
            item = self.dtype.itemsize
            pyapp_js.stitchRuns(self.data, block.view(np.uint8), to_js([v * item for run in runs for v in run]))


def js_outputs(tensor_id: str, shape: tuple[int, ...], dtype: Any) -> Any:
    """The runner's ``outputs`` factory: a :class:`JsOutput` where a typed array holds ``dtype``, else numpy."""
    if np.dtype(dtype).name in TYPED_ARRAYS:
        return JsOutput(shape, dtype)
    return np.empty(shape, dtype)


def output_entry(tensor_id: str, output: Any) -> dict[str, Any]:
    """What the page gets for one output: ``{id, shape, dtype, data}`` with ``data`` a typed array."""
    if isinstance(output, JsOutput):
        return {"id": tensor_id, "shape": list(output.shape), "dtype": output.dtype.name, "data": output.data}
    array = np.ascontiguousarray(output)
    data = array.view(np.uint8) if array.dtype == np.bool_ else array
    return {"id": tensor_id, "shape": list(array.shape), "dtype": array.dtype.name,
            "data": to_js(memoryview(data.reshape(-1)))}
