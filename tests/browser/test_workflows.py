"""Workflows on the plugin workbench (static/plugins.html) in headless Chromium: the built-in example with its
prompt, "$prev" chaining, save into the workspace, and the share link round trip (#workflow=, deflate-raw +
base64url) opened in a new page.

Calculator is a copy of plugins/calculator.py served from a temp folder on 127.0.0.1 and installed through the
install-by-URL confirmation. Tests wait on selectors and JS conditions only; they share one browser context.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from app_fixtures import ROOT, Site, launch, playwright, serve_built, watch  # noqa: F401

PLUGINS = ROOT / "plugins"
BOOT_MS = 120_000
WS = "flows"
CHAIN = {"name": "times then plus", "steps": [
    {"plugin": "Calculator", "fn": "mul", "args": [3, 4]},
    {"plugin": "Calculator", "fn": "run", "args": [{"config": {"a": "$prev", "b": 30, "op": "add"}}]},
]}


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    yield from serve_built("plugins.html")


@pytest.fixture(scope="module")
def context(playwright, site, serve_dir, tmp_path_factory):  # noqa: F811
    """A browser context whose workspace "flows" holds Calculator (installed by URL, accepted)."""
    folder = tmp_path_factory.mktemp("workflow-plugins")
    shutil.copy(PLUGINS / "calculator.py", folder / "calculator.py")
    calc_url = f"{serve_dir(folder)}/calculator.py"
    browser = launch(playwright)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{site.url}plugins.html?plugin={quote(calc_url, safe='')}&w={WS}")
    page.wait_for_selector("#install-dialog[open]", timeout=BOOT_MS)
    page.click("#install-accept")
    page.wait_for_function("document.body.dataset.install === 'installed'", timeout=BOOT_MS)
    page.close()
    yield context
    context.close()
    browser.close()


def open_page(context, url: str):
    page = context.new_page()
    watch(page)
    page.goto(url)
    page.wait_for_function("document.body.dataset.workbench === 'ready'", timeout=BOOT_MS)
    page.wait_for_selector('#plugin-list li[data-plugin="Calculator"][data-status="ready"]', timeout=BOOT_MS)
    return page


def result_is(page, selector: str, text: str) -> None:
    page.wait_for_function("([s, t]) => document.querySelector(s).textContent === t", arg=[selector, text],
                           timeout=60_000)


def test_example_workflow_prompts_then_adds(context, site) -> None:
    """The built-in "number prompt → calculator": the prompt step asks in a dialog, Calculator adds 2."""
    page = open_page(context, f"{site.url}plugins.html")
    example = json.loads(page.input_value("#workflow-json"))
    assert example["name"] == "number prompt → calculator"
    assert [s["plugin"] for s in example["steps"]] == ["pyapp", "Calculator"]
    page.click("#run-workflow")
    page.wait_for_selector("#prompt-dialog[open]")
    assert page.input_value("#prompt-input") == "40"
    page.fill("#prompt-input", "5")
    page.click("#prompt-ok")
    result_is(page, "#workflow-result", "7")
    # cancelling the prompt stops the workflow with a message
    page.click("#run-workflow")
    page.wait_for_selector("#prompt-dialog[open]")
    page.click("#prompt-cancel")
    page.wait_for_function("document.body.dataset.workflow === 'error'")
    assert "cancelled" in page.text_content("#workflow-result")
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_workflow_share_link_round_trip(context, site) -> None:
    """Edit → run ("$prev" chaining) → save → share link → a new page opens the link, offers the same workflow,
    and running it gives the same result."""
    page = open_page(context, f"{site.url}plugins.html")
    page.fill("#workflow-json", json.dumps(CHAIN))
    page.click("#run-workflow")
    result_is(page, "#workflow-result", "42")
    page.click("#save-workflow")
    page.wait_for_function(f"document.querySelector('#workflow-select').value === {CHAIN['name']!r}")
    saved = page.evaluate(f"window.pyapp.workbench.getWorkspace({WS!r})")["workflows"]
    assert saved == {CHAIN["name"]: CHAIN}
    page.click("#share-workflow")
    page.wait_for_selector("#share-url:not([hidden])")
    link = page.input_value("#share-url")
    assert link.startswith(f"{site.url}plugins.html#workflow=")
    assert all(c.isalnum() or c in "-_" for c in link.split("#workflow=")[1])
    decoded = page.evaluate("""async (link) => {
        const flows = await import('./pyapp/workflows.js');
        return flows.decodeWorkflow(flows.workflowFromHash(new URL(link).hash));
    }""", link)
    assert decoded == CHAIN
    page.close()

    opened = open_page(context, link)
    opened.wait_for_selector("#workflow-offer:not([hidden])")
    assert opened.text_content("#offer-name") == CHAIN["name"]
    assert json.loads(opened.input_value("#workflow-json")) == CHAIN
    assert "1. Calculator.mul(3, 4)" in opened.text_content("#offer-steps")
    opened.click("#offer-run")
    result_is(opened, "#workflow-result", "42")
    assert opened.errors == []  # type: ignore[attr-defined]
    opened.close()


def test_damaged_link_and_bad_steps_are_reported(context, site) -> None:
    """A damaged #workflow= fragment and a failing step show one readable line; nothing hangs."""
    page = open_page(context, f"{site.url}plugins.html#workflow=AAAA-not-deflate")
    page.wait_for_selector("#wb-error:not([hidden])")
    assert "workflow link is damaged" in page.text_content("#wb-error")
    assert page.is_hidden("#workflow-offer")
    page.fill("#workflow-json", json.dumps({"name": "bad", "steps": [
        {"plugin": "Calculator", "fn": "div", "args": [1, 0]}]}))
    page.click("#run-workflow")
    page.wait_for_function("document.body.dataset.workflow === 'error'")
    assert page.text_content("#workflow-result").startswith("step 1 (Calculator.div): ZeroDivisionError")
    page.fill("#workflow-json", json.dumps({"name": "bad", "steps": [{"plugin": "Calculator", "fn": "add",
                                                                       "args": ["$prev", 1]}]}))
    page.click("#run-workflow")
    page.wait_for_function("document.getElementById('wb-error').textContent.includes('$prev')")
    page.close()
