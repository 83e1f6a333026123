"""The bundled fluorescence nucleus model ``nuclei-dsb`` (trained by the build with the engine's recipe) finds the
nuclei of the DSB 2018 fluorescence image in the browser, and is the app's first *Segment* model.

The image and its mask come from ../shared (the same files as in the stardist wheel the recipe trains on); the
Dice of the foreground channel against the mask is computed here in numpy.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from app_fixtures import Site, bundled, launch, playwright, require_model, serve_built, watch  # noqa: F401
from shared_paths import SHARED

DSB = SHARED / "data" / "nuclei-dsb2018"
BLANK = "bundled-nuclei.html"


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    yield from serve_built("models/index.json")


def test_nuclei_dsb_is_the_default_segmenter() -> None:
    require_model("nuclei-dsb")
    segmenters = [e["id"] for e in bundled() if e.get("kind") == "segmentation"]
    assert segmenters[0] == "nuclei-dsb", segmenters


def test_fluorescence_image_gives_nuclei(playwright, site) -> None:  # noqa: F811
    import tifffile

    require_model("nuclei-dsb")
    image = tifffile.imread(DSB / "img2d.tif")
    truth = tifffile.imread(DSB / "mask2d.tif") > 0
    browser = launch(playwright)
    page = watch(browser.new_context().new_page())
    page.route(site.url + BLANK, lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>nuclei</title><body></body>"))
    page.goto(site.url + BLANK)
    got = page.evaluate("""async ([pixels, shape]) => {
      await import("./pyapp/app.js");
      await pyapp.ready;
      const r = await pyapp.predict("nuclei-dsb", {data: new Uint16Array(pixels), shape, dtype: "uint16"},
                                    {axes: "yx"});
      const out = r.outputs[0];
      const n = shape[0] * shape[1];
      return {shape: out.shape, fg: Array.from(out.data.subarray(0, n), (v) => (v > 0.5 ? 1 : 0))};
    }""", [image.ravel().tolist(), list(image.shape)])
    browser.close()
    assert got["shape"] == [1, 2, *image.shape]
    found = np.array(got["fg"], dtype=bool).reshape(image.shape)
    dice = 2 * np.sum(found & truth) / (found.sum() + truth.sum())
    print(f"nuclei-dsb foreground Dice on the DSB image: {dice:.3f}")
    assert dice >= 0.8
