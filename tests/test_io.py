"""Image files in and out, axis guessing and explicit axes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from shared_paths import SHARED

from pyapp.io import ImageError, guess_axes, read_image, write_image


@pytest.mark.parametrize(("shape", "color_last", "axes"), [
    ((5, 6), False, "yx"), ((3, 5, 6), False, "cyx"), ((9, 5, 6), False, "zyx"), ((5, 6, 3), True, "yxc"),
    ((1, 2, 5, 6), False, "bcyx"), ((1, 1, 4, 5, 6), False, "bczyx"),
])
def test_guess_axes(shape, color_last, axes):
    assert guess_axes(shape, color_last=color_last) == axes


def test_real_files():
    img, axes = read_image(SHARED / "data" / "nuclei-dsb2018" / "img2d.tif")
    assert (img.shape, img.dtype, axes) == ((512, 512), np.uint16, "yx")
    photo, axes = read_image(SHARED / "data" / "chelsea.png")
    assert photo.shape[-1] == 3 and axes == "yxc"


@pytest.mark.parametrize("suffix", [".tif", ".npy", ".png"])
def test_round_trip(tmp_path: Path, suffix: str):
    data = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    axes = "yxc" if suffix == ".png" else "zyx"
    write_image(tmp_path / f"a{suffix}", data, axes)
    back, back_axes = read_image(tmp_path / f"a{suffix}", axes=axes)
    np.testing.assert_array_equal(back, data)
    assert back_axes == axes


def test_tif_keeps_its_axes(tmp_path: Path):
    data = np.zeros((2, 7, 8), np.float32)
    write_image(tmp_path / "a.tif", data, "cyx")
    assert read_image(tmp_path / "a.tif")[1] == "cyx"


def test_errors_name_the_file(tmp_path: Path):
    with pytest.raises(ImageError, match="no such file"):
        read_image(tmp_path / "nope.tif")
    (tmp_path / "bad.tif").write_bytes(b"not a tiff")
    with pytest.raises(ImageError, match=r"bad.tif: cannot read image"):
        read_image(tmp_path / "bad.tif")
    np.save(tmp_path / "a.npy", np.zeros((3, 4)))
    with pytest.raises(ImageError, match=r"axes 'zyx' have 3 letters but the image has shape \(3, 4\)"):
        read_image(tmp_path / "a.npy", axes="zyx")
    with pytest.raises(ImageError, match="unknown image type"):
        write_image(tmp_path / "a.xyz", np.zeros((2, 2)), "yx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "bad.tif"]
