"""Checks before pixels are decoded or a model runs: the memory an image needs, and values a model can take.

The byte limit is ``PYAPP_MAX_IMAGE_BYTES`` (default 2 GiB; see :mod:`pyapp.spec._limits`), checked against
the shape and dtype a file's header declares, before anything is allocated: a TIFF whose header claims
100000 × 100000 pixels is refused in milliseconds.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import BinaryIO

import numpy as np


class ImageError(ValueError):
    """An image file cannot be read or written as asked; the message names the file."""


def check_image_size(label: str | os.PathLike[str], shape: tuple[int, ...], dtype: np.dtype | str) -> None:
    """ImageError when an image of ``shape`` and ``dtype`` would need more bytes than the limit allows."""
    from ..spec._limits import current, variable

    limit = current().image_bytes
    try:
        itemsize = np.dtype(dtype).itemsize
    except TypeError as err:
        raise ImageError(f"{label}: unknown pixel type {dtype!r}") from err
    if any(int(n) < 0 for n in shape):
        raise ImageError(f"{label}: the file declares a negative size {tuple(shape)}")
    needed = math.prod(int(n) for n in shape) * itemsize
    if needed > limit:
        raise ImageError(f"{label}: the file declares {tuple(int(n) for n in shape)} {np.dtype(dtype).name} pixels "
                         f"({needed:,} bytes), over pyapp's limit of {limit:,} bytes; set "
                         f"{variable('image_bytes')} to raise it")


def load_npy(source: str | os.PathLike[str] | bytes, label: str | os.PathLike[str] | None = None) -> np.ndarray:
    """An ``.npy`` file or its bytes, after checking the header's shape and dtype against the limit.

    Raises
    ------
    ImageError
        A malformed header, an object dtype, or an array over ``PYAPP_MAX_IMAGE_BYTES``.
    """
    name = label if label is not None else ("<npy bytes>" if isinstance(source, bytes | bytearray) else source)
    fh: BinaryIO
    fh = io.BytesIO(source) if isinstance(source, bytes | bytearray) else Path(source).open("rb")
    with fh:
        try:
            version = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, _, dtype = read(fh)
        except (ValueError, OSError, EOFError, SyntaxError) as err:
            raise ImageError(f"{name}: cannot read image: not a valid .npy file ({err})") from err
        if dtype.hasobject:
            raise ImageError(f"{name}: .npy holds Python objects; pyapp reads numeric arrays only")
        check_image_size(name, shape, dtype)
        fh.seek(0)
        try:
            return np.load(fh, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise ImageError(f"{name}: cannot read image: {err}") from err


def check_values(array: np.ndarray, label: str | os.PathLike[str]) -> None:
    """ImageError for pixels a model cannot take: complex, text or object values, or all NaN."""
    kind = array.dtype.kind
    if kind == "c":
        raise ImageError(f"{label}: complex pixel values ({array.dtype.name}) are not supported; "
                         "save the magnitude or the real part")
    if kind not in "biuf":
        raise ImageError(f"{label}: pixel values of type {array.dtype.name} are not numbers")
    if kind == "f" and array.size and not np.isfinite(array).any() and np.isnan(array).all():
        raise ImageError(f"{label}: every pixel is NaN")
