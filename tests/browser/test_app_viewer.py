"""The viewer in headless Chromium: zoom and pan (synced panes, wheel, drag, pinch, reset), crisp enlargement,
contrast, a z-stack run plane by plane with the result following the slider, colour images and 3D arrays read as
stated, tile size, both kinds of Cancel.

Images are made here (numpy, tifffile, imageio) and expected pixels computed here from their definitions.
"""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from app_fixtures import (  # noqa: F401
    BOOT_MS,
    CLASSIFIER,
    READY,
    app_site,
    choose_model,
    launch,
    open_app,
    open_image,
    playwright,
    require_model,
    run_and_wait,
)

PROGRESS_LOG = """() => { window.progressSeen = []; new MutationObserver(() => window.progressSeen.push(
    document.getElementById('progress-text').textContent)).observe(document.getElementById('progress-text'),
    {childList: true, characterData: true, subtree: true}); }"""


@pytest.fixture(scope="module")
def browser(playwright):  # noqa: F811
    b = launch(playwright)
    yield b
    b.close()


@pytest.fixture(scope="module")
def app(browser, app_site):  # noqa: F811
    context, page = open_app(browser, app_site.url)
    yield page
    context.close()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("viewer-inputs")
    rng = np.random.default_rng(5)
    grey = rng.integers(20, 120, (48, 64)).astype(np.uint16)
    grey[10:13, 30:33] = 3000  # one small bright spot (9 pixels): auto contrast clips it
    tifffile.imwrite(root / "grey.tif", grey)
    stack = np.zeros((3, 40, 56), np.uint8)
    for z in range(3):  # a bright square at another place in each plane
        stack[z, 5 + 10 * z : 15 + 10 * z, 8 + 12 * z : 20 + 12 * z] = 200
    tifffile.imwrite(root / "stack.tif", stack, imagej=True, metadata={"axes": "ZYX"})
    rgb = rng.integers(0, 256, (24, 32, 3)).astype(np.uint8)
    iio.imwrite(root / "colour.png", rgb)
    tifffile.imwrite(root / "colour.tif", rgb, photometric="rgb")
    np.save(root / "big.npy", rng.random((3072, 3072), dtype=np.float32))  # 9216 tiles of 32: seconds at least
    return root


def canvas_pixels(page, name: str) -> np.ndarray:
    """The RGB pixels of a canvas as (h, w, 3)."""
    w, h, data = page.evaluate(f"""() => {{ const c = document.getElementById({name!r});
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        return [c.width, c.height, Array.from(d)]; }}""")
    return np.asarray(data, np.uint8).reshape(h, w, 4)[..., :3]


def set_range(page, selector: str, value: float) -> None:
    page.evaluate("([s, v]) => { const e = document.querySelector(s); e.value = String(v); "
                  "e.dispatchEvent(new Event('input', {bubbles: true})); }", [selector, value])


def state(page) -> dict:
    return page.evaluate("() => { const s = window.pyapp.viewer.view.state(); return {...s, "
                         "input_css: document.getElementById('input-canvas').style.transform, "
                         "output_css: document.getElementById('output-canvas').style.transform, "
                         "rendering: document.getElementById('input-canvas').style.imageRendering}; }")


def test_zoom_pan_reset_synced_and_crisp(app, images):
    choose_model(app, "smooth2d")
    open_image(app, images / "grey.tif")
    assert run_and_wait(app) == "done", app.text_content("#log")[-300:]
    fitted = state(app)
    assert fitted["zoom"] == 1 and fitted["world"] == [64, 48]
    assert fitted["rendering"] == "pixelated" and fitted["input"]["k"] > 4  # 64×48 enlarged crisply
    box = app.locator("#input-pane .frame").bounding_box()
    app.mouse.move(box["x"] + box["width"] / 3, box["y"] + box["height"] / 3)
    app.mouse.wheel(0, -400)
    app.wait_for_function("Number(document.body.dataset.zoom) > 1.5")
    zoomed = state(app)
    assert zoomed["input_css"] != fitted["input_css"] and zoomed["output_css"] != fitted["output_css"]
    assert zoomed["input"] == zoomed["output"]  # both panes show the same part of the image
    app.mouse.down()
    app.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=4)
    app.mouse.up()
    panned = state(app)
    assert panned["cx"] < zoomed["cx"] and panned["cy"] < zoomed["cy"] and panned["zoom"] == zoomed["zoom"]
    app.click("#view-reset")
    back = state(app)
    assert (back["zoom"], back["cx"], back["cy"]) == (1, 32, 24)
    assert back["input_css"] == fitted["input_css"] and back["output_css"] == fitted["output_css"]


