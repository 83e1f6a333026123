"""Image files in and out; tifffile and imageio are imported only when such a file is used."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ..spec._errors import one_line
from ._guard import ImageError, check_image_size, load_npy

AXIS_LETTERS = "bctzyxi"
_TIFF_AXES = {"Y": "y", "X": "x", "Z": "z", "C": "c", "S": "c", "T": "t", "Q": "b", "I": "b"}
_PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
_TIFF_SUFFIXES = (".tif", ".tiff")


def guess_axes(shape: tuple[int, ...], *, color_last: bool = False) -> str:
    """Axes for an array of ``shape`` when the file does not say: yx, cyx/zyx, bcyx, bczyx.

    A 3D array is ``yxc`` when ``color_last`` (photos) and its last size is 3 or 4, ``cyx`` when its first
    size is at most 4, else ``zyx``.
    """
    ndim = len(shape)
    if ndim == 2:
        return "yx"
    if ndim == 3:
        if color_last and shape[-1] in (3, 4):
            return "yxc"
        return "cyx" if shape[0] <= 4 else "zyx"
    if ndim == 4:
        return "bcyx" if shape[1] <= 4 else "czyx"
    if ndim == 5:
        return "bczyx"
    raise ImageError(f"cannot guess the axes of a {ndim}D array with shape {shape}: pass axes explicitly")


def _check_axes(axes: str, shape: tuple[int, ...], path: Path) -> str:
    axes = axes.lower()
    bad = [a for a in axes if a not in AXIS_LETTERS]
    if bad or len(set(axes)) != len(axes):
        raise ImageError(f"{path}: axes {axes!r} must be distinct letters from {AXIS_LETTERS!r}")
    if len(axes) != len(shape):
        raise ImageError(f"{path}: axes {axes!r} have {len(axes)} letters but the image has shape {shape}")
    return axes


def _read_tiff(path: Path) -> tuple[np.ndarray, str | None]:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        if not tif.series:
            raise ImageError(f"{path}: the TIFF holds no image")
        series = tif.series[0]
        check_image_size(path, tuple(series.shape), series.dtype)
        array = series.asarray()
        letters = "".join(_TIFF_AXES.get(a, "?") for a in series.axes)
    if "?" in letters or len(set(letters)) != len(letters):
        return array, None
    return array, letters


def _read_photo(path: Path) -> np.ndarray:
    """A png/jpg/... decoded after its header's size passed the memory check (Pillow reads headers lazily;
    its own decompression-bomb error still applies above 2 × ``Image.MAX_IMAGE_PIXELS``)."""
    import warnings

    import imageio.v3 as iio

    try:
        from PIL import Image
    except ImportError:  # imageio without Pillow: decode and check after
        array = np.asarray(iio.imread(path))
        check_image_size(path, array.shape, array.dtype)
        return array
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit decides below
        with Image.open(path) as im:
            width, height, bands = im.width, im.height, len(im.getbands())
        check_image_size(path, (height, width, bands), np.uint16 if bands == 1 else np.uint8)
        return np.asarray(iio.imread(path))


def read_image(path: str | os.PathLike[str], *, axes: str | None = None) -> tuple[np.ndarray, str]:
    """The image in ``path`` and its axes (``axes`` overrides what the file says or what is guessed).

    Raises
    ------
    ImageError
        When the file is missing, of an unknown type, unreadable, or ``axes`` does not fit.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    file_axes: str | None = None
    try:
        if suffix == ".npy":
            array = load_npy(path)
        elif suffix in _TIFF_SUFFIXES:
            array, file_axes = _read_tiff(path)
        elif suffix in _PHOTO_SUFFIXES:
            array = _read_photo(path)
        else:
            raise ImageError(f"{path}: unknown image type {suffix!r}; use .tif, .png, .jpg or .npy")
    except ImageError:
        raise
    except MemoryError:
        raise ImageError(f"{path}: not enough memory to read this image") from None
    except Exception as err:
        raise ImageError(f"{path}: cannot read image: {one_line(err)}") from err
    if axes is None:
        axes = file_axes or guess_axes(array.shape, color_last=suffix in _PHOTO_SUFFIXES)
    return array, _check_axes(axes, array.shape, path)


def _tiff_axes(axes: str) -> str:
    return "".join({"b": "Q", "i": "Q"}.get(a, a.upper()) for a in axes)


def write_image(path: str | os.PathLike[str], array: np.ndarray, axes: str) -> Path:
    """Write ``array`` to ``path`` (type from the suffix) atomically: a failed write leaves nothing behind.

    tif keeps any dtype and records the axes; png/jpg need 2D or yx+3/4 channel uint8/uint16 data.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    _check_axes(axes, array.shape, path)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if suffix == ".npy":
            np.save(tmp, array)
        elif suffix in _TIFF_SUFFIXES:
            import tifffile

            tifffile.imwrite(tmp, array, metadata={"axes": _tiff_axes(axes)})
        elif suffix in _PHOTO_SUFFIXES:
            import imageio.v3 as iio

            iio.imwrite(tmp, array, extension=suffix)
        else:
            raise ImageError(f"{path}: unknown image type {suffix!r}; use .tif, .png, .jpg or .npy")
        os.replace(tmp, path)
    except ImageError:
        tmp.unlink(missing_ok=True)
        raise
    except Exception as err:
        tmp.unlink(missing_ok=True)
        raise ImageError(f"{path}: cannot write image: {err}") from err
    return path
