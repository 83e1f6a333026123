"""Image files written block by block: the same file contents as writing the whole array at once."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tifffile

from pyapp.io import ImageError, open_image_writer, read_image, write_image


def _blocks(shape: tuple[int, ...], size: int):
    """Slices of ``size`` along the last two axes (uneven at the edges), whole along the others."""
    ys = range(0, shape[-2], size)
    xs = range(0, shape[-1], size)
    for y, x in itertools.product(ys, xs):
        yield (*(slice(None),) * (len(shape) - 2), slice(y, y + size), slice(x, x + size))


@pytest.mark.parametrize("suffix", [".tif", ".npy"])
@pytest.mark.parametrize(("shape", "axes", "dtype"), [
    ((70, 45), "yx", "float32"), ((2, 33, 50), "cyx", "uint16"), ((3, 2, 20, 21), "zcyx", "int8"),
    ((1, 40, 40), "cyx", "float64"),
])
def test_blocks_make_the_file_a_whole_write_makes(tmp_path, suffix, shape, axes, dtype):
    data = (np.random.default_rng(1).standard_normal(shape) * 50).astype(dtype)
    whole = write_image(tmp_path / f"whole{suffix}", data, axes)
    with open_image_writer(tmp_path / f"blocks{suffix}", shape, dtype, axes) as writer:
        for index in _blocks(shape, 16):
            writer[index] = data[index]
        path = writer.commit()
    got, got_axes = read_image(path)
    expected, expected_axes = read_image(whole)
    assert got_axes == expected_axes
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    if suffix == ".tif":
        with tifffile.TiffFile(path) as a, tifffile.TiffFile(whole) as b:
            assert a.series[0].axes == b.series[0].axes


def test_a_block_that_is_whole_along_all_but_the_first_axes_is_one_write(tmp_path):
    data = np.arange(4 * 6 * 5, dtype=np.float32).reshape(4, 6, 5)
    with open_image_writer(tmp_path / "a.npy", data.shape, data.dtype, "zyx") as writer:
        writer[1:3] = data[1:3]
        writer[0:1, 2:4, 1:5] = data[0:1, 2:4, 1:5]
        path = writer.commit()
    expected = np.zeros_like(data)  # unwritten parts read as zeros
    expected[1:3] = data[1:3]
    expected[0, 2:4, 1:5] = data[0, 2:4, 1:5]
    np.testing.assert_array_equal(np.load(path), expected)


def test_values_are_cast_and_broadcast_to_the_region(tmp_path):
    with open_image_writer(tmp_path / "a.npy", (4, 4), "uint8", "yx") as writer:
        writer[:2, :] = 7
        writer[2:, :] = np.full((2, 4), 300.7)  # cast like numpy assignment into a uint8 array
        path = writer.commit()
    expected = np.zeros((4, 4), np.uint8)
    expected[:2] = 7
    expected[2:] = np.full((2, 4), 300.7).astype(np.uint8)
    np.testing.assert_array_equal(np.load(path), expected)


def test_nothing_is_left_behind_when_the_writing_fails(tmp_path):
    with pytest.raises(RuntimeError), open_image_writer(tmp_path / "out.tif", (8, 8), "float32", "yx") as writer:
        writer[:4] = 1.0
        assert not (tmp_path / "out.tif").exists(), "the file has its name before it is complete"
        raise RuntimeError("the model failed")
    assert list(tmp_path.iterdir()) == []


def test_leaving_without_commit_removes_the_file(tmp_path):
    with open_image_writer(tmp_path / "out.npy", (8, 8), "float32", "yx") as writer:
        writer[:] = 1.0
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="already committed or discarded"):
        writer[:] = 2.0


def test_bad_requests_name_the_file(tmp_path):
    with pytest.raises(ImageError, match=r"out\.png: cannot be written block by block; use \.tif or \.npy"):
        open_image_writer(tmp_path / "out.png", (8, 8), "uint8", "yx")
    with open_image_writer(tmp_path / "out.npy", (8, 8), "uint8", "yx") as writer:
        with pytest.raises(IndexError, match="without a step"):
            writer[::2] = 1
        with pytest.raises(IndexError, match="at slices"):
            writer[0, 1] = 1
    assert list(tmp_path.iterdir()) == []
