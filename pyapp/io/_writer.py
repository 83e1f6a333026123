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

    def __exit__(self, *_: object) -> None:
        self.discard()  # nothing happens once committed

    def __setitem__(self, index: Any, value: npt.ArrayLike) -> None:
        """Write ``value`` (broadcast to the region, cast to the file's dtype) at ``index`` (basic slices)."""
        if self._fd is None:
            raise ValueError(f"{self.path}: the file is already committed or discarded")
        block, runs = flat_runs(self.shape, self.dtype, index, value, str(self.path))
        data = memoryview(block).cast("B")
        item = self.dtype.itemsize
        for dst, src, n in runs:
            pos, part = self._offset + dst * item, data[src * item:(src + n) * item]
            written = 0
            while written < len(part):  # pwrite may write less than asked
                written += os.pwrite(self._fd, part[written:], pos + written)

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


def flat_runs(shape: tuple[int, ...], dtype: np.dtype[Any], index: Any, value: npt.ArrayLike, label: str
              ) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Where a block goes in the flat (C-order) storage of an array of ``shape``: ``array[index] = value``.

    Returns the block as a flat contiguous array of ``dtype`` (``value`` broadcast to the region and cast)
    and its contiguous runs ``(storage offset, block offset, length)`` in elements. ``index`` holds basic
    slices (step 1), at most one per axis; anything else is an IndexError naming ``label``.
    """
    index = index if isinstance(index, tuple) else (index,)
    if len(index) > len(shape) or not all(isinstance(i, slice) for i in index):
        raise IndexError(f"{label}: blocks are written at slices, one per axis at most; got {index!r}")
    starts, sizes = [], []
    for n, i in zip(shape, (*index, *(slice(None),) * (len(shape) - len(index))), strict=True):
        start, stop, step = i.indices(n)
        if step != 1:
            raise IndexError(f"{label}: blocks are written at slices without a step; got {i!r}")
        starts.append(start)
        sizes.append(max(0, stop - start))
    block = np.ascontiguousarray(np.broadcast_to(np.asarray(value, dtype=dtype), tuple(sizes))).reshape(-1)
    if block.size == 0:
        return block, []
    # axis k and the axes after it, which the region covers whole, make contiguous runs
    k = len(sizes) - 1
    while k > 0 and sizes[k] == shape[k]:
        k -= 1
    strides = [math.prod(shape[i + 1:]) for i in range(len(shape))]
    length = math.prod(sizes[k:])
    runs = []
    for j, lead in enumerate(np.ndindex(*sizes[:k])):
        dst = starts[k] * strides[k] + sum((s + i) * st for s, i, st in zip(starts, lead, strides, strict=False))
        runs.append((dst, j * length, length))
    return block, runs


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
