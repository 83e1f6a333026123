"""The Train panel end to end in headless Chromium against a real engine (``pyapp engine``: Hypha + a worker).

Connect, pick an image/mask pair (crops of the DSB 2018 image from ../shared), consent in the dialog, watch the
loss and validation curves update, survive a cut connection (a TCP proxy between page and engine resets every
socket), stop, bring the model to the page, and predict with it locally. The driver's network log shows that no
image byte went out before consent, that the image bytes did go out after it, and that the page talked to no
host but the app's own and the engine. Screenshots of the panel and the consent dialog are taken here
(see ``shots`` in app_fixtures.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from app_fixtures import app_site, launch, open_app, playwright, shots  # noqa: F401
from shared_paths import SHARED
from tcp_proxy import TcpProxy

DSB = SHARED / "data" / "nuclei-dsb2018"
CROP = (slice(0, 512), slice(0, 384))  # 384 wide: the upload is not the square the model's tests use
STEPS = 40  # the panel validates every 4 steps, so the validation curve and the sample show early
TRAIN_MS = 300_000  # 40 U-Net steps on two shared CPU cores


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):
    from pyapp.engine.testing import running_engine

    with running_engine(tmp_path_factory.mktemp("engine"), workers=1) as eng:
        yield eng


@pytest.fixture(scope="module")
def proxy(engine) -> Iterator[TcpProxy]:
    with TcpProxy(urlsplit(engine.url).port) as p:
        yield p


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, np.ndarray]:
    """A 512×384 crop of the DSB image and of its mask, as the tif files a user would pick."""
    import tifffile

    if not (DSB / "img2d.tif").is_file():
        pytest.fail(f"{DSB}/img2d.tif is missing (the shared test data)", pytrace=False)
    folder = tmp_path_factory.mktemp("pair")
    image = tifffile.imread(DSB / "img2d.tif")[CROP]
    mask = tifffile.imread(DSB / "mask2d.tif")[CROP]
    tifffile.imwrite(folder / "dsb-crop.tif", image)
    tifffile.imwrite(folder / "dsb-crop-mask.tif", mask)
    return folder / "dsb-crop.tif", folder / "dsb-crop-mask.tif", image


def snippets(image: np.ndarray, n: int = 8, size: int = 48) -> list[bytes]:
    """Byte runs from inside the image's pixels (as the page sends them: little-endian, row-major)."""
    raw = np.ascontiguousarray(image).astype(image.dtype.newbyteorder("<")).tobytes()
    return [raw[k : k + size] for k in np.linspace(len(raw) // 8, len(raw) - size - 1, n).astype(int)]


def as_bytes(payload: str | bytes) -> bytes:
    return payload if isinstance(payload, bytes) else payload.encode("utf-8", "surrogateescape")


def test_train_on_engine_then_predict_here(playwright, app_site, engine, proxy, pair, shots) -> None:  # noqa: F811
    image_path, mask_path, image = pair
    engine_url = f"http://127.0.0.1:{proxy.port}"
    browser = launch(playwright)
    context, page = open_app(browser, app_site.url, {"width": 1400, "height": 900})
    phase = {"now": "before"}
    frames: list[tuple[str, str, bytes]] = []
    sockets: list[str] = []
    requests: list[str] = []

    def on_socket(ws) -> None:
        sockets.append(ws.url)
        ws.on("framesent", lambda payload: frames.append((phase["now"], ws.url, as_bytes(payload))))

    page.on("websocket", on_socket)
    context.on("request", lambda r: requests.append(r.url))
    page.evaluate("""() => { window.engineEvents = [];
      addEventListener("pyapp-engine", (e) => engineEvents.push({type: e.detail.type, state: e.detail.state,
                                                                 step: e.detail.status && e.detail.status.step})); }""")

    # connect (through the proxy: that is the engine's address as far as the page knows)
    page.click("#engine-btn")
    page.wait_for_function("document.body.dataset.enginePanel === 'open'")
    page.fill("#engine-url", engine_url)
    page.fill("#engine-token", engine.token)
    page.click("#engine-connect")
    page.wait_for_function("document.body.dataset.engineConnection === 'connected'", timeout=60_000)
    assert "Connected to 127.0.0.1:" in page.inner_text("#engine-conn")

    # pick the pair, press Train: the consent dialog names the files and the host before anything is sent
    page.set_input_files("#engine-images", str(image_path))
    page.set_input_files("#engine-masks", str(mask_path))
    page.wait_for_function("document.body.dataset.enginePairs === '1'")
    page.fill("#engine-steps", str(STEPS))
    page.click("#engine-train")
    page.wait_for_selector("#engine-consent[open]", timeout=60_000)
    text = page.inner_text("#engine-consent")
    assert f"to 127.0.0.1:{proxy.port}" in text
    assert "dsb-crop.tif + mask dsb-crop-mask.tif · 512×384" in text
    page.screenshot(path=str(shots / "engine-consent.png"))
    before = [f for f in frames if f[0] == "before"]
    assert sum(len(f[2]) for f in before) < 32_000, "more than connection chatter went out before consent"
    assert not any(s in f[2] for f in before for s in snippets(image)), "image bytes were sent before consent"
    phase["now"] = "after"
    page.click("#engine-consent-send")

    # the dashboard: loss updates, validation points, a sample
    page.wait_for_function("document.body.dataset.engineJob", timeout=60_000)
    page.wait_for_function("Number(document.body.dataset.engineStep) >= 8", timeout=TRAIN_MS)
    losses = page.evaluate("engineEvents.filter((e) => e.type === 'status').map((e) => e.step)")
    assert len(set(losses)) >= 2, f"the dashboard saw one step only: {losses}"
    assert "Step " in page.inner_text("#engine-state")

    # a cut connection: the page reconnects and the dashboard goes on from the job id
    seen = page.evaluate("engineEvents.length")
    step_at_cut = int(page.evaluate("document.body.dataset.engineStep"))
    assert proxy.drop() >= 1
    later = f"engineEvents.slice({seen})"
    page.wait_for_function(f"""{later}.some((e) => e.type === 'connection' && e.state === 'reconnecting')
                               && {later}.some((e) => e.type === 'status' && e.step > {step_at_cut})""",
                           timeout=TRAIN_MS)
    assert len(sockets) >= 2, "the page did not open a new WebSocket after the cut"

    # stop: the job keeps its best weights; use the model here
    page.wait_for_function("!document.getElementById('engine-stop').disabled")
    page.click("#engine-stop")
    page.wait_for_function("['stopped', 'done'].includes(document.body.dataset.engineState)", timeout=TRAIN_MS)
    page.wait_for_function("!document.getElementById('engine-use').disabled")
    page.screenshot(path=str(shots / "engine-panel.png"))
    page.click("#engine-use")
    page.wait_for_function("document.body.dataset.engineModel", timeout=120_000)
    model_id = page.evaluate("document.body.dataset.engineModel")
    page.wait_for_function(f"document.body.dataset.model === {model_id!r}", timeout=60_000)

    # predict on this device: the image goes nowhere (the engine socket carries only its keep-alive chatter)
    sent = len(frames)
    result = page.evaluate("""async ([model, pixels]) => {
      const r = await pyapp.predict(model, {data: new Uint16Array(pixels), shape: [512, 384], dtype: "uint16"},
                                    {axes: "yx"});
      const out = r.outputs[0];
      return {shape: out.shape, finite: out.data.every(Number.isFinite), backend: r.backend};
    }""", [model_id, image.ravel().tolist()])
    assert result["shape"] == [1, 2, 512, 384] and result["finite"], result
    assert "onnxruntime-web" in result["backend"]
    during = frames[sent:]
    assert sum(len(f[2]) for f in during) < 4_000, [f[2][:80] for f in during]
    assert not any(s in f[2] for f in during for s in snippets(image)), "predicting sent the image to the engine"

    # the engine forgets the job and the images when asked
    job = page.evaluate("document.body.dataset.engineJob")
    page.click("#engine-delete")
    page.wait_for_function("document.getElementById('engine-message').textContent.includes('deleted')", timeout=60_000)
    gone = page.evaluate("(job) => pyapp.engine.status(job).then(() => 'still there', (e) => e.message)", job)
    assert gone.startswith(f"job {job}") and "no such job" in gone, gone

    # after consent the image bytes did go out, and only to the engine
    after = [f for f in frames if f[0] == "after"]
    assert any(s in f[2] for f in after for s in snippets(image)), "the test did not see the upload at all"
    assert {urlsplit(u).netloc for u in sockets} == {f"127.0.0.1:{proxy.port}"}
    hosts = {urlsplit(u).netloc for u in requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")}
    assert hosts <= {urlsplit(app_site.url).netloc, f"127.0.0.1:{proxy.port}"}, hosts
    assert page.errors == []
    context.close()
    browser.close()
