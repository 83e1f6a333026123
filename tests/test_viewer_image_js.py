"""web/pyapp/viewer-image.js (the viewer's arrays) through node, against numpy: planes of z/t stacks with
channels, the grey conversion (ITU-R BT.601 luma for RGB, the mean otherwise), a channel pick, channel
replication, refusals, and the auto contrast (0.5 / 99.5 percentiles)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECK = ROOT / "tests" / "js" / "viewer_image_check.mjs"


def _run(cases: list[dict], tmp_path: Path) -> dict[str, dict]:
    if shutil.which("node") is None:
        pytest.fail("node is needed to test web/pyapp/viewer-image.js", pytrace=False)
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases))
    done = subprocess.run(["node", "--no-warnings", str(CHECK), str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return {r["name"]: r for r in map(json.loads, done.stdout.splitlines())}


def _case(name: str, array: np.ndarray, axes: str, plane: int, want: int, choice: str | None) -> dict:
    return {"name": name, "dtype": array.dtype.name, "shape": list(array.shape), "axes": axes,
            "data": array.ravel().tolist(), "plane": plane, "want": want, "choice": choice}


def test_viewer_image_matches_numpy(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    tczyx = rng.integers(0, 4000, (2, 2, 3, 10, 20)).astype(np.uint16)  # t, c, z, y, x
    rgb = rng.integers(0, 256, (10, 20, 3)).astype(np.uint8)
    grey = rng.random((25, 40)).astype(np.float32)
    cases = [
        _case("stack-c1", tczyx, "tczyx", 4, 1, "c1"),  # plane 4 = t 1, z 1
        _case("stack-grey", tczyx, "tczyx", 5, 1, "grey"),
        _case("stack-unpicked", tczyx, "tczyx", 0, 1, None),
        _case("rgb-grey", rgb, "yxc", 0, 1, "grey"),
        _case("rgb-as-is", rgb, "yxc", 0, 3, None),
        _case("grey-to-3", grey, "yx", 0, 3, None),
        _case("rgb-to-2", rgb, "yxc", 0, 2, None),
    ]
    got = _run(cases, tmp_path)

    stack = got["stack-c1"]
    assert stack["layout"]["planes"] == 6 and stack["layout"]["planeLabel"] == "plane"
    assert (stack["layout"]["channels"], stack["layout"]["width"], stack["layout"]["height"]) == (2, 20, 10)
    np.testing.assert_array_equal(np.asarray(stack["channel0"]).reshape(10, 20), tczyx[1, 0, 1])
    assert stack["input"]["axes"] == "yx" and stack["input"]["dtype"] == "uint16"
    np.testing.assert_array_equal(np.asarray(stack["input"]["data"]).reshape(10, 20), tczyx[1, 1, 1])
    np.testing.assert_allclose(np.asarray(got["stack-grey"]["input"]["data"]).reshape(10, 20),
                               tczyx[1, :, 2].astype(np.float64).mean(0), rtol=1e-6)
    assert "2 channels" in got["stack-unpicked"]["error"] and "pick a channel" in got["stack-unpicked"]["error"]

    luma = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    rgb_grey = got["rgb-grey"]
    assert rgb_grey["layout"]["colour"] and rgb_grey["input"]["dtype"] == "float32"
    np.testing.assert_allclose(np.asarray(rgb_grey["input"]["data"]).reshape(10, 20), luma, rtol=1e-5)
    lo, hi = np.percentile(rgb[..., :3].transpose(2, 0, 1).ravel(), [0.5, 99.5], method="nearest")
    assert (rgb_grey["contrast"]["lo"], rgb_grey["contrast"]["hi"]) == (lo, hi)
    assert (rgb_grey["contrast"]["min"], rgb_grey["contrast"]["max"]) == (rgb.min(), rgb.max())
    np.testing.assert_array_equal(np.asarray(got["rgb-as-is"]["input"]["data"]).reshape(10, 20, 3), rgb)
    three = np.asarray(got["grey-to-3"]["input"]["data"], np.float32).reshape(25, 40, 3)
    np.testing.assert_array_equal(three, np.repeat(grey[..., None], 3, axis=2))
    assert "3 channels and the model takes 2" in got["rgb-to-2"]["error"]
