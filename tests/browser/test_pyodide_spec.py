"""pyapp inside Pyodide 0.27.7: boot, install our wheel from the built dist dir, validate a gold model.

Run: ``pytest tests/browser`` (node; ``--rt node,chrome`` adds headless Chromium). Needs ``python build.py``.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pytest_pyodide import run_in_pyodide

from pyapp.sitebuild import write_simple_index

ROOT = Path(__file__).resolve().parents[2]
GOLD = ROOT.parent / "shared" / "corpus" / "bioimageio-examples" / "models"
MODEL = GOLD / "unet2d_nuclei_broad"
MODEL_FILES = (
    "bioimageio.yaml", "weights.onnx", "test_input.npy", "test_output.npy", "cover0.png", "environment.yaml",
    "test_input.png", "test_output.png",
)
# Files the gold RDF names but the corpus folder does not hold: the only acceptable errors.
ABSENT_FILES = ("unet2d.py", "weights.pt", "README.md")


@run_in_pyodide(packages=["numpy"])
def numpy_roundtrip(selenium) -> tuple[str, list[float]]:
    """numpy works in Pyodide: a small float32 computation, returned as plain Python values."""
    import numpy as np

    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    y = (x - x.mean()) / x.std()
    return np.__version__, [float(v) for v in y.sum(axis=0)]


def test_numpy_in_pyodide(selenium) -> None:
    """Pyodide's own numpy 2.0.2 loads from the dist dir and computes correctly."""
    version, sums = numpy_roundtrip(selenium)
    assert version == "2.0.2"
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert sums == pytest.approx(((x - x.mean()) / x.std()).sum(axis=0).tolist(), abs=1e-6)


@run_in_pyodide
def false_assertion(selenium) -> None:
    """A deliberately false assertion, to prove failures inside Pyodide reach the host."""
    assert 1 + 1 == 3, "expected failure inside Pyodide"


def test_harness_reports_failures(selenium) -> None:
    """run_in_pyodide must raise on the host when an assertion fails inside Pyodide."""
    with pytest.raises(AssertionError, match="expected failure inside Pyodide"):
        false_assertion(selenium)


@run_in_pyodide(packages=["micropip"])
async def install_pyapp(selenium, wheel: str) -> dict[str, str]:
    """micropip installs our wheel by relative URL; its dependencies resolve from the offline lock."""
    import micropip

    await micropip.install(wheel)
    import numpy
    import yaml

    import pyapp
    import pyapp.spec

    assert pyapp.spec.__name__ == "pyapp.spec"
    assert not yaml.__with_libyaml__
    return {"pyapp": pyapp.__version__, "numpy": numpy.__version__, "yaml": yaml.__version__}


def test_micropip_installs_pyapp(selenium_standalone, pyodide_dist: Path) -> None:
    """Our wheel, pure PyYAML 6.0.3 and numpy install offline from the dist dir (fresh Pyodide)."""
    wheel = next(p.name for p in pyodide_dist.glob("pyapp-*-py3-none-any.whl"))
    versions = install_pyapp(selenium_standalone, wheel)
    assert versions["yaml"] == "6.0.3"
    assert versions["numpy"] == "2.0.2"


@run_in_pyodide(packages=["pyapp"])
async def validate_in_pyodide(selenium, base_url: str, names: list[str]) -> list[tuple[str, str, str]]:
    """Fetch the model files into /tmp/m and validate its RDF with pyapp.spec inside Pyodide."""
    from pathlib import Path

    from pyodide.http import pyfetch

    folder = Path("/tmp/m")
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        response = await pyfetch(f"{base_url}/{name}")
        assert response.ok, f"{name}: HTTP {response.status}"
        (folder / name).write_bytes(await response.bytes())
    from pyapp.spec import validate

    issues = validate("/tmp/m/bioimageio.yaml", io_checks=True)
    return [(str(i.severity), i.path, i.message) for i in issues]


