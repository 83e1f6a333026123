"""web/pyapp/tiff.js (the page's label TIFF writer) through node: tifffile reads every file back identically."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tifffile

ROOT = Path(__file__).resolve().parents[1]
ENCODE = ROOT / "tests" / "js" / "tiff_encode.mjs"


def test_tiff_js_round_trips_through_tifffile(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.fail("node is needed to test web/pyapp/tiff.js", pytrace=False)
    rng = np.random.default_rng(11)
    arrays = {
        "labels": rng.integers(0, 65536, (37, 53)).astype(np.uint16),
        "bytes": rng.integers(0, 256, (5, 3)).astype(np.uint8),
        "signed": rng.integers(-30000, 30000, (4, 9)).astype(np.int16),
        "wide": rng.integers(0, 2**32 - 1, (6, 2), dtype=np.uint64).astype(np.uint32),
        "ints": rng.integers(-(2**31), 2**31 - 1, (3, 3)).astype(np.int32),
        "floats": rng.normal(size=(7, 11)).astype(np.float32),
        "one": np.array([[7]], np.uint16),
    }
    for name, array in arrays.items():
        h, w = array.shape
        (tmp_path / f"{name}.{array.dtype.name}.{h}x{w}.raw").write_bytes(array.tobytes())
    done = subprocess.run(["node", "--no-warnings", str(ENCODE), str(tmp_path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    for name, array in arrays.items():
        with tifffile.TiffFile(tmp_path / f"{name}.tif") as tif:
            page = tif.pages[0]
            assert page.compression == 1 and len(page.dataoffsets) == 1, name
            back = tif.asarray()
        assert back.dtype == array.dtype and back.shape == array.shape, name
        np.testing.assert_array_equal(back, array, err_msg=name)
