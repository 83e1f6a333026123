"""The app through its UI in headless Chromium: one Pyodide per page, run, classify, bad input, screenshots.

The docs' app screenshots are taken here, after a real prediction is on screen (to a temporary folder;
``python scripts/screenshots.py`` writes them to docs/screenshots/).
"""

from __future__ import annotations

import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
from app_fixtures import (  # noqa: F401
    BOOT_MS,
    CAT_WORDS,
    CLASSIFIER,
    READY,
    ROOT,
    SEGMENTER,
    app_site,
    bundled,
    choose_model,
    launch,
    open_app,
    open_image,
    playwright,
    require_model,
    run_and_wait,
    shots,
    wait_error,
)
from shared_paths import SHARED

CELL = SHARED / "data" / "cell.png"
CHELSEA = SHARED / "data" / "chelsea.png"


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
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Inputs made here: a 2-channel npy (wrong shape for one-channel models), a corrupt model zip."""
    root = tmp_path_factory.mktemp("app-inputs")
    np.save(root / "two_channels.npy", np.zeros((2, 64, 64), np.float32))
    (root / "corrupt.zip").write_bytes(b"PK\x03\x04 this is not a zip archive at all")
    with zipfile.ZipFile(root / "no_model.zip", "w") as zf:
        zf.writestr("bioimageio.yaml", "type: model\nformat_version: 0.5.4\nname: broken\n")
    return root


def error_text(page) -> str:
    return page.evaluate("document.getElementById('error').hidden ? '' : document.getElementById('error').textContent")


def test_run_bundled_model_shows_overlay_backend_and_log(app):
    choose_model(app, "smooth2d")
    open_image(app, CELL)
    assert run_and_wait(app) == "done"
    shown = app.evaluate("""() => ({backend: document.getElementById('backend').textContent,
        canvas: [document.getElementById('output-canvas').width, document.getElementById('output-canvas').height],
        hidden: document.getElementById('output-canvas').hidden, log: document.getElementById('log').textContent,
        progress: document.getElementById('progress-text').textContent})""")
    assert shown["backend"] == "ran on wasm" and not shown["hidden"]
    assert shown["canvas"] == [550, 660]
    assert "smooth [1, 1, 660, 550]" in shown["log"] and "done in" in shown["progress"]
    assert app.errors == []


def test_app_page_runs_without_eval(app, app_site):  # noqa: F811
    """The page's policy refuses string evaluation ('unsafe-eval', pyapp/csp.py) and nothing on it tried: the
    shell started (PyScript on MicroPython), described a model, opened an image and ran it (the test above)."""
    with urllib.request.urlopen(app_site.url, timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
    assert "script-src" in policy and "'unsafe-eval'" not in policy, policy
    assert int(app.evaluate("document.body.dataset.runs")) >= 1
    # the Train panel's client (hypha-rpc evaluates its typed-array names at load: web/pyapp/no-eval.js)
    loaded = app.evaluate("""async () => { try { const m = await import('/hypha/hypha-rpc-websocket.min.mjs');
        return typeof m.connectToServer; } catch (err) { return err.message; } }""")
    assert loaded == "function"
    assert app.evaluate("window.cspViolations") == []


def test_one_pyodide_per_page(browser, app_site):  # noqa: F811
    """The app page starts one Pyodide (the model worker's) and runs its shell on MicroPython: every loadPyodide
    fetches pyodide.asm.wasm once, from the page or any of its workers."""
    context = browser.new_context()
    page = context.new_page()
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url.split("?")[0].rsplit("/", 1)[-1]))
    page.goto(app_site.url)
    page.wait_for_function(READY, timeout=BOOT_MS)
    assert fetched.count("pyodide.asm.wasm") == 1, [n for n in fetched if n.endswith(".wasm")]
    assert fetched.count("micropython.wasm") == 1
    assert page.evaluate("[document.querySelectorAll('script[type=mpy]').length, "
                         "document.querySelectorAll('script[type=py]').length]") == [1, 0]
    info = page.evaluate("window.pyapp.ready")
    assert {"script", "pyodide", "imports"} <= set(info["marks"]), info
    context.close()


def test_describe_gives_axes_channel_names_and_kind(app):
    d = app.evaluate("window.pyapp.describe('smooth2d')")
    assert d["kind"] == "segmentation"
    assert [a["id"] for a in d["inputs"][0]["axes"]] == ["batch", "channel", "y", "x"]
    assert d["inputs"][0]["axes"][2]["size"] == {"min": 16, "step": 8}
    assert d["outputs"][0]["axes"][1]["channel_names"] == ["intensity"]


def test_corrupt_model_url_shows_one_line_and_app_stays_usable(app, app_site, files, serve_dir):  # noqa: F811
    base = serve_dir(files)
    app.click("#url-box summary")
    for name, fragment in (("corrupt.zip", "zip"), ("no_model.zip", ""), ("missing.yaml", "HTTP 404")):
        app.fill("#model-url", f"{base}/{name}")
        errors = app.evaluate("Number(document.body.dataset.errors || 0)")
        app.click("#load-url")
        try:
            line = wait_error(app, errors)
        except Exception:
            print(name, app.evaluate("document.getElementById('log').textContent"))
            raise
        assert line and "\n" not in line and fragment in line, line
        assert app.is_visible("#error")
        choose_model(app, "smooth2d")
        open_image(app, CELL)
        assert run_and_wait(app) == "done"
        assert error_text(app) == ""


def test_wrong_shape_image_shows_one_line_and_app_stays_usable(app, files):
    choose_model(app, "smooth2d")
    open_image(app, files / "two_channels.npy")
    state = run_and_wait(app)
    assert state == "error", app.evaluate("document.getElementById('log').textContent")
    line = error_text(app)
    assert "channel" in line and "\n" not in line, line
    open_image(app, CELL)
    assert run_and_wait(app) == "done"
    assert error_text(app) == ""


def test_classifier_through_the_ui_shows_top5(app):
    require_model(CLASSIFIER)
    choose_model(app, CLASSIFIER)
    open_image(app, CHELSEA)
    assert run_and_wait(app) == "done"
    labels = app.evaluate("Array.from(document.querySelectorAll('#top5 li b'), (b) => b.title)")
    assert len(labels) == 5
    assert any(w in labels[0].lower() for w in CAT_WORDS), labels


def _show_a_prediction(page) -> None:
    """The nicest real result the build has: the default nucleus model on its sample (objects counted, outlined
    and tabled), else the classifier, else the example model."""
    ids = {e["id"]: e for e in bundled()}
    if page.evaluate("document.body.dataset.model") == "nuclei-dsb" and page.evaluate("document.body.dataset.image"):
        pass  # the page opens with it
    elif SEGMENTER in ids and ids[SEGMENTER].get("sample"):
        choose_model(page, SEGMENTER)
        page.click("#sample-btn")
        page.wait_for_function("document.body.dataset.image", timeout=60_000)
    elif CLASSIFIER in ids:
        choose_model(page, CLASSIFIER)
        open_image(page, CHELSEA)
    else:
        choose_model(page, "smooth2d")
        open_image(page, CELL)
    assert run_and_wait(page) == "done"


@pytest.mark.parametrize(("name", "viewport"), [("desktop", {"width": 1280, "height": 800}),
                                                ("phone", {"width": 390, "height": 844})])
def test_screenshots(browser, app_site, shots, name, viewport):  # noqa: F811
    context, page = open_app(browser, app_site.url, viewport)
    _show_a_prediction(page)
    if name == "desktop":  # the result is on screen without scrolling
        box = page.locator("#output-pane .frame").bounding_box()
        assert box["y"] + box["height"] <= viewport["height"] + 1, box
    page.screenshot(path=str(shots / f"{name}.png"))
    if name == "phone":  # the results below the overlay: count, downloads, objects table
        page.locator("#results").scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "phone-results.png"))
    assert page.errors == []
    context.close()
