"""The *Browse the zoo* panel against a fixture collection (bioimage.io's collection.json format) served from
another origin on 127.0.0.1 with CORS, under the app's Content-Security-Policy: list, search by text, tag and
modality, covers, models without ONNX weights marked, load by nickname and predict as the gold model's test
output; then both servers stop and a reload still lists the collection and loads the kept model.

The screenshot of docs/packaging.md's zoo section is taken here (zoo-browser.png: see ``shots``).
"""

from __future__ import annotations

import functools
import json
import shutil
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import yaml
from app_fixtures import BOOT_MS, READY, Site, launch, playwright, shots  # noqa: F401
from shared_paths import GOLD

PREDICT = """async ([model, x]) => {
  const r = await window.pyapp.predict(model, {data: new Float32Array(x.data), shape: x.shape, dtype: "float32"},
                                       {axes: "bcyx"});
  const o = r.outputs[0];
  return {shape: o.shape, data: Array.from(o.data)};
}"""


class _Cors(SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class Zoo:
    """A folder served on 127.0.0.1 with CORS; ``stop()`` takes it off the network."""

    def __init__(self, folder: Path) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Cors, directory=str(folder)))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _gold_zip(dest: Path) -> None:
    """The gold model as a package zip: its description and the files it names that the corpus holds."""
    descr = yaml.safe_load((GOLD / "bioimageio.yaml").read_text())
    text = json.dumps(descr)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(GOLD / "bioimageio.yaml", "bioimageio.yaml")
        for path in sorted(GOLD.iterdir()):
            if path.suffix != ".yaml" and json.dumps(path.name) in text:
                zf.write(path, path.name)


@pytest.fixture
def zoo(tmp_path: Path) -> Iterator[Zoo]:
    """collection.json (a model with ONNX weights, one without, an application), the packages and a cover."""
    if not (GOLD / "weights.onnx").is_file():
        pytest.fail(f"{GOLD} is missing (the shared corpus)", pytrace=False)
    from byom_models import write_torch_package

    root = tmp_path / "zoo"
    (root / "gold").mkdir(parents=True)
    _gold_zip(root / "gold" / "package.zip")
    shutil.copy(GOLD / "bioimageio.yaml", root / "gold" / "rdf.yaml")
    shutil.copy(GOLD / "cover0.png", root / "gold" / "cover0.png")
    shutil.copy(GOLD / "weights.onnx", root / "gold" / "weights.onnx")
    torch = write_torch_package(tmp_path / "torch", "torchscript")
    shutil.make_archive(str(root / "torch" / "package"), "zip", torch)
    server = Zoo(root)
    collection = {"type": "collection", "collection": [
        {"type": "model", "id": "10.5281/zenodo.5764892", "nickname": "gentle-nucleus", "name": "UNet 2D nuclei broad",
         "description": "Nucleus segmentation in fluorescence images (the gold model).",
         "tags": ["unet2d", "nuclei", "segmentation", "fluorescence-light-microscopy"],
         "covers": ["cover0.png"], "rdf_source": f"{server.url}gold/rdf.yaml",
         "download_url": f"{server.url}gold/package.zip", "weights": {"onnx": {}, "pytorch_state_dict": {}}},
        {"type": "model", "id": "tiny-torch", "nickname": "tiny-torch-net", "name": "Tiny torch net",
         "description": "Two convolutions, TorchScript only.", "tags": ["electron-microscopy", "torchscript"],
         "covers": [], "rdf_source": f"{server.url}torch/bioimageio.yaml",
         "download_url": f"{server.url}torch/package.zip"},
        {"type": "model", "id": "mystery-net", "name": "A net that lists no weights",
         "description": "TorchScript only, which the collection does not say.", "tags": ["misc"],
         "download_url": f"{server.url}torch/package.zip"},
        {"type": "model", "id": "plain-nucleus", "name": "UNet 2D nuclei broad (description only)",
         "description": "The gold model again, listed by its description alone (no package zip).",
         "tags": ["nuclei"], "rdf_source": f"{server.url}gold/rdf.yaml"},
        {"type": "application", "id": "some-app", "name": "An application", "tags": []},
    ]}
    (root / "collection.json").write_text(json.dumps(collection))
    yield server
    server.stop()


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.stop()


def _open_zoo(page, collection: str | None = None) -> None:
    if collection:  # the "Collection" setting, as the panel keeps it
        page.evaluate("(url) => window.pyapp.zoo.setCollectionUrl(url)", collection)
    page.click("#zoo-btn")
    page.wait_for_selector("#zoo-panel.open")
    page.wait_for_function("/^(listed|offline|error)/.test(document.body.dataset.zoo || '')", timeout=30_000)


def _cards(page) -> list[str]:
    return page.eval_on_selector_all("#zoo-cards li.zoo-card", "(items) => items.map((li) => li.dataset.key)")


