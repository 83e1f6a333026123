"""The engine panel's pure helpers in headless Chromium (no engine, no model worker): engine addresses, the
consent summary, pairing files, ndarray encoding, status decoding, plot points, masks.

The modules are imported into a blank page of the built site (same origin). Each check compares with values
computed here in Python from the same inputs.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from app_fixtures import Site, launch, playwright, serve_built, watch  # noqa: F401

BLANK = "engine-units.html"
IMPORT_JS = """async () => {
  window.m = {
    client: await import("./pyapp/engine-client.js"), consent: await import("./pyapp/engine-consent.js"),
    data: await import("./pyapp/engine-data.js"), chart: await import("./pyapp/engine-chart.js"),
    panel: await import("./pyapp/engine-panel.js"),
  };
  return Object.keys(window.m).length;
}"""


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    yield from serve_built("pyapp/engine-client.js", "hypha/hypha-rpc-websocket.min.mjs")


@pytest.fixture(scope="module")
def page(playwright, site):  # noqa: F811
    browser = launch(playwright)
    context = browser.new_context()
    page = watch(context.new_page())
    page.route(site.url + BLANK, lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>units</title><body></body>"))
    page.goto(site.url + BLANK)
    assert page.evaluate(IMPORT_JS) == 5
    yield page
    assert page.errors == []
    context.close()
    browser.close()


def js_error(page, expression: str) -> str:
    return page.evaluate(f"() => {{ try {{ {expression}; return ''; }} catch (e) {{ return e.message; }} }}")


@pytest.mark.parametrize(("given", "url", "socket"), [
    ("127.0.0.1:9527", "http://127.0.0.1:9527", "ws://127.0.0.1:9527/ws"),
    ("http://127.0.0.1:9527/", "http://127.0.0.1:9527", "ws://127.0.0.1:9527/ws"),
    ("ws://10.0.0.2:9000/ws", "http://10.0.0.2:9000", "ws://10.0.0.2:9000/ws"),
    ("https://engine.example.org/hypha", "https://engine.example.org/hypha", "wss://engine.example.org/hypha/ws"),
])
def test_engine_address(page, given: str, url: str, socket: str) -> None:
    got = page.evaluate("(t) => m.client.parseEngineUrl(t)", given)
    assert (got["url"], got["socket"]) == (url, socket)
    assert got["host"] == url.split("//")[1].split("/")[0]


@pytest.mark.parametrize(("given", "words"), [("", "enter the engine address"), ("ftp://x.org", "starts with http"),
                                              ("http://[::1", "not an engine address")])
def test_bad_engine_address(page, given: str, words: str) -> None:
    assert words in js_error(page, f"m.client.parseEngineUrl({given!r})")


def test_ndarray_round_trip(page) -> None:
    """A typed array view with an offset goes out as hypha-rpc's ndarray (bytes, shape, dtype) and comes back."""
    array = (np.arange(12, dtype=np.int32).reshape(3, 4) - 5) * 1000
    got = page.evaluate("""(values) => {
      const base = new Int32Array([99, ...values]);
      const view = base.subarray(1);
      const enc = m.client.ndarray({data: view, shape: [3, 4], dtype: "int32"});
      const dec = m.client.fromNdarray(enc);
      return {rtype: enc._rtype, shape: enc._rshape, dtype: enc._rdtype, bytes: Array.from(enc._rvalue),
              back: Array.from(dec.data), backShape: dec.shape};
    }""", array.ravel().tolist())
    assert (got["rtype"], got["shape"], got["dtype"]) == ("ndarray", [3, 4], "int32")
    assert bytes(got["bytes"]) == array.astype("<i4").tobytes()
    assert got["back"] == array.ravel().tolist() and got["backShape"] == [3, 4]


def test_status_decoding(page) -> None:
    """The trainer's status (sample planes as ndarrays) becomes plain numbers and typed arrays."""
    plane = np.arange(6, dtype=np.uint8).reshape(2, 3)
    got = page.evaluate("""(bytes) => {
      const nd = {_rtype: "ndarray", _rvalue: new Uint8Array(bytes), _rshape: [2, 3], _rdtype: "uint8"};
      const st = m.client.plainStatus({state: "running", step: "3", total_steps: 10, losses: [[1, 0.5], [2, 0.4]],
                                       val_metrics: [], eta_s: 4.2, sample: {image: nd, prediction: nd}});
      return {step: st.step, keys: Object.keys(st.sample), data: Array.from(st.sample.image.data),
              shape: st.sample.prediction.shape};
    }""", plane.ravel().tolist())
    assert got == {"step": 3, "keys": ["image", "prediction"], "data": plane.ravel().tolist(), "shape": [2, 3]}


