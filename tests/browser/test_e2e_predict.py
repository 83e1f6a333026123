"""End to end in headless Chromium: the built site predicts through window.pyapp like CPython does.

The site (static/, served with COOP/COEP) and the corpus (another origin, CORS) run on 127.0.0.1 only; the
browser resolves no other host. Arrays come back from the page as base64 of their bytes.
"""

from __future__ import annotations

import base64
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml
from shared_paths import GOLD, SHARED

from pyapp.cli import example_model
from pyapp.runtime import ModelRunner
from pyapp.serve import make_server
from pyapp.spec import load

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "static"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]

# predict in the page and return outputs with their bytes as base64 (typed arrays do not survive evaluate)
PREDICT_JS = """async ([model, image, options]) => {
  const r = await window.pyapp.predict(model, image, options || {});
  const b64 = (a) => { const u = new Uint8Array(a.buffer, a.byteOffset, a.byteLength); let s = "";
    for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000));
    return btoa(s); };
  return {backend: r.backend, ms: r.ms,
          outputs: r.outputs.map((o) => ({id: o.id, shape: o.shape, dtype: o.dtype, data: b64(o.data)}))};
}"""
ERROR_JS = """async ([model, image, options]) => {
  try { await window.pyapp.predict(model, image, options || {}); return null; } catch (e) { return e.message; }
}"""