def _load(page, key: str) -> str:
    page.evaluate("delete document.body.dataset.model")
    page.fill("#zoo-key", key)
    page.click("#zoo-load-key")
    page.wait_for_function("document.body.dataset.model || document.body.dataset.zoo === 'error'", timeout=60_000)
    return page.evaluate("document.body.dataset.model")


def test_browse_search_load_and_reload_offline(playwright, site, zoo, shots):  # noqa: F811
    from pyapp.runtime import ModelRunner
    from pyapp.spec import load

    x = np.ascontiguousarray(np.load(GOLD / "test_input.npy")[..., 64:192, 96:224], dtype=np.float32)
    gold = load(GOLD / "bioimageio.yaml")
    expected = ModelRunner(gold).predict_sync({gold.inputs[0].id: x})[gold.outputs[0].id]
    browser = launch(playwright)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(site.url)
    page.wait_for_function(READY, timeout=BOOT_MS)
    assert page.evaluate("window.pyapp.offline.ready.then((s) => s.files)") > 50  # the app is cached for offline
    assert page.evaluate("window.pyapp.zoo.DEFAULT_COLLECTION").startswith("https://")

    _open_zoo(page, zoo.url + "collection.json")  # another origin: the page's policy lets it connect
    assert page.evaluate("document.body.dataset.zoo") == "listed:4", page.text_content("#zoo-message")
    assert sorted(_cards(page)) == ["gentle-nucleus", "mystery-net", "plain-nucleus", "tiny-torch-net"]
    assert "weights not listed" in page.text_content("#zoo-cards li[data-key='plain-nucleus']")
    page.fill("#zoo-search", "fluorescence nuclei")
    assert _cards(page) == ["gentle-nucleus"]
    page.fill("#zoo-search", "")
    page.select_option("#zoo-modality", "electron-microscopy")
    assert _cards(page) == ["tiny-torch-net"]
    assert "cannot run in the browser" in page.text_content("#zoo-cards li[data-key='tiny-torch-net']")
    assert "pyapp convert" in page.text_content("#zoo-cards li[data-key='tiny-torch-net']")
    page.select_option("#zoo-modality", "")
    page.select_option("#zoo-tag", "unet2d")
    assert _cards(page) == ["gentle-nucleus"]
    page.select_option("#zoo-tag", "")
    page.wait_for_function("[...document.querySelectorAll('#zoo-cards img')].some((i) => i.src.startsWith('blob:') "
                           "&& i.complete && i.naturalWidth > 0)", timeout=30_000)
    assert page.text_content("#zoo-message").startswith("4 models: 1 run here, 1 cannot run in the browser, 2 do")
    page.evaluate("document.getElementById('zoo-message').scrollIntoView({block: 'start'})")
    page.screenshot(path=str(shots / "zoo-browser.png"))

    for key in ("tiny-torch", "mystery-net"):  # weights listed without ONNX; not listed, found out on loading
        error = page.evaluate("(k) => window.pyapp.zoo.load(k).then(() => '', (e) => e.message)", key)
        assert "cannot run in the browser" in error and "pyapp convert" in error, error
    assert _load(page, "gentle-nucleus") == "zoo-gentle-nucleus", page.text_content("#zoo-message")
    out = page.evaluate(PREDICT, ["zoo-gentle-nucleus", {"data": x.ravel().tolist(), "shape": list(x.shape)}])
    np.testing.assert_allclose(np.asarray(out["data"]).reshape(out["shape"]), expected, atol=1e-4, rtol=0)
    assert _load(page, "plain-nucleus") == "zoo-plain-nucleus", page.text_content("#zoo-message")

    zoo.stop()
    site.stop()
    page.reload()
    page.wait_for_function(READY, timeout=BOOT_MS)
    _open_zoo(page)  # the collection URL is a saved setting; the list comes from the kept copy
    assert page.evaluate("document.body.dataset.zoo") == "offline:4", page.text_content("#zoo-message")
    assert "offline" in page.text_content("#zoo-message")
    assert _load(page, "10.5281/zenodo.5764892") == "zoo-gentle-nucleus", page.text_content("#zoo-message")
    assert _load(page, "plain-nucleus") == "zoo-plain-nucleus", page.text_content("#zoo-message")
    for model in ("zoo-gentle-nucleus", "zoo-plain-nucleus"):
        out = page.evaluate(PREDICT, [model, {"data": x.ravel().tolist(), "shape": list(x.shape)}])
        np.testing.assert_allclose(np.asarray(out["data"]).reshape(out["shape"]), expected, atol=1e-4, rtol=0)

    page.click("#zoo-forget")  # nothing kept any more: offline, the list cannot come back
    page.wait_for_function("document.getElementById('zoo-message').textContent.startsWith('Forgotten')")
    error = page.evaluate("window.pyapp.zoo.list().then(() => '', (e) => e.message)")
    assert "download failed" in error and "without a network" in error, error
    browser.close()
