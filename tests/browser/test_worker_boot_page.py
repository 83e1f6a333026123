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
