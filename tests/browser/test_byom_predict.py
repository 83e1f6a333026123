"""A model the user brings (PyTorch -> ``pyapp convert`` -> ``pyapp package --onnx``) predicts in headless Chromium
through ``window.pyapp.predict`` exactly as CPython does (<= 1e-4), whole and tiled with its halo."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from app_fixtures import Site, launch, playwright, serve_built  # noqa: F401
from byom_models import write_torch_package
from test_e2e_predict import PREDICT_JS, decode

from pyapp.cli import main as pyapp_main
from pyapp.io import read_image
from pyapp.runtime import ModelRunner, to_model_layout
from pyapp.spec import load

pytest.importorskip("torch", reason="torch is needed to build the test network (pyapp[zoo])")


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    yield from serve_built("index.html")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, serve_dir) -> tuple[str, Path]:
    """The user's package (zip) and an image of odd size, served from another origin."""
    import tifffile

    root = tmp_path_factory.mktemp("byom-served")
    ts = write_torch_package(root / "torchscript", "torchscript")
    assert pyapp_main(["convert", str(ts), "--to", "onnx", "-o", str(root / "converted")]) == 0
    yy, xx = np.mgrid[:150, :130]
    tifffile.imwrite(root / "cells.tif", (1000 + 500 * np.sin(yy / 5.0) * np.cos(xx / 4.0)).astype(np.uint16))
    args = ["package", "--onnx", str(root / "converted" / "weights.onnx"), "--input-axes", "bcyx", "--output-axes",
            "bcyx", "--sample", str(root / "cells.tif"), "--halo", "4", "--preprocess", "zero_mean_unit_variance",
            "--postprocess", "softmax", "--name", "User net", "--author", "Ada", "--license", "MIT",
            "-o", str(root / "user.zip")]
    assert pyapp_main(args) == 0
    return serve_dir(root) + "/", root


@pytest.fixture(scope="module")
def page(playwright, site: Site):  # noqa: F811
    browser = launch(playwright)
    pg = browser.new_page()
    pg.goto(site.url)
    pg.evaluate("window.pyapp.ready")
    yield pg
    browser.close()


@pytest.mark.parametrize("options", [{}, {"tile": 64}], ids=["whole", "tiled"])
def test_user_package_predicts_like_cpython(page, served: tuple[str, Path], options: dict):
    url, root = served
    result = page.evaluate(PREDICT_JS, [url + "user.zip", url + "cells.tif", options])
    assert result["backend"].startswith("onnxruntime-web")
    (out,) = result["outputs"]
    got = decode(out)
    model = load(root / "user.zip")
    array, axes = read_image(root / "cells.tif")
    x = to_model_layout(array, axes, model.inputs[0])
    tile = {"y": options["tile"], "x": options["tile"]} if options else None
    expected = ModelRunner(model).predict_sync({model.inputs[0].id: x}, tile=tile)[model.outputs[0].id]
    assert got.shape == expected.shape == (1, 2, 150, 130)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    np.testing.assert_allclose(got.sum(axis=1), 1, atol=1e-5)  # softmax over the two channels
