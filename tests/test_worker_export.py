"""The model worker's file writer (pyapp.runtime.worker_export.write) in CPython: what the page's downloads
hold, read back with tifffile and PIL (the browser test reads the page's own downloads the same way)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import tifffile
from PIL import Image

from pyapp.runtime.worker_export import write


def test_tiff_keeps_shape_and_dtype() -> None:
    for array in (np.random.default_rng(0).random((1, 2, 17, 9), dtype=np.float32),
                  np.arange(40 * 30, dtype=np.uint16).reshape(40, 30)):
        back = tifffile.imread(io.BytesIO(write(array, "tiff")))
        assert back.dtype == array.dtype and back.shape == array.shape
        np.testing.assert_array_equal(back, array)


def test_png_is_16_bit_grey() -> None:
    labels = (np.arange(50 * 20).reshape(50, 20) % 1000).astype(np.int32)
    with Image.open(io.BytesIO(write(labels, "png"))) as im:
        assert im.mode == "I;16" and im.size == (20, 50)
        np.testing.assert_array_equal(np.array(im), labels)


@pytest.mark.parametrize(("array", "fmt", "message"), [
    (np.zeros((2, 4, 4), np.uint16), "png", "one plane of whole numbers"),
    (np.zeros((4, 4), np.float32), "png", "one plane of whole numbers"),
    (np.full((4, 4), 70000, np.int32), "png", "save this image as TIFF"),
    (np.zeros((4, 4), np.uint8), "jpeg", "cannot write 'jpeg' files"),
])
def test_bad_requests_say_why(array: np.ndarray, fmt: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write(array, fmt)
