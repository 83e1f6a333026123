"""Annotation in headless Chromium: the driver draws with the mouse (brush stroke, polygon, eraser, undo); the label
image must equal a rasterisation computed here from the tools' definitions (pixels whose centre lies within the
brush radius of the stroke; pixels whose centre lies inside or on the polygon). It is exported as a uint16 TIFF
(read back with tifffile), kept over a reload (IndexedDB), scored as ground truth by pyapp.evaluate, and offered
to the Train panel as a training pair.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from app_fixtures import READY, app_site, choose_model, launch, open_app, open_image, playwright  # noqa: F401
from skimage.measure import points_in_poly

H, W, SIZE = 48, 64, 5  # the image; the brush diameter in pixels (radius 2.5: no pixel centre at exactly r)
STROKE = ((8, 10), (30, 10))  # (x, y) pixels: label 1, a horizontal brush stroke
POLYGON = ((40, 5), (58, 8), (50, 30), (44, 25))  # label 2, the last corner by double-click
ERASE = ((20, 4), (20, 16))  # a vertical eraser stroke across the brush stroke
UNDONE = ((5, 40), (25, 40))  # label 3, then undone


def capsule(p0: tuple, p1: tuple, r: float) -> np.ndarray:
    """Pixels whose centre is within r of the segment p0–p1 (closest point on the segment, in floats)."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    (x0, y0), (x1, y1) = p0, p1
    v = np.array([x1 - x0, y1 - y0], np.float64)
    t = np.clip(((xx - x0) * v[0] + (yy - y0) * v[1]) / max(v @ v, 1e-12), 0, 1)
    return (xx - (x0 + t * v[0])) ** 2 + (yy - (y0 + t * v[1])) ** 2 <= r * r


def polygon(points: tuple) -> np.ndarray:
    """Pixels whose centre is inside the polygon (skimage) or on one of its edges (exact integer test)."""
    yy, xx = np.mgrid[0:H, 0:W]
    inside = points_in_poly(np.stack([xx.ravel(), yy.ravel()], 1), np.array(points, np.float64)).reshape(H, W)
    edge = np.zeros((H, W), bool)
    for (ax, ay), (bx, by) in zip(points, points[1:] + points[:1], strict=True):
        on_line = (bx - ax) * (yy - ay) == (by - ay) * (xx - ax)
        edge |= on_line & (np.minimum(ax, bx) <= xx) & (xx <= np.maximum(ax, bx)) & (np.minimum(ay, by) <= yy) & (
            yy <= np.maximum(ay, by))
    return inside | edge


def expected_labels() -> np.ndarray:
    labels = np.zeros((H, W), np.uint16)
    labels[capsule(*STROKE, SIZE / 2)] = 1
    labels[polygon(POLYGON)] = 2
    labels[capsule(*ERASE, SIZE / 2)] = 0
    return labels


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("annotate") / "annotate-me.tif"
    tifffile.imwrite(path, np.random.default_rng(3).integers(0, 200, (H, W)).astype(np.uint8))
    return path


@pytest.fixture(scope="module")
def app(playwright, app_site):  # noqa: F811
    browser = launch(playwright)
    context, page = open_app(browser, app_site.url)
    yield page
    context.close()
    browser.close()


def client(page, x: int, y: int) -> tuple[float, float]:
    """Where the centre of pixel (x, y) of the input pane is on the screen."""
    return tuple(page.evaluate(f"window.pyapp.viewer.view.toClient('input', {x} + 0.5, {y} + 0.5)"))


def drag(page, p0: tuple, p1: tuple) -> None:
    page.mouse.move(*client(page, *p0))
    page.mouse.down()
    page.mouse.move(*client(page, *p1), steps=12)
    page.mouse.up()


def annotation(page, name: str) -> np.ndarray:
    got = page.evaluate(f"""async () => {{ const a = await window.pyapp.annotations.get({name!r});
        return {{shape: a.shape, dtype: a.dtype, data: Array.from(a.data)}}; }}""")
    assert got["dtype"] == "uint16" and got["shape"] == [H, W]
    return np.asarray(got["data"], np.uint16).reshape(H, W)


def test_drawn_annotation_exports_persists_scores_and_trains(app, image, tmp_path):
    choose_model(app, "smooth2d")
    open_image(app, image)
    app.click("#annotate-box summary")
    app.click("[data-tool=brush]")
    app.evaluate(f"() => {{ const s = document.getElementById('brush-size'); s.value = '{SIZE}'; "
                 "s.dispatchEvent(new Event('input')); }")
    drag(app, *STROKE)
    app.click("#ann-new")
    app.click("[data-tool=polygon]")
    for corner in POLYGON[:-1]:
        app.mouse.click(*client(app, *corner))
    app.mouse.dblclick(*client(app, *POLYGON[-1]))
    app.click("[data-tool=eraser]")
    drag(app, *ERASE)
    app.click("[data-tool=brush]")
    app.click("#ann-new")
    assert app.input_value("#ann-label") == "3"
    drag(app, *UNDONE)
    assert (annotation(app, image.name) == 3).any()
    app.click("#ann-undo")
    expected = expected_labels()
    assert set(np.unique(expected)) == {0, 1, 2}
    np.testing.assert_array_equal(annotation(app, image.name), expected)

    with app.expect_download() as info:
        app.click("#ann-export")
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    assert saved.name == "annotate-me_labels.tif"
    exported = tifffile.imread(saved)
    assert exported.dtype == np.uint16
    np.testing.assert_array_equal(exported, expected)

    other = np.where(expected == 2, 0, expected)  # object 2 missed, a false object 3 found
    other[38:45, 5:12] = 3
    scores = app.evaluate("""async ([truth, missing]) => {
        const gt = await window.pyapp.annotations.get('annotate-me.tif');
        const as = (d) => ({data: new Uint16Array(d), shape: [48, 64], dtype: 'uint16'});
        return [await window.pyapp.evaluate(as(truth), gt), await window.pyapp.evaluate(as(missing), gt)]; }""",
                          [expected.ravel().tolist(), other.ravel().tolist()])
    assert scores[0]["kind"] == "labels" and scores[0]["metrics"]["f1"] == 1.0, scores[0]
    assert (scores[1]["metrics"]["tp"], scores[1]["metrics"]["fp"], scores[1]["metrics"]["recall"]) == (1, 1, 0.5)

    app.reload()
    app.wait_for_function(READY, timeout=120_000)
    listed = app.evaluate("window.pyapp.annotations.list()")
    assert [(a["name"], a["objects"]) for a in listed] == [(image.name, 2)]
    choose_model(app, "smooth2d")
    open_image(app, image)
    assert "annotations restored: 2 objects" in app.text_content("#log")
    np.testing.assert_array_equal(annotation(app, image.name), expected)

    pairs = app.evaluate("""async () => (await window.pyapp.annotations.pairs()).map((p) => ({name: p.name,
        image: p.image.shape, mask: p.mask.shape, labels: Array.from(p.mask.data)}))""")
    assert [(p["name"], p["image"], p["mask"]) for p in pairs] == [(image.name, [H, W], [H, W])]
    np.testing.assert_array_equal(np.asarray(pairs[0]["labels"]).reshape(H, W), expected)
    app.click("#engine-btn")
    app.click("#engine-annotated")
    app.wait_for_function("document.body.dataset.enginePairs === '1'")
    assert image.name in app.text_content("#engine-pairs")
