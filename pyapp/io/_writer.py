"""Image files written block by block, so a large output never has to be whole in memory.

``open_image_writer(path, shape, dtype, axes)`` makes an uncompressed ``.tif`` or ``.npy`` under a temporary
name next to ``path``; ``writer[slices] = block`` writes a block straight into the file (no memory map: the
pages written do not count as the process's memory); ``commit()`` gives the file its name, ``discard()`` (or
leaving the ``with`` block on an error) removes it, so a failed run leaves nothing behind.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ._guard import ImageError
from ._images import _check_axes, _tiff_axes

_SUFFIXES = (".tif", ".tiff", ".npy")


class ImageWriter:
    """An image file being written block by block; see :func:`open_image_writer`."""

    def __init__(self, path: Path, tmp: Path, offset: int, shape: tuple[int, ...], dtype: np.dtype[Any]):
        self.path, self.shape, self.dtype = path, shape, dtype
        self._tmp, self._offset = tmp, offset
        self._fd: int | None = os.open(tmp, os.O_WRONLY)

    def __enter__(self) -> ImageWriter:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is not None or self._fd is not None:
            self.discard()

    def __setitem__(self, index: Any, value: npt.ArrayLike) -> None:
        """Write ``value`` (broadcast to the region, cast to the file's dtype) at ``index`` (basic slices)."""
        if self._fd is None:
            raise ValueError(f"{self.path}: the file is already committed or discarded")
        starts, sizes = self._region(index)
        block = np.ascontiguousarray(np.broadcast_to(np.asarray(value, dtype=self.dtype), sizes))
        if 0 in sizes:
            return
        # axis k and the axes after it, which the region covers whole, make contiguous runs in the file
        k = len(sizes) - 1
        while k > 0 and sizes[k] == self.shape[k]:
            k -= 1
        strides = [math.prod(self.shape[i + 1:]) * self.dtype.itemsize for i in range(len(self.shape))]
        runs = block.reshape(*sizes[:k], -1)
        for lead in np.ndindex(*sizes[:k]):
            pos = self._offset + starts[k] * strides[k]
            pos += sum((start + i) * stride for start, i, stride in zip(starts, lead, strides, strict=False))
            data = memoryview(runs[lead]).cast("B")
            written = 0
            while written < len(data):  # pwrite may write less than asked
                written += os.pwrite(self._fd, data[written:], pos + written)

    def _region(self, index: Any) -> tuple[list[int], tuple[int, ...]]:
        index = index if isinstance(index, tuple) else (index,)
        if len(index) > len(self.shape) or not all(isinstance(i, slice) for i in index):
            raise IndexError(f"{self.path}: blocks are written at slices, one per axis at most; got {index!r}")
        starts, sizes = [], []
        for n, i in zip(self.shape, (*index, *(slice(None),) * (len(self.shape) - len(index))), strict=True):
            start, stop, step = i.indices(n)
            if step != 1:
                raise IndexError(f"{self.path}: blocks are written at slices without a step; got {i!r}")
            starts.append(start)
            sizes.append(max(0, stop - start))
        return starts, tuple(sizes)

    def commit(self) -> Path:
        """Close the file and give it its name; returns the path."""
        if self._fd is None:
            raise ValueError(f"{self.path}: the file is already committed or discarded")
        os.close(self._fd)
        self._fd = None
        os.replace(self._tmp, self.path)
        return self.path

    def discard(self) -> None:
        """Close and remove the unfinished file (nothing happens once committed)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._tmp.unlink(missing_ok=True)


def open_image_writer(path: str | os.PathLike[str], shape: Sequence[int], dtype: npt.DTypeLike, axes: str
                      ) -> ImageWriter:
    """Start writing an image of ``shape`` and ``dtype`` (axes letters ``axes``) to ``path``, block by block.

    ``.tif``/``.tiff`` files are uncompressed and record the axes as :func:`write_image` does; ``.npy`` files are
    numpy's format. Unwritten parts read as zeros.

    Raises
    ------
    ImageError
        Another file type, axes that do not match ``shape``, or the file cannot be created.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise ImageError(f"{path}: cannot be written block by block; use .tif or .npy")
    shape = tuple(int(n) for n in shape)
    dtype = np.dtype(dtype).newbyteorder("=")
    _check_axes(axes, shape, path)
    fd, name = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        if suffix == ".npy":
            with open(tmp, "wb") as f:
                header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
                np.lib.format.write_array_header_2_0(f, header)
                offset = f.tell()
                f.truncate(offset + math.prod(shape) * dtype.itemsize)
        else:
            import tifffile

            offset, _ = tifffile.imwrite(tmp, shape=shape, dtype=dtype, metadata={"axes": _tiff_axes(axes)},
                                         returnoffset=True)
        return ImageWriter(path, tmp, int(offset), shape, dtype)
    except Exception as err:
        tmp.unlink(missing_ok=True)
        raise ImageError(f"{path}: cannot write image: {err}") from err