def test_contrast_auto_and_sliders_change_rendered_pixels(app, images):
    open_image(app, images / "grey.tif")
    grey = tifffile.imread(images / "grey.tif").astype(np.float64)
    lo, hi = (float(app.eval_on_selector(s, "e => e.value")) for s in ("#contrast-lo", "#contrast-hi"))
    assert grey.min() <= lo < hi < 3000  # auto: the bright spot is clipped, the cells are spread out
    for new_lo, new_hi in ((lo, hi), (40, 100), (grey.min(), 3000)):
        set_range(app, "#contrast-hi", new_hi)
        set_range(app, "#contrast-lo", new_lo)
        assert [float(app.eval_on_selector(s, "e => e.value")) for s in ("#contrast-lo", "#contrast-hi")] == [
            new_lo, new_hi]
        shown = canvas_pixels(app, "input-canvas")[..., 0].astype(int)
        expected = np.clip((grey - new_lo) * 255 / (new_hi - new_lo), 0, 255)
        assert np.abs(shown - expected).max() <= 1, (new_lo, new_hi)


def test_z_stack_runs_every_plane_and_the_result_follows_the_slider(app, images):
    choose_model(app, "smooth2d")
    open_image(app, images / "stack.tif")
    assert app.is_visible("#plane-box") and app.text_content("#plane-text") == "1/3"
    app.evaluate(PROGRESS_LOG)
    assert run_and_wait(app) == "done"
    seen = " | ".join(app.evaluate("window.progressSeen"))
    for z in (1, 2, 3):
        assert f"z {z}/3" in seen, seen
    stack = tifffile.imread(images / "stack.tif")
    for z in (2, 0, 1):
        set_range(app, "#plane", z)
        app.wait_for_function(f"document.body.dataset.plane === '{z}'")
        assert app.evaluate("window.pyapp.annotations.get().then((a) => a.name)") == f"stack.tif (z {z + 1})"
        out = np.asarray(app.evaluate("""async (z) => {
            const r = await window.pyapp.predict('smooth2d', {data: new Uint8Array(z), shape: [40, 56],
                                                             dtype: 'uint8'}, {axes: 'yx'});
            return Array.from(r.outputs[0].data); }""", stack[z].reshape(-1).tolist()), np.float64).reshape(40, 56)
        expected = np.round(255 * (out - out.min()) / (out.max() - out.min()))
        shown = canvas_pixels(app, "output-canvas")[..., 0].astype(int)
        assert np.abs(shown - expected).max() <= 1, z


def test_first_axis_of_a_3d_array_can_be_read_as_z_planes(app, images):
    """A (3, 40, 56) npy is guessed as 3 channels (stated); First axis → z planes runs it plane by plane."""
    np.save(images / "stack.npy", tifffile.imread(images / "stack.tif"))
    choose_model(app, "smooth2d")
    open_image(app, images / "stack.npy")
    assert app.is_visible("#axes-box") and app.input_value("#axes-pick") == "c"
    assert "3-channel image → grey" in app.text_content("#convert-note") and app.is_hidden("#plane-box")
    app.select_option("#axes-pick", "z")
    assert app.is_hidden("#convert-note") and app.text_content("#plane-text") == "1/3"
    app.evaluate(PROGRESS_LOG)
    assert run_and_wait(app) == "done"
    assert "z 3/3" in " | ".join(app.evaluate("window.progressSeen"))
    assert "axes zyx: 3 z plane(s) of 1 channel(s)" in app.text_content("#log")


@pytest.mark.parametrize("name", ["colour.png", "colour.tif"])
def test_colour_image_conversion_is_stated_and_can_be_changed(app, images, name):
    choose_model(app, "smooth2d")
    open_image(app, images / name)
    note = app.text_content("#convert-note")
    assert app.is_visible("#convert-note") and "colour (RGB) image → grey" in note, note
    assert run_and_wait(app) == "done", app.text_content("#log")[-300:]
    app.select_option("#channel-pick", "c1")
    assert "channel 2 only" in app.text_content("#convert-note")
    assert run_and_wait(app) == "done"
    app.select_option("#channel-pick", "grey")