def decode(output: dict) -> np.ndarray:
    return np.frombuffer(base64.b64decode(output["data"]), dtype=output["dtype"]).reshape(output["shape"])


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    if not (STATIC / "index.html").is_file() or not (STATIC / "ort").is_dir():
        pytest.fail(f"{STATIC} is not built: run `python build.py`", pytrace=False)
    server = make_server(STATIC, 0, "127.0.0.1")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Models and images on a second origin: the gold model, the example model, a broken copy, a big image."""
    root = tmp_path_factory.mktemp("served")
    shutil.copytree(GOLD, root / "gold")
    shutil.copytree(example_model().parent, root / "smooth2d")
    broken = root / "broken"
    shutil.copytree(example_model().parent, broken)
    descr = yaml.safe_load((broken / "bioimageio.yaml").read_text())
    del descr["weights"]["onnx"]["sha256"]  # so the garbage reaches onnxruntime-web
    (broken / "bioimageio.yaml").write_text(yaml.safe_dump(descr))
    (broken / "weights.onnx").write_bytes(b"\x08\x07 this is not an onnx model")
    rng = np.random.default_rng(0)
    base = np.load(GOLD / "test_input.npy")[0, 0]
    np.save(root / "big.npy", np.tile(base, (2, 2)) + rng.normal(0, 0.05, (1024, 1024)).astype(np.float32))
    np.save(root / "two_channels.npy", np.zeros((2, 64, 64), np.float32))
    shutil.copy(SHARED / "data" / "nuclei-dsb2018" / "img2d.tif", root / "nuclei.tif")
    shutil.copy(SHARED / "data" / "cell.png", root / "cell.png")
    shutil.make_archive(str(root / "smooth2d"), "zip", example_model().parent)
    return root


@pytest.fixture(scope="module")
def data_url(data_dir: Path, serve_dir) -> str:
    return serve_dir(data_dir) + "/"


@pytest.fixture(scope="module")
def playwright():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is a test dependency")
    with sync_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright):
    b = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
    yield b
    b.close()


@pytest.fixture(scope="module")
def page(browser, site: str):
    context = browser.new_context()
    pg = context.new_page()
    pg.goto(site)
    info = pg.evaluate("window.pyapp.ready")
    assert info["pyodide"] == "0.27.7"
    yield pg
    context.close()


def test_gold_model_reproduces_test_output(page, data_url: str):
    result = page.evaluate(PREDICT_JS, [data_url + "gold/bioimageio.yaml", data_url + "gold/test_input.npy", {}])
    assert result["backend"] == "onnxruntime-web (wasm)"
    (out,) = result["outputs"]
    assert out["id"] == "probability" and out["shape"] == [1, 1, 512, 512]
    np.testing.assert_allclose(decode(out), np.load(GOLD / "test_output.npy"), atol=1e-4, rtol=0)


def test_tiled_1024_equals_cpython(page, data_url: str, data_dir: Path):
    result = page.evaluate(PREDICT_JS, [data_url + "gold/bioimageio.yaml", data_url + "big.npy", {"axes": "yx"}])
    browser_out = decode(result["outputs"][0])
    image = np.load(data_dir / "big.npy")[None, None]
    expected = ModelRunner(load(GOLD)).predict_sync({"raw": image})["probability"]
    assert browser_out.shape == expected.shape == (1, 1, 1024, 1024)
    np.testing.assert_allclose(browser_out, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize(("model", "image"), [("gold/bioimageio.yaml", "nuclei.tif"), ("smooth2d.zip", "cell.png")])
def test_tif_png_and_zip_inputs_equal_cpython(page, data_url: str, data_dir: Path, model: str, image: str):
    """A uint16 tif through the U-Net, a uint8 png (660x550: padded to a valid size) through a zipped model."""
    result = page.evaluate(PREDICT_JS, [data_url + model, data_url + image, {}])
    from pyapp.io import read_image
    from pyapp.runtime import to_model_layout

    descr = load(data_dir / model)
    array, axes = read_image(data_dir / image)
    x = to_model_layout(array, axes, descr.inputs[0])
    expected = ModelRunner(descr).predict_sync({descr.inputs[0].id: x})[descr.outputs[0].id]
    assert result["outputs"][0]["shape"] == list(expected.shape) == [1, 1, *array.shape]
    np.testing.assert_allclose(decode(result["outputs"][0]), expected, atol=1e-4, rtol=0)


def test_works_without_cross_origin_isolation(browser, serve_dir):
    """Served by a plain static server (no COOP/COEP): one ORT thread, same results."""
    plain = serve_dir(STATIC) + "/"
    pg = browser.new_page()
    pg.goto(plain)
    info = pg.evaluate("window.pyapp.ready")
    assert info["crossOriginIsolated"] is False
    result = pg.evaluate(PREDICT_JS, ["smooth2d", plain + "models/smooth2d/test_input.npy", {}])
    np.testing.assert_allclose(decode(result["outputs"][0]), np.load(example_model().parent / "test_output.npy"),
                               atol=1e-5)
    pg.close()


def test_bundled_model_by_id_and_typed_array_input(page):
    models = page.evaluate("window.pyapp.models()")
    assert "smooth2d" in [m["id"] for m in models]
    x = np.load(example_model().parent / "test_input.npy")
    result = page.evaluate("""async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const r = await window.pyapp.predict("smooth2d", {data: new Float32Array(bytes.buffer), shape: [1, 1, 64, 64],
                                                         dtype: "float32"}, {axes: "bcyx"});
      return {shape: r.outputs[0].shape, sum: r.outputs[0].data.reduce((a, b) => a + b, 0)};
    }""", base64.b64encode(x.tobytes()).decode())
    assert result["shape"] == [1, 1, 64, 64]
    assert result["sum"] == pytest.approx(float(np.load(example_model().parent / "test_output.npy").sum()), abs=1e-2)


@pytest.mark.parametrize(("model", "image", "message"), [
    ("broken/bioimageio.yaml", "smooth2d/test_input.npy", "onnxruntime-web cannot load the weights"),
    ("smooth2d/bioimageio.yaml", "two_channels.npy", "axis 'channel' needs 1 channels, the image has 2"),
    ("smooth2d/bioimageio.yaml", "missing.npy", "missing.npy: download failed: HTTP 404"),
    ("nowhere/bioimageio.yaml", "smooth2d/test_input.npy", "download failed: HTTP 404"),
])
def test_bad_input_rejects_with_one_line_and_worker_survives(page, data_url: str, model, image, message):
    error = page.evaluate(ERROR_JS, [data_url + model, data_url + image, {"axes": "cyx"} if "two" in image else {}])
    assert error is not None and message in error and "\n" not in error, error
    ok = page.evaluate(PREDICT_JS, [data_url + "smooth2d/bioimageio.yaml", data_url + "smooth2d/test_input.npy", {}])
    assert ok["outputs"][0]["shape"] == [1, 1, 64, 64]


def test_only_asked_urls_are_fetched_and_nothing_is_sent(browser, site: str, data_url: str):
    context = browser.new_context()
    requests = []
    context.on("request", lambda r: requests.append((r.method, r.url, r.post_data)))
    pg = context.new_page()
    pg.goto(site)
    pg.evaluate("window.pyapp.ready")
    before = len(requests)
    model, image = data_url + "gold/bioimageio.yaml", data_url + "gold/test_input.npy"
    pg.evaluate(PREDICT_JS, [model, image, {}])
    context.close()
    assert all(method == "GET" and body is None for method, _, body in requests), requests
    # blob: URLs are the page's own memory (the default model's sample image, opened at start)
    foreign = {url for _, url, _ in requests if not url.startswith((site, "blob:"))}
    assert foreign == {model, image, data_url + "gold/weights.onnx"}
    assert len(requests) > before


def test_webgpu_gives_the_same_output_as_wasm(playwright, data_url: str, site: str):
    """The software WebGPU adapter is slow, so this compares the small example model."""
    b = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                   args=[f for f in FLAGS if f != "--disable-gpu"] + ["--enable-unsafe-webgpu"])
    pg = b.new_page()
    pg.goto(site)
    pg.evaluate("window.pyapp.ready")
    args = [data_url + "smooth2d/bioimageio.yaml", data_url + "smooth2d/test_input.npy"]
    gpu = pg.evaluate(PREDICT_JS, [*args, {"ep": "webgpu"}])
    cpu = pg.evaluate(PREDICT_JS, [*args, {"ep": "wasm"}])
    b.close()
    assert gpu["backend"] == "onnxruntime-web (webgpu)" and cpu["backend"] == "onnxruntime-web (wasm)"
    np.testing.assert_allclose(decode(gpu["outputs"][0]), decode(cpu["outputs"][0]), atol=1e-5)
    expected = np.load(example_model().parent / "test_output.npy")
    np.testing.assert_allclose(decode(cpu["outputs"][0]), expected, atol=1e-5)
