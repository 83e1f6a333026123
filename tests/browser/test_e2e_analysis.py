"""End to end in headless Chromium: objects and scores through window.pyapp equal CPython's pyapp.analysis.

The gold U-Net runs on the DSB 2018 nucleus image with ``{labels: true}``; the page's labels must be what the same
analysis code gives in CPython on the page's own probability map, count the nuclei within 15 % and match them with
F1@0.5 >= 0.7; ``pyapp.evaluate`` must give CPython's scores. Service workers are blocked in this context so that
every request seen is the model worker's own: scipy must be fetched on the first labels request, not at boot.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator

import numpy as np
import pytest
from app_fixtures import FLAGS, Site, serve_built
from shared_paths import GOLD, SHARED

from pyapp.analysis import instance_labels, instance_scores, mask_scores, object_table
from pyapp.io import read_image

DSB = SHARED / "data" / "nuclei-dsb2018"
N_TRUE = 125

PREDICT_JS = """async ([model, image, options]) => {
  const r = await window.pyapp.predict(model, image, options);
  window.lastResult = r;
  const b64 = (a) => { const u = new Uint8Array(a.buffer, a.byteOffset, a.byteLength); let s = "";
    for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000));
    return btoa(s); };
  const array = (o) => ({shape: o.shape, dtype: o.dtype, data: b64(o.data), count: o.count});
  return {outputs: r.outputs.map(array), labels: r.labels ? array(r.labels) : null, objects: r.objects || null};
}"""
ERROR_JS = """async ([call, args]) => {
  try { await window.pyapp[call](...args); return null; } catch (e) { return e.message; }
}"""


def decode(item: dict) -> np.ndarray:
    return np.frombuffer(base64.b64decode(item["data"]), dtype=item["dtype"]).reshape(item["shape"])


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    yield from serve_built("index.html", "pyapp/app.js")


@pytest.fixture(scope="module")
def data_url(tmp_path_factory: pytest.TempPathFactory, serve_dir) -> str:
    root = tmp_path_factory.mktemp("analysis-data")
    shutil.copytree(GOLD, root / "gold")
    shutil.copy(DSB / "img2d.tif", root / "nuclei.tif")
    shutil.copy(DSB / "mask2d.tif", root / "mask.tif")
    return serve_dir(root) + "/"


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is a test dependency")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def session(browser, site: Site, data_url: str) -> dict:
    """One page (no service worker), booted, then one labels run: its requests before and after, its result."""
    context = browser.new_context(service_workers="block")
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.goto(site.url)
    page.evaluate("window.pyapp.ready")
    page.evaluate(PREDICT_JS, [data_url + "gold/bioimageio.yaml", data_url + "nuclei.tif", {}])
    before_labels = list(requests)
    result = page.evaluate(PREDICT_JS, [data_url + "gold/bioimageio.yaml", data_url + "nuclei.tif", {"labels": True}])
    yield {"page": page, "result": result, "before": before_labels, "after": requests[len(before_labels):]}
    context.close()


def test_scipy_loads_on_the_first_labels_request(session: dict):
    def scipy(urls: list[str]) -> list[str]:
        return [u for u in urls if "/pyodide/scipy-" in u]
    assert not scipy(session["before"]), "scipy was fetched before any labels request (boot or a plain predict)"
    assert len(scipy(session["after"])) == 1


def test_labels_count_and_match_the_nuclei(session: dict):
    result = session["result"]
    labels = decode(result["labels"])
    truth = read_image(DSB / "mask2d.tif")[0]
    scores = instance_scores(labels, truth)
    print(f"browser: {result['labels']['count']} objects (truth {N_TRUE}), F1@0.5 {scores['f1']:.3f}, "
          f"accuracy@0.5 {scores['accuracy']:.3f}, SEG {scores['seg']:.3f}")
    assert labels.dtype == np.uint16 and labels.shape == (512, 512)
    assert result["labels"]["count"] == labels.max() == len(result["objects"])
    assert abs(result["labels"]["count"] - N_TRUE) <= 0.15 * N_TRUE
    assert scores["f1"] >= 0.7


def test_browser_analysis_equals_cpython(session: dict):
    """The page's labels and table are CPython's pyapp.analysis applied to the page's own probability map."""
    result = session["result"]
    probability = decode(result["outputs"][0])[0, 0]
    expected = instance_labels(probability)
    np.testing.assert_array_equal(decode(result["labels"]), expected)
    table = object_table(expected, read_image(DSB / "img2d.tif")[0])
    rows = result["objects"]
    assert list(rows[0]) == list(table)
    for k, row in enumerate(rows):
        for key, value in row.items():
            assert value == pytest.approx(table[key][k], rel=1e-9, abs=1e-9), (key, k)


def test_evaluate_equals_cpython(session: dict, data_url: str):
    page = session["page"]
    scores = page.evaluate("([url]) => window.pyapp.evaluate(window.lastResult, url)", [data_url + "mask.tif"])
    labels = decode(session["result"]["labels"])
    truth = read_image(DSB / "mask2d.tif")[0]
    assert scores["kind"] == "labels" and scores["notes"] == []
    expected = {**instance_scores(labels, truth), **mask_scores(labels, truth)}
    assert scores["metrics"] == pytest.approx(expected, rel=1e-12)
    # a probability map (the first output) is split in the worker with the same defaults
    probability = page.evaluate("""([url]) => window.pyapp.evaluate({outputs: window.lastResult.outputs}, url)""",
                                [data_url + "mask.tif"])
    assert probability["notes"] == [f"prediction: probability split into {labels.max()} objects"]
    assert probability["metrics"]["f1"] == pytest.approx(expected["f1"])


def test_bad_requests_reject_with_one_line(session: dict, data_url: str):
    page = session["page"]
    error = page.evaluate(ERROR_JS, ["predict", [data_url + "gold/bioimageio.yaml", data_url + "nuclei.tif",
                                                 {"labels": {"minArea": 3}}]])
    assert error and "unknown labels option 'minArea'" in error and "\n" not in error, error
    error = page.evaluate("""async ([url]) => {
      try { await window.pyapp.evaluate({data: new Uint16Array(16), shape: [4, 4], dtype: "uint16"}, url); }
      catch (e) { return e.message; } }""", [data_url + "mask.tif"])
    assert error and "prediction has shape (4, 4) but ground truth has (512, 512)" in error and "\n" not in error
    assert page.evaluate("window.pyapp.evaluate(window.lastResult, window.lastResult.labels)")["metrics"]["f1"] == 1