def test_tile_size_is_refused_in_words_for_a_fixed_size_model(app):
    require_model(CLASSIFIER)
    choose_model(app, CLASSIFIER)
    assert app.is_disabled("#tile") and "fixed 224×224 blocks" in app.text_content("#tile-note")
    notes = app.evaluate("""async (model) => (await window.pyapp.predict(model, {data: new Uint8Array(224 * 224 * 3),
        shape: [224, 224, 3], dtype: 'uint8'}, {axes: 'yxc', tile: 100})).notes""", CLASSIFIER)
    assert notes and all("fixed blocks of 224" in n for n in notes), notes
    choose_model(app, "smooth2d")
    assert not app.is_disabled("#tile")


def test_cancel_stops_a_long_tiled_run_with_an_estimate(app, images):
    choose_model(app, "smooth2d")
    open_image(app, images / "big.npy")
    app.evaluate("document.getElementById('run-options').open = true")
    app.fill("#tile", "32")
    app.evaluate(PROGRESS_LOG)
    app.wait_for_function("!document.getElementById('run').disabled")
    app.click("#run")
    app.wait_for_function("/left/.test(document.getElementById('progress-text').textContent)", timeout=60_000)
    app.click("#cancel")
    app.wait_for_function("document.body.dataset.state === 'cancelled'", timeout=30_000)
    log = app.text_content("#log")
    assert "cancel: stopped between two tiles" in log, log[-500:]
    assert app.is_hidden("#cancel") and app.text_content("#error") == ""
    app.fill("#tile", "")
    open_image(app, images / "grey.tif")
    assert run_and_wait(app) == "done"


def test_opening_a_file_during_a_run_then_cancel(app, images):
    """Two handlers awaiting the page at once: the run awaits the model worker while the file handler awaits the
    decoder. The image opens meanwhile, and the run still hears its Cancel (each await gets its own answer)."""
    choose_model(app, "smooth2d")
    open_image(app, images / "big.npy")
    app.evaluate("document.getElementById('run-options').open = true")
    app.fill("#tile", "32")
    app.wait_for_function("!document.getElementById('run').disabled")
    app.click("#run")
    app.wait_for_function("/tiles/.test(document.getElementById('progress-text').textContent)", timeout=60_000)
    open_image(app, images / "grey.tif")
    assert app.evaluate("document.body.dataset.state") == "running"
    assert app.text_content("#input-caption").startswith("grey.tif · 64×48")
    app.click("#cancel")
    app.wait_for_function("document.body.dataset.state === 'cancelled'", timeout=30_000)
    assert "cancel: stopped between two tiles" in app.text_content("#log")
    app.fill("#tile", "")
    assert run_and_wait(app) == "done"
    assert app.evaluate("window.cspViolations") == []  # no eval on the way (pyapp/csp.py)


def test_cancel_restarts_a_worker_that_does_not_stop(app, images):
    """pyapp.cancel({graceMs: 0}): no time to stop between tiles, so the worker is replaced; the page runs on."""
    outcome = app.evaluate("""async () => {
        const run = window.pyapp.predict('smooth2d', {data: new Float32Array(1536 * 1536), shape: [1536, 1536],
                                                      dtype: 'float32'}, {axes: 'yx', tile: 64});
        await new Promise((resolve) => window.addEventListener('pyapp-progress', resolve, {once: true}));
        const outcome = await window.pyapp.cancel({graceMs: 0});
        return {...outcome, error: await run.then(() => '', (e) => e.message)}; }""")
    assert outcome == {"cancelled": 1, "restarted": True, "error": "cancelled"}
    choose_model(app, "smooth2d")
    open_image(app, images / "stack.tif")
    assert run_and_wait(app) == "done"


def test_pinch_zooms_both_panes_on_a_phone(browser, app_site, images):  # noqa: F811
    """Two fingers spreading apart on the input pane (touch events through the DevTools protocol) zoom in."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.goto(app_site.url)
    page.wait_for_function(READY, timeout=BOOT_MS)
    choose_model(page, "smooth2d")
    open_image(page, images / "grey.tif")
    page.locator("#input-pane .frame").scroll_into_view_if_needed()
    box = page.locator("#input-pane .frame").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = context.new_cdp_session(page)

    def touch(kind: str, spread: float) -> None:
        fingers = [{"x": cx - spread, "y": cy, "id": 1}, {"x": cx + spread, "y": cy, "id": 2}]
        points = [] if kind == "touchEnd" else fingers
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", 20)
    for spread in (30, 45, 60):
        touch("touchMove", spread)
    touch("touchEnd", 0)
    zoom = page.evaluate("window.pyapp.viewer.view.state().zoom")
    assert zoom == pytest.approx(3, rel=0.05), zoom  # the fingers' distance grew 40 → 120 px
    context.close()