def test_validate_gold_model_in_pyodide(selenium, serve_dir: Callable[[Path], str]) -> None:
    """loadPackage("pyapp") + validate(): only the absent files are errors; the remote state dict warns."""
    issues = validate_in_pyodide(selenium, serve_dir(MODEL), list(MODEL_FILES))
    errors = [i for i in issues if i[0] == "error"]
    unexpected = [i for i in errors if not any(name in i[2] for name in ABSENT_FILES)]
    assert not unexpected, unexpected
    assert {name for name in ABSENT_FILES if any(name in i[2] for i in errors)} == set(ABSENT_FILES), errors
    warnings = [i for i in issues if i[0] == "warning"]
    assert any("pytorch_state_dict" in w[1] and "http" in w[2] for w in warnings), warnings


@run_in_pyodide(packages=["micropip"])
async def install_from_index(selenium, index_url: str) -> dict[str, str]:
    """micropip resolves pyapp and pyyaml from our simple index, numpy from the lock."""
    from importlib.metadata import distribution

    import micropip

    await micropip.install("pyapp", index_urls=[index_url])
    import pyapp.spec  # noqa: F401

    # micropip records where each wheel came from; lock packages have no PYODIDE_URL.
    return {name: distribution(name).read_text("PYODIDE_URL") or "lock" for name in ("pyapp", "pyyaml", "numpy")}


def test_simple_index_serves_micropip(
    selenium_standalone, serve_dir: Callable[[Path], str], tmp_path: Path
) -> None:
    """A copy of wheels/ with an index written for its absolute URL (``--wheels-url``) installs pyapp."""
    for wheel in (ROOT / "wheels").glob("*.whl"):
        shutil.copyfile(wheel, tmp_path / wheel.name)
    base = serve_dir(tmp_path)
    write_simple_index(tmp_path, base_url=base + "/")
    urls = install_from_index(selenium_standalone, base + "/simple/{package_name}/index.json")
    assert urls["pyapp"].startswith(base + "/pyapp-"), urls
    assert urls["pyyaml"] == base + "/pyyaml-6.0.3-py3-none-any.whl", urls
    assert not urls["numpy"].startswith(base), urls


def test_simple_index_serves_pip(pyodide_dist: Path, tmp_path: Path) -> None:
    """pip (host) installs pyapp from the relative-URL index in static/wheels/simple (PEP 503 pages)."""
    index = (pyodide_dist.parent / "wheels" / "simple").as_uri() + "/"
    cmd = [sys.executable, "-m", "pip", "download", "--isolated", "--no-deps", "--index-url", index,
           "--only-binary=:all:", "-d", str(tmp_path), "pyapp"]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    assert [p.name for p in tmp_path.glob("pyapp-*.whl")], list(tmp_path.iterdir())


@run_in_pyodide(packages=["imageio", "tifffile"])
def read_images(selenium, tif: bytes, png: bytes) -> dict[str, object]:
    """The shipped pure imageio and tifffile (with official numpy + pillow) read a TIFF and a PNG."""
    import io

    import imageio.v3 as iio
    import numpy as np
    import tifffile

    stack = tifffile.imread(io.BytesIO(tif))
    image = iio.imread(png, extension=".png")
    via_imageio = iio.imread(tif, extension=".tif")
    assert np.array_equal(via_imageio, stack)
    return {
        "versions": [tifffile.__version__, iio.__name__, __import__("imageio").__version__],
        "tif": [list(stack.shape), str(stack.dtype), int(stack.sum())],
        "png": [list(image.shape), str(image.dtype), int(image.sum())],
    }


def test_imageio_tifffile_in_pyodide(selenium_standalone) -> None:
    """imageio 2.38.1 and tifffile 2026.3.3 load from the lock and decode files written on the host."""
    import imageio.v3 as iio
    import tifffile

    stack = np.arange(3 * 8 * 6, dtype=np.uint16).reshape(3, 8, 6) * 7
    image = (np.arange(8 * 6 * 3, dtype=np.uint8).reshape(8, 6, 3) * 5) % 251
    tif = io.BytesIO()
    tifffile.imwrite(tif, stack, photometric="minisblack")
    png = iio.imwrite("<bytes>", image, extension=".png")
    got = read_images(selenium_standalone, tif.getvalue(), png)
    assert got["versions"][0] == "2026.3.3" and got["versions"][2] == "2.38.1", got
    assert got["tif"] == [[3, 8, 6], "uint16", int(stack.sum())]
    assert got["png"] == [[8, 6, 3], "uint8", int(image.sum())]
