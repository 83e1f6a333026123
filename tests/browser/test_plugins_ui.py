"""The plugin workbench (static/plugins.html) in headless Chromium: install by URL with its confirmation, the run
form built from the manifest's `ui`, restart of a killed plugin, workspaces (export/import, switch, delete).

The plugins are copies of plugins/calculator.py and plugins/caller.py served from a temp folder on 127.0.0.1 (another
origin, with CORS); the site is static/ on 127.0.0.1. Chromium resolves no other host. Tests wait on selectors and
JS conditions only. The tests of this module share one page and run in order (install, run, restart, workspaces).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from app_fixtures import ROOT, Site, launch, playwright, serve_built, watch  # noqa: F401

PLUGINS = ROOT / "plugins"
BOOT_MS = 120_000
WS = "ui-tests"


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    yield from serve_built("plugins.html")


@pytest.fixture(scope="module")
def plugin_server(tmp_path_factory: pytest.TempPathFactory, serve_dir) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("plugin-files")
    for name in ("calculator.py", "caller.py"):
        shutil.copy(PLUGINS / name, folder / name)
    return serve_dir(folder), folder


@pytest.fixture(scope="module")
def browser(playwright):  # noqa: F811
    b = launch(playwright)
    yield b
    b.close()


@pytest.fixture(scope="module")
def page(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch(page)
    yield page
    context.close()


def wait_ready(page) -> None:
    page.wait_for_function("document.body.dataset.workbench === 'ready'", timeout=BOOT_MS)


def plugin_status(page, name: str, status: str) -> None:
    page.wait_for_selector(f'#plugin-list li[data-plugin="{name}"][data-status="{status}"]', timeout=BOOT_MS)


def workspace(page, name: str) -> dict | None:
    return page.evaluate("(n) => window.pyapp.workbench.getWorkspace(n)", name)


def test_install_by_url_asks_first(page, site, plugin_server) -> None:
    """?plugin=URL&w=WS&start=NAME: the dialog shows the URL and the sha256; Cancel keeps the workspace unchanged,
    Install saves the source into the workspace, starts it and runs it with the form's defaults (1 add 2)."""
    base, folder = plugin_server
    calc_url = f"{base}/calculator.py"
    digest = hashlib.sha256((folder / "calculator.py").read_bytes()).hexdigest()
    url = f"{site.url}plugins.html?plugin={quote(calc_url, safe='')}&w={WS}&start=Calculator"

    page.goto(url)
    page.wait_for_selector("#install-dialog[open]", timeout=BOOT_MS)
    assert page.text_content("#install-url") == calc_url
    assert page.text_content("#install-sha256") == digest
    assert page.text_content("#install-name") == "“Calculator”"
    assert page.text_content("#install-workspace") == WS
    before = workspace(page, WS)
    page.click("#install-reject")
    page.wait_for_function("document.body.dataset.install === 'rejected'")
    after = workspace(page, WS)
    assert after == before and after["plugins"] == {}
    assert page.evaluate("window.pyapp.plugins.list()") == []
    assert "?" not in page.url  # the query is consumed: a reload does not ask again

    page.goto(url)
    page.wait_for_selector("#install-dialog[open]", timeout=BOOT_MS)
    page.click("#install-accept")
    page.wait_for_function("document.getElementById('run-result').textContent === '3'", timeout=BOOT_MS)
    assert page.evaluate("document.body.dataset.install") == "installed"
    saved = workspace(page, WS)["plugins"]
    assert list(saved) == ["Calculator"]
    assert saved["Calculator"]["url"] == calc_url and saved["Calculator"]["sha256"] == digest
    assert saved["Calculator"]["source"] == (folder / "calculator.py").read_text()
    assert not page.is_visible("#install-dialog")
    assert page.errors == []  # type: ignore[attr-defined]


def test_workspace_plugins_load_on_start_and_run_form(page, site) -> None:
    """A plain visit starts the current workspace's plugins; the run form is built from `ui` (numbers, choose)."""
    page.goto(f"{site.url}plugins.html")
    wait_ready(page)
    assert page.evaluate("document.body.dataset.workspace") == WS
    plugin_status(page, "Calculator", "ready")
    page.click('#plugin-list li[data-plugin="Calculator"]')
    form = page.evaluate("""() => [...document.querySelectorAll('#run-form [name]')].map((e) => [
        e.name, e.tagName.toLowerCase(), e.value, e.options ? [...e.options].map((o) => o.value) : null])""")
    assert form == [["a", "input", "1", None], ["b", "input", "2", None],
                    ["op", "select", "add", ["add", "sub", "mul", "div"]]]
    page.fill("#run-form [name=a]", "40")
    page.fill("#run-form [name=b]", "2")
    page.select_option("#run-form [name=op]", "mul")
    page.click("#run-plugin")
    page.wait_for_function("document.getElementById('run-result').textContent === '80'", timeout=60_000)
    # the plugin's api.show_status reached the list and the log; setup's api.log is in the log
    page.wait_for_function("document.getElementById('plugin-log').textContent.includes('40 mul 2 = 80')")
    assert "Calculator ready" in page.text_content("#plugin-log")
    # ImJoy's one-string ui syntax
    parts = page.evaluate("""() => window.pyapp.workbench.parseUi(
        "Add {id: 'a', type: 'number', placeholder: 1} and {id: 'b', type: 'number', placeholder: 2}")""")
    assert [(p["label"], p["id"], p["type"], p["placeholder"]) for p in parts] == [
        ("Add", "a", "number", 1), ("and", "b", "number", 2)]


