"""Camera classification with Chromium's fake camera playing a Y4M made from chelsea.png (a cat).

Chromium's file capture reads YUV4MPEG2 with 4:2:0 chroma (``C420jpeg``: full-range BT.601, as written here).
"""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from app_fixtures import (  # noqa: F401
    CAT_WORDS,
    CLASSIFIER,
    READY,
    app_site,
    launch,
    playwright,
    require_model,
)
from shared_paths import SHARED

CHELSEA = SHARED / "data" / "chelsea.png"


def write_y4m(rgb: np.ndarray, path: Path, frames: int = 5) -> None:
    """RGB uint8 (h, w, 3) → YUV4MPEG2 4:2:0 full range (JPEG's BT.601 matrix), ``frames`` identical frames."""
    h, w = (rgb.shape[0] // 2) * 2, (rgb.shape[1] // 2) * 2
    r, g, b = (rgb[:h, :w, i].astype(np.float32) for i in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    v = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b

    def sub(c: np.ndarray) -> np.ndarray:
        return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    planes = [np.clip(np.round(p), 0, 255).astype(np.uint8).tobytes() for p in (y, sub(u), sub(v))]
    with path.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            fh.write(b"FRAME\n" + b"".join(planes))


@pytest.fixture(scope="module")
def chelsea() -> np.ndarray:
    return iio.imread(CHELSEA)[..., :3]


@pytest.fixture(scope="module")
def camera_page(playwright, app_site, chelsea, tmp_path_factory):  # noqa: F811
    y4m = tmp_path_factory.mktemp("camera") / "chelsea.y4m"
    write_y4m(chelsea, y4m)
    browser = launch(playwright, ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                                  f"--use-file-for-fake-video-capture={y4m}"))
    context = browser.new_context(permissions=["camera"])
    page = context.new_page()
    page.goto(app_site.url)
    page.wait_for_function(READY, timeout=120_000)
    yield page
    context.close()
    browser.close()


def test_camera_frame_is_the_fake_video(camera_page, chelsea):
    """The frame the page grabs is chelsea.png (through 4:2:0 YUV and back): the camera path itself works."""
    frame = camera_page.evaluate("""async () => { await window.pyapp.camera.start();
      const f = window.pyapp.camera.frame(); return {shape: f.shape, data: Array.from(f.data)}; }""")
    h, w = chelsea.shape[0] // 2 * 2, chelsea.shape[1] // 2 * 2
    assert frame["shape"] == [h, w, 3]
    got = np.array(frame["data"], np.float32).reshape(h, w, 3)
    assert np.abs(got - chelsea[:h, :w]).mean() < 12


def test_camera_classify_top1_is_a_cat(camera_page):
    require_model(CLASSIFIER)
    top = camera_page.evaluate("window.pyapp.camera.classify()")
    assert len(top) == 5 and all(set(t) == {"label", "p"} for t in top)
    assert top[0]["p"] >= top[1]["p"] >= top[4]["p"]
    assert any(w in top[0]["label"].lower() for w in CAT_WORDS), top


def test_camera_in_the_ui_classifies_on_demand_and_live(camera_page):
    require_model(CLASSIFIER)
    page = camera_page
    page.click("#camera-btn")
    page.wait_for_function("!document.getElementById('camera-controls').hidden", timeout=30_000)
    runs = int(page.evaluate("document.body.dataset.runs"))
    page.click("#snap")
    page.wait_for_function(f"Number(document.body.dataset.runs) > {runs}", timeout=60_000)
    label = page.evaluate("document.querySelector('#top5 li b').title")
    assert any(w in label.lower() for w in CAT_WORDS), label
    page.check("#continuous")
    page.wait_for_function(f"Number(document.body.dataset.runs) > {runs + 2}", timeout=60_000)
    page.uncheck("#continuous")
    assert page.evaluate("document.getElementById('error').hidden")


def test_stop_camera_clears_its_caption_and_the_result(camera_page):
    require_model(CLASSIFIER)
    page = camera_page
    if page.evaluate("document.getElementById('camera-controls').hidden"):
        page.click("#camera-btn")
        page.wait_for_function("!document.getElementById('camera-controls').hidden", timeout=30_000)
    assert page.evaluate("document.getElementById('input-caption').textContent").startswith("camera")
    page.click("#camera-stop")
    assert page.evaluate("document.getElementById('input-caption').textContent") == ""
    page.click("#camera-btn")  # a new input: the previous classification is gone
    page.wait_for_function("!document.getElementById('camera-controls').hidden", timeout=30_000)
    assert page.evaluate("document.getElementById('top5').hidden")