def test_consent_summary_lists_every_pair_and_host(page) -> None:
    items = [{"image": "a.tif", "mask": "a_mask.tif", "shape": [512, 512], "bytes": 2 * 512 * 512 * 2},
             {"image": "b.png", "mask": "b_mask.png", "shape": [64, 80], "bytes": 64 * 80 * 2}]
    summary = {"host": "127.0.0.1:9527", "socket": "ws://127.0.0.1:9527/ws", "items": items,
               "bytes": sum(i["bytes"] for i in items)}
    lines = page.evaluate("(s) => m.consent.summaryLines(s)", summary)
    assert lines[0] == f"Send 2 training pairs ({summary['bytes'] / 1024**2:.1f} MB) to 127.0.0.1:9527:"
    assert lines[1] == "a.tif + mask a_mask.tif · 512×512 · 1.0 MB"
    assert lines[2] == f"b.png + mask b_mask.png · 64×80 · {64 * 80 * 2 / 1024:.1f} KB"


def test_programmatic_consent_must_say_true(page) -> None:
    """A consent function sees the summary; anything but `true` (e.g. "yes") counts as no."""
    got = page.evaluate("""async () => {
      const summary = {host: "h:1", socket: "ws://h:1/ws", items: [], bytes: 0};
      let seen = null;
      const yes = await m.consent.askConsent(summary, (s) => { seen = s.lines; return true; });
      const sloppy = await m.consent.askConsent(summary, () => "yes");
      return {yes, sloppy, seen, state: document.body.dataset.engineConsent};
    }""")
    assert got == {"yes": True, "sloppy": False, "seen": ["Send 0 training pairs (0 B) to h:1:"], "state": "refused"}


def test_consent_dialog_cancel_and_send(page) -> None:
    """The dialog names the host and each file; Cancel resolves false, Send resolves true, both remove it."""
    page.evaluate("""() => { window.answers = [];
      const s = {host: "10.1.2.3:9527", socket: "ws://10.1.2.3:9527/ws", bytes: 8,
                 items: [{image: "cells.tif", mask: "cells_mask.tif", shape: [2, 2], bytes: 8}]};
      m.consent.showConsentDialog(s).then((a) => answers.push(a)); }""")
    text = page.inner_text("#engine-consent")
    assert "10.1.2.3:9527" in text and "cells.tif + mask cells_mask.tif · 2×2 · 8 B" in text
    page.click("#engine-consent-cancel")
    page.wait_for_function("answers.length === 1")
    page.evaluate("""() => { m.consent.showConsentDialog({host: "h", socket: "ws://h/ws", bytes: 0, items: []})
                               .then((a) => answers.push(a)); }""")
    page.click("#engine-consent-send")
    page.wait_for_function("answers.length === 2")
    assert page.evaluate("[answers, document.querySelectorAll('dialog').length]") == [[False, True], 0]


def test_pair_files_in_name_order(page) -> None:
    got = page.evaluate("""() => m.panel.pairFiles(
        [{name: "img10.tif"}, {name: "img2.tif"}], [{name: "mask2.tif"}, {name: "mask10.tif"}])
        .map((p) => [p.image.name, p.mask.name])""")
    assert got == [["img2.tif", "mask2.tif"], ["img10.tif", "mask10.tif"]]
    assert "2 images but 1 mask" in js_error(page, "m.panel.pairFiles([{name: 'a'}, {name: 'b'}], [{name: 'c'}])")


def test_points_from_each_series_form(page) -> None:
    got = page.evaluate("""() => [m.chart.toPoints([0.5, 0.25]), m.chart.toPoints([[10, 0.3], [20, NaN]]),
                                  m.chart.toPoints([{step: 25, dice: 0.7, loss: 0.2}], "dice"),
                                  m.chart.toPoints(null)]""")
    assert got == [[[1, 0.5], [2, 0.25]], [[10, 0.3]], [[25, 0.7]], []]


def test_masks_become_integer_labels(page) -> None:
    got = page.evaluate("""() => { const r = m.data.labels({data: new Float32Array([0, 1, 2, 0]), shape: [2, 2],
                                                         dtype: "float32"}, "m.tif");
                                   return [r.dtype, Array.from(r.data)]; }""")
    assert got == ["int32", [0, 1, 2, 0]]
    error = js_error(page, "m.data.labels({data: new Float32Array([0, 0.5]), shape: [1, 2], dtype: 'float32'}, 'x')")
    assert error.startswith("x: a mask holds whole numbers") and "0.5" in error


def test_colour_image_becomes_grey_plane(page) -> None:
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    got = page.evaluate("""(v) => { const r = m.data.toPlane({data: new Uint8Array(v), shape: [2, 3, 3], dtype: "uint8",
                                                              axes: "yxc"}, "rgb.png");
                                    return [r.shape, Array.from(r.data)]; }""", rgb.ravel().tolist())
    assert got[0] == [2, 3]
    np.testing.assert_allclose(got[1], rgb.astype(np.float32).mean(axis=2).ravel(), rtol=1e-6)
    assert "training takes 2D images" in js_error(
        page, "m.data.toPlane({data: new Uint8Array(24), shape: [2, 3, 4], dtype: 'uint8', axes: 'zyx'}, 'stack.tif')")


def test_eta_in_words(page) -> None:
    assert page.evaluate("[5, 150, 7200, null].map(m.panel.etaText)") == [
        "about 5 s left", "about 3 min left", "about 2.0 h left", ""]