def test_restart_killed_plugin(page) -> None:
    """Killing a plugin shows it as killed and disables Run; Restart starts it again from the workspace source."""
    page.click('#plugin-list li[data-plugin="Calculator"]')
    assert page.evaluate("window.pyapp.plugins.kill('Calculator')") is True
    plugin_status(page, "Calculator", "killed")
    page.wait_for_selector("#run-plugin:disabled")
    assert page.text_content("#detail-status") == "killed"
    page.click("#restart-plugin")
    plugin_status(page, "Calculator", "ready")
    page.fill("#run-form [name=a]", "5")
    page.fill("#run-form [name=b]", "7")
    page.select_option("#run-form [name=op]", "add")
    page.click("#run-plugin")
    page.wait_for_function("document.getElementById('run-result').textContent === '12'", timeout=60_000)


def test_workspace_export_import_round_trip(page, plugin_server) -> None:
    """Export (the button's download and the API agree) → import under another name → the same plugins and
    workflows, started; switch back; delete the copy."""
    _, folder = plugin_server
    page.evaluate("""() => window.pyapp.workbench.saveWorkflow(
        {name: "double", steps: [{plugin: "Calculator", fn: "mul", args: [21, 2]}]})""")
    with page.expect_download() as download:
        page.click("#ws-export")
    exported = json.loads(Path(download.value.path()).read_text())
    assert exported == json.loads(page.evaluate("window.pyapp.workbench.exportWorkspace()"))
    assert exported["format"] == "pyapp-workspace" and exported["workspace"]["name"] == WS
    assert exported["workspace"]["plugins"]["Calculator"]["source"] == (folder / "calculator.py").read_text()
    assert exported["workspace"]["workflows"]["double"]["steps"][0]["fn"] == "mul"

    page.evaluate("(text) => window.pyapp.workbench.importWorkspace(text, {name: 'copy', approve: () => true})",
                  json.dumps(exported))
    wait_ready(page)
    assert page.evaluate("document.body.dataset.workspace") == "copy"
    assert page.input_value("#workspace") == "copy"
    plugin_status(page, "Calculator", "ready")
    copy = workspace(page, "copy")
    original = exported["workspace"]
    assert copy["plugins"] == original["plugins"] and copy["workflows"] == original["workflows"]
    assert sorted(page.evaluate("window.pyapp.workbench.listWorkspaces()")) == ["copy", WS]

    # the same through the file picker: "copy" exists, so the page asks for another name (never replaces it),
    # then shows the install dialog for each plugin of the file
    (folder / "copy.json").write_text(json.dumps({**exported, "workspace": {**original, "name": "copy",
                                                                              "workflows": {}}}))
    page.set_input_files("#ws-import", str(folder / "copy.json"))
    page.wait_for_selector("#name-dialog[open]")
    assert "copy" in page.text_content("#name-message")
    page.fill("#name-input", "copy 2")
    page.click("#name-ok")
    page.wait_for_selector("#install-dialog[open]", timeout=BOOT_MS)
    assert page.text_content("#install-name") == "“Calculator”"
    assert page.text_content("#install-sha256") == original["plugins"]["Calculator"]["sha256"]
    page.click("#install-accept")
    page.wait_for_function("""async () => {
        const ws = await window.pyapp.workbench.getWorkspace('copy 2');
        return ws && Object.keys(ws.workflows).length === 0 && document.body.dataset.workbench === 'ready';
    }""", timeout=BOOT_MS)
    assert workspace(page, "copy")["workflows"] == original["workflows"]
    page.evaluate("window.pyapp.workbench.deleteWorkspace('copy 2')")

    page.select_option("#workspace", WS)
    page.wait_for_function(f"document.body.dataset.workspace === {WS!r} && document.body.dataset.workbench === 'ready'",
                           timeout=BOOT_MS)
    plugin_status(page, "Calculator", "ready")
    page.evaluate("window.pyapp.workbench.deleteWorkspace('copy')")
    assert page.evaluate("window.pyapp.workbench.listWorkspaces()") == [WS]
    assert workspace(page, WS)["plugins"]["Calculator"]["source"] == (folder / "calculator.py").read_text()
    # a file that is not an export is refused with a message, nothing changes
    (folder / "bad.json").write_text('{"name": "x"}')
    page.set_input_files("#ws-import", str(folder / "bad.json"))
    page.wait_for_selector("#wb-error:not([hidden])")
    assert "not a workspace export" in page.text_content("#wb-error")
    assert page.evaluate("window.pyapp.workbench.listWorkspaces()") == [WS]
    assert page.errors == []  # type: ignore[attr-defined]


def test_new_and_delete_workspace_from_the_ui(page) -> None:
    """New (name dialog) switches to an empty workspace; Delete asks, then goes back to the one left."""
    page.click("#ws-new")
    page.wait_for_selector("#name-dialog[open]")
    page.fill("#name-input", "scratch")
    page.click("#name-ok")
    page.wait_for_function("document.body.dataset.workspace === 'scratch' && "
                           "document.body.dataset.workbench === 'ready'", timeout=BOOT_MS)
    assert page.is_visible("#plugin-list-empty")
    assert page.evaluate("window.pyapp.plugins.list().filter((p) => p.status === 'ready').length") == 0
    page.click("#ws-delete")
    page.wait_for_selector("#prompt-dialog[open]")
    assert "scratch" in page.text_content("#prompt-message")
    assert page.is_hidden("#prompt-input")
    page.click("#prompt-ok")
    page.wait_for_function(f"document.body.dataset.workspace === {WS!r} && document.body.dataset.workbench === 'ready'",
                           timeout=BOOT_MS)
    plugin_status(page, "Calculator", "ready")
    assert page.evaluate("window.pyapp.workbench.listWorkspaces()") == [WS]
