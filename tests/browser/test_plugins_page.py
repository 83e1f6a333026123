"""The plugins page (issue 11 item 8): built-in plugins listed and runnable through the install dialog, the Model
runner reaching the app's model service `pyapp.models` on this page, a New plugin from the template; and an
install link whose `&sha256=` does not match the fetched bytes installs nothing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import numpy as np
import pytest
from app_fixtures import STATIC, Site, launch, playwright, serve_built, watch  # noqa: F401

BOOT_MS = 180_000
WS = "builtins"


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    yield from serve_built("plugins/index.json", "plugins/model_runner.py", "models/smooth2d/test_input.npy")


@pytest.fixture(scope="module")
def page(playwright, site):  # noqa: F811
    browser = launch(playwright)
    context = browser.new_context()
    page = watch(context.new_page())
    page.goto(f"{site.url}plugins.html?w={WS}")
    page.wait_for_function("document.body.dataset.workbench === 'ready'", timeout=BOOT_MS)
    yield page
    context.close()
    browser.close()


def test_builtins_listed_and_model_runner_reaches_the_model_service(page) -> None:
    index = json.loads((STATIC / "plugins" / "index.json").read_text())
    listed = page.evaluate("[...document.querySelectorAll('#builtin-list li')].map((li) => li.dataset.plugin)")
    assert listed == [p["name"] for p in index] and {"Model runner", "Image classifier"} <= set(listed)
    page.click("#builtin-box summary")
    page.click('#builtin-list button[data-builtin="Model runner"]')
    page.wait_for_selector("#install-dialog[open]", timeout=BOOT_MS)
    digest = hashlib.sha256((STATIC / "plugins" / "model_runner.py").read_bytes()).hexdigest()
    assert page.text_content("#install-sha256") == digest
    assert page.text_content("#install-name") == "“Model runner”"
    assert "no network" in page.text_content("#install-permissions")
    page.click("#install-accept")
    page.wait_for_selector('#plugin-list li[data-plugin="Model runner"][data-status="ready"]', timeout=BOOT_MS)
    expected = np.load(STATIC / "models" / "smooth2d" / "test_output.npy")
    result = page.evaluate("""async () => {
      const r = await window.pyapp.plugins.call("Model runner", "run",
        [{ config: { model: "smooth2d", image: "models/smooth2d/test_input.npy" } }]);
      return r;
    }""")
    assert result["model"] == "smooth2d" and result["shape"] == list(expected.shape), result
    assert page.evaluate("typeof window.pyapp.workbench.state === 'object' && typeof window.pyapp.plugins.load")


def test_new_plugin_from_the_template_runs(page) -> None:
    page.click("#new-plugin")
    page.wait_for_selector('#plugin-list li[data-plugin="My plugin"][data-status="ready"]', timeout=BOOT_MS)
    assert page.evaluate("window.pyapp.plugins.call('My plugin', 'run', [{config: {threshold: 0.5}}])") > 0
    saved = page.evaluate(f"window.pyapp.workbench.getWorkspace({WS!r}).then((ws) => ws.plugins['My plugin'])")
    assert saved["permissions"] == [] and "[tool.pyapp]" in saved["source"]


def test_install_link_with_another_sha256_installs_nothing(page, site) -> None:
    page.goto(f"{site.url}plugins.html?w=pinned&plugin=plugins%2Fcalculator.py&sha256={'0' * 64}")
    page.wait_for_selector("#wb-error:not([hidden])", timeout=BOOT_MS)
    assert "not the one the link names" in page.text_content("#wb-error")
    assert page.evaluate("document.body.dataset.install") == "refused"
    assert page.evaluate("window.pyapp.workbench.getWorkspace('pinned').then((ws) => Object.keys(ws.plugins))") == []


def test_no_page_errors(page) -> None:
    assert page.errors == []
