"""The page's model worker boots without numpy and loads it for the first run (issue 13, page start).

``pyapp.ready`` reports what the worker's boot installed; numpy must not be among it, and a prediction right after
(numpy loaded on that first use, or joined while it loads in the background after the first describe) reproduces
the bundled example model's own test output. The Python side of the boot: ``tests/test_worker_boot.py``.
"""

from __future__ import annotations

import base64

import numpy as np
import pytest
from app_fixtures import BOOT_MS, STATIC, app_site, launch, playwright, require_model  # noqa: F401

MODEL = "smooth2d"
PREDICT_JS = """async ([model, image]) => {
  const r = await window.pyapp.predict(model, image, {});
  const o = r.outputs[0], u = new Uint8Array(o.data.buffer, o.data.byteOffset, o.data.byteLength);
  let s = "";
  for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000));
  return { shape: o.shape, dtype: o.dtype, data: btoa(s) };
}"""


@pytest.fixture(scope="module")
def page(playwright, app_site):  # noqa: F811
    browser = launch(playwright)
    context = browser.new_context()
    pg = context.new_page()
    pg.goto(app_site.url)
    yield pg
    context.close()
    browser.close()


def test_boot_installs_no_numpy_and_the_first_predict_loads_it(page) -> None:
    require_model(MODEL)
    info = page.evaluate("() => window.pyapp.ready")
    installed = {name.lower() for name in info["packages"]}
    assert "numpy" not in installed and {"pyapp", "pyyaml"} <= installed, info["packages"]
    assert "runner" not in info["marks"], info["marks"]  # the runner's modules were not imported during the boot
    folder = STATIC / "models" / MODEL
    out = page.evaluate(PREDICT_JS, [MODEL, f"models/{MODEL}/test_input.npy"])
    got = np.frombuffer(base64.b64decode(out["data"]), dtype=out["dtype"]).reshape(out["shape"])
    np.testing.assert_allclose(got, np.load(folder / "test_output.npy"), atol=1e-4, rtol=0)
    page.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=BOOT_MS)


ERROR_JS = """async ([model, image]) => {
  try { await window.pyapp.predict(model, image, {}); return null; } catch (e) { return e.message; }
}"""


def test_numpy_that_cannot_load_fails_the_run_in_one_line_and_loads_on_the_next(playwright, app_site) -> None:  # noqa: F811
    """numpy's wheel blocked: the run fails with one line naming it, the page stays usable, and the next run
    (wheel reachable again) loads it."""
    require_model(MODEL)
    browser = launch(playwright)
    context = browser.new_context(service_workers="block")  # every fetch of the worker goes to the network
    blocked = lambda route: route.abort()  # noqa: E731
    context.route("**/numpy-*.whl", blocked)
    try:
        pg = context.new_page()
        pg.goto(app_site.url)
        pg.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=BOOT_MS)
        message = pg.evaluate(ERROR_JS, [MODEL, f"models/{MODEL}/test_input.npy"])
        assert message is not None and message.startswith("the image tools (numpy) did not load"), message
        assert "\n" not in message
        context.unroute("**/numpy-*.whl", blocked)
        out = pg.evaluate(PREDICT_JS, [MODEL, f"models/{MODEL}/test_input.npy"])
        assert out["shape"] == list(np.load(STATIC / "models" / MODEL / "test_output.npy").shape)
    finally:
        context.close()
        browser.close()
