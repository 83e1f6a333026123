"""The model worker's file writer for the page's downloads (Pyodide): arrays as TIFF or PNG bytes.

The page keeps a result as typed arrays; *Download* sends one here and saves the bytes it gets back. TIFF keeps
the array as it is (shape and dtype: a float32 model output, uint16 labels); PNG takes a 2D integer image
(labels: 16-bit grey). The writers (tifffile, imageio + pillow) load on the first download.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

#: format -> (packages to load, MIME type)
FORMATS = {"tiff": (["tifffile"], "image/tiff"), "png": (["imageio", "pillow"], "image/png")}


def _array(spec: Any) -> np.ndarray:
    from pyodide.ffi import JsProxy  # type: ignore[import-not-found]

    spec = spec.to_py(depth=1) if isinstance(spec, JsProxy) else dict(spec)
    data = spec["data"]
    raw = data.to_memoryview() if isinstance(data, JsProxy) else memoryview(data)
    return np.frombuffer(raw, dtype=np.dtype(str(spec["dtype"]))).reshape([int(s) for s in spec["shape"]])


def write(array: np.ndarray, fmt: str) -> bytes:
    """``array`` as the bytes of a ``"tiff"`` or ``"png"`` file (PNG: 2D, integers up to 65535)."""
    out = io.BytesIO()
    if fmt == "tiff":
        import tifffile

        tifffile.imwrite(out, array, photometric="minisblack")
        return out.getvalue()
    if fmt != "png":
        raise ValueError(f"cannot write {fmt!r} files; use {' or '.join(FORMATS)}")
    if array.ndim != 2 or array.dtype.kind not in "iub":
        raise ValueError(f"a PNG holds one plane of whole numbers, not a {array.dtype} array of shape {array.shape}")
    if array.size and (array.min() < 0 or array.max() > 65535):
        raise ValueError("a PNG holds values 0 to 65535; save this image as TIFF")
    import imageio.v3 as iio

    return bytes(iio.imwrite("<bytes>", array.astype(np.uint16), extension=".png"))


async def encode(spec: Any, fmt: str) -> dict[str, Any]:
    """``{data: Uint8Array, mime}``: the file bytes of the array ``spec`` (``{data, shape, dtype}``)."""
    if fmt not in FORMATS:
        raise ValueError(f"cannot write {fmt!r} files; use {' or '.join(FORMATS)}")
    packages, mime = FORMATS[fmt]
    import pyodide_js  # type: ignore[import-not-found]
    from pyodide.ffi import to_js  # type: ignore[import-not-found]

    await pyodide_js.loadPackage(to_js(packages))
    return {"data": to_js(memoryview(write(_array(spec), fmt))), "mime": mime}
