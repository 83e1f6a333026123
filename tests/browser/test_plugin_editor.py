"""The workbench's plugin editor (CodeMirror 6, static/pyapp/editor.bundle.js) in headless Chromium: open a plugin's
workspace source, edit it through the EditorView, Save & reload (Ctrl-S and the button), and a broken manifest that
shows its error while the workspace keeps the previous source.

Offline-safe: the site is static/ on 127.0.0.1, the Calculator's source goes into a workspace through the page's own
import (no other server); Chromium resolves no other host. Tests wait on selectors and JS conditions only; they share
one page and run in order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import pytest
from app_fixtures import ROOT, Site, open_workbench, playwright, serve_built  # noqa: F401

CALCULATOR = (ROOT / "plugins" / "calculator.py").read_text()
BOOT_MS = 120_000
WS = "editor-tests"


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    yield from serve_built("pyapp/editor.bundle.js")


@pytest.fixture(scope="module")
def page(playwright, site):  # noqa: F811
    browser, context, page = open_workbench(playwright, site, "editor-start")  # the import below makes WS
    export = {"format": "pyapp-workspace", "version": 1, "workspace": {
        "name": WS, "plugins": {"Calculator": {"name": "Calculator", "source": CALCULATOR, "url": "",
                                               "sha256": hashlib.sha256(CALCULATOR.encode()).hexdigest(),
                                               "filename": "calculator.py"}}, "workflows": {}}}
    page.evaluate("(text) => window.pyapp.workbench.importWorkspace(text, {approve: () => true})", json.dumps(export))
    page.wait_for_function("document.body.dataset.workbench === 'ready'", timeout=BOOT_MS)
    page.wait_for_selector('#plugin-list li[data-plugin="Calculator"][data-status="ready"]', timeout=BOOT_MS)
    yield page
    context.close()
    browser.close()


def saved_source(page) -> dict:
    return page.evaluate(f"window.pyapp.workbench.getWorkspace({WS!r}).then((ws) => ws.plugins.Calculator)")


def replace_in_editor(page, old: str, new: str) -> None:
    """Change the text through the CodeMirror view (one transaction), as typing would."""
    page.evaluate("""([old, neu]) => {
        const view = window.pyapp.workbench.editor.view;
        const from = view.state.doc.toString().indexOf(old);
        if (from < 0) throw new Error(`not in the editor: ${old}`);
        view.dispatch({changes: {from, to: from + old.length, insert: neu}});
    }""", [old, new])


def test_edit_save_and_reload(page) -> None:
    """Edit opens the workspace source in CodeMirror; Ctrl-S restarts the plugin from the edited text and stores it
    with its new sha256; the new add() runs."""
    assert page.evaluate("window.pyapp.plugins.call('Calculator', 'add', [1, 2])") == 3
    page.click('#plugin-list li[data-plugin="Calculator"]')
    page.click("#edit-plugin")
    page.wait_for_function("document.body.dataset.editor === 'open'", timeout=30_000)
    assert page.is_visible("#plugin-editor .cm-editor")
    assert page.text_content("#editor-name") == "Calculator"
    assert page.evaluate("window.pyapp.workbench.editor.source") == CALCULATOR
    assert page.evaluate("window.pyapp.workbench.editor.view.state.doc.toString()") == CALCULATOR
    assert page.is_visible("#plugin-editor .cm-content .tok-keyword, #plugin-editor .cm-content span[class]")

    replace_in_editor(page, "return a + b\n", "return a + b + 1000\n")
    page.click("#plugin-editor .cm-content")
    page.keyboard.press("Control+s")
    page.wait_for_function("document.body.dataset.editor === 'saved'", timeout=BOOT_MS)
    page.wait_for_selector('#plugin-list li[data-plugin="Calculator"][data-status="ready"]', timeout=BOOT_MS)
    assert page.evaluate("window.pyapp.plugins.call('Calculator', 'add', [1, 2])") == 1003

    edited = CALCULATOR.replace("return a + b\n", "return a + b + 1000\n")
    entry = saved_source(page)
    assert entry["source"] == edited
    assert entry["sha256"] == hashlib.sha256(edited.encode()).hexdigest()
    assert entry["sha256"] != hashlib.sha256(CALCULATOR.encode()).hexdigest()
    assert entry["filename"] == "calculator.py"
    assert page.is_hidden("#editor-error")
    assert [p["name"] for p in page.evaluate("window.pyapp.plugins.list()") if p["status"] == "ready"] == ["Calculator"]
    assert page.errors == []  # type: ignore[attr-defined]


def test_broken_manifest_shows_error_and_keeps_source(page) -> None:
    """An invalid [tool.pyapp] field: the loader's one-line error shows under the editor, the workspace keeps the
    previous source (and sha256), and the previous plugin runs again."""
    before = saved_source(page)
    replace_in_editor(page, 'version = "0.1.0"', 'version = "0.2.0"')
    replace_in_editor(page, "# [tool.pyapp]\n", '# [tool.pyapp]\n# type = "not-a-type"\n')
    page.click("#editor-save")
    page.wait_for_function("document.body.dataset.editor === 'error'", timeout=BOOT_MS)
    error = page.text_content("#editor-error")
    assert page.is_visible("#editor-error")
    assert "\n" not in error and "type" in error and "not-a-type" in error, error
    assert saved_source(page) == before
    page.wait_for_selector('#plugin-list li[data-plugin="Calculator"][data-status="ready"]', timeout=BOOT_MS)
    assert page.evaluate("window.pyapp.plugins.call('Calculator', 'add', [1, 2])") == 1003
    # the broken text stays in the editor to be fixed
    assert 'type = "not-a-type"' in page.evaluate("window.pyapp.workbench.editor.source")

    # fixed and saved: the error goes away, the new version is stored
    replace_in_editor(page, '# type = "not-a-type"\n', "")
    page.click("#editor-save")
    page.wait_for_function("document.body.dataset.editor === 'saved'", timeout=BOOT_MS)
    assert page.is_hidden("#editor-error")
    assert 'version = "0.2.0"' in saved_source(page)["source"]
    page.wait_for_selector('#plugin-list li[data-plugin="Calculator"][data-status="ready"]', timeout=BOOT_MS)
    assert page.text_content("#detail-name") == "Calculator 0.2.0"
    page.click("#editor-close")
    assert page.is_hidden("#plugin-editor")
    assert page.errors == []  # type: ignore[attr-defined]
