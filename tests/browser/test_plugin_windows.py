"""Plugin windows in the workbench (static/plugins.html, web/pyapp/plugin-windows.js) in headless Chromium.

A plugin opens an imageviewer (an ndarray), a plot and a markdown window: the Windows area shows a canvas of the
array's size with the shape/dtype caption, an SVG with a line path and ticks, and the markdown rendered with its
HTML escaped (a ``<script>`` in the text is shown as text and never runs). show_dialog opens a <dialog>; close()
removes both. The site is static/ on 127.0.0.1 (offline); the tests wait on selectors and promises only.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from app_fixtures import ROOT, Site, open_workbench, playwright, serve_built  # noqa: F401

BOOT_MS = 120_000

SOURCE = '''# /// script
# dependencies = ["numpy"]
#
# [tool.pyapp]
# name = "Window maker"
# ///
import numpy as np
from imjoy import api

MARKDOWN = """# Notes

Some **bold**, *italic* and `code`; <b>not bold</b> <script>window.pwned = true</script>

- one
- two [safe](https://example.org/) and [bad](javascript:window.pwned=1)

```
x = 1 < 2
```
"""


class Plugin:
    def __init__(self):
        self.handles = {}

    def keep(self, *handles):
        self.handles.update((h.id, h) for h in handles)
        return [h.id for h in handles]

    async def windows(self):
        grey = np.arange(12 * 20, dtype=np.float32).reshape(12, 20)
        rgb = np.zeros((5, 7, 3), dtype=np.uint16)
        rgb[..., 0] = 1000
        image = await api.create_window({"type": "imageviewer", "name": "ramp", "data": grey})
        colour = await api.create_window(type="imageviewer", name="red", data=rgb)
        x = np.linspace(0, 1, 50)
        plot = await api.create_window({"type": "plot", "name": "square", "title": "x squared",
                                        "data": {"x": x.tolist(), "y": (x ** 2).tolist()}})
        note = await api.create_window({"type": "markdown", "name": "notes", "data": MARKDOWN})
        return self.keep(image, colour, plot, note)

    async def dialog(self):
        d = await api.show_dialog({"type": "markdown", "name": "Hello", "data": "## Hello <i>you</i>"})
        return self.keep(d)[0]

    async def open_file(self):
        f = await api.show_file_dialog({"accept": ".txt", "title": "A text file"})
        return [f.name, f.bytes.decode(), f.size]

    async def close(self, wid):
        await self.handles.pop(wid).close()
        return True


api.export(Plugin())
'''


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    yield from serve_built("pyapp/plugin-windows.js")


@pytest.fixture(scope="module")
def page(playwright, site):  # noqa: F811
    browser, context, page = open_workbench(playwright, site, "windows-test")
    entry = page.evaluate("""(s) => window.pyapp.workbench.startPlugin({source: s, filename: 'windows.py'})
        .then((e) => [e.status, e.error])""", SOURCE)
    assert entry == ["ready", ""]
    yield page
    context.close()
    browser.close()


def window(page, wid: str) -> str:
    return f'#windows [data-window-id="{wid}"]'


def test_imageviewer_plot_and_markdown_windows(page) -> None:
    ids = page.evaluate("window.pyapp.plugins.call('Window maker', 'windows', [])")
    image, colour, plot, note = ids
    for wid in ids:
        page.wait_for_selector(window(page, wid))

    canvas = page.evaluate("""(sel) => { const c = document.querySelector(sel + ' canvas');
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        return [c.width, c.height, px[0], px[4 * (c.width * c.height - 1)], px[3]]; }""", window(page, image))
    assert canvas == [20, 12, 0, 255, 255]  # contrast-stretched: min -> 0, max -> 255, opaque
    assert page.text_content(window(page, image) + " .caption").startswith("12×20 float32")
    red = page.evaluate("""(sel) => { const c = document.querySelector(sel + ' canvas');
        return [c.width, c.height, ...c.getContext('2d').getImageData(3, 2, 1, 1).data]; }""", window(page, colour))
    assert red == [7, 5, 255, 0, 0, 255]
    assert page.text_content(window(page, colour) + " .caption").startswith("5×7×3 uint16")

    svg = page.evaluate("""(sel) => { const s = document.querySelector(sel + ' svg');
        const line = s.querySelector('path.line');
        return [s.querySelectorAll('path.line').length, line.getAttribute('d').split('L').length,
                s.querySelectorAll('.tick-label.x').length, s.querySelectorAll('.tick-label.y').length,
                s.querySelector('.title').textContent]; }""", window(page, plot))
    assert svg[0] == 1 and svg[1] == 50 and svg[2] >= 3 and svg[3] >= 3 and svg[4] == "x squared"

    md = window(page, note) + " .markdown"
    assert page.text_content(md + " h1") == "Notes"
    assert page.text_content(md + " strong") == "bold" and page.text_content(md + " em") == "italic"
    assert page.evaluate(f"document.querySelectorAll('{md} script, {md} b').length") == 0
    paragraph = page.text_content(md + " p")
    assert "<b>not bold</b>" in paragraph and "<script>window.pwned = true</script>" in paragraph
    assert page.evaluate("window.pwned") is None
    links = page.evaluate(f"[...document.querySelectorAll('{md} a')].map((a) => a.href)")
    assert links == ["https://example.org/"]  # the javascript: link is text only
    assert page.evaluate(f"document.querySelectorAll('{md} li').length") == 2
    assert page.text_content(md + " pre code") == "x = 1 < 2"

    assert page.evaluate("(id) => window.pyapp.plugins.call('Window maker', 'close', [id])", note) is True
    page.wait_for_selector(window(page, note), state="detached")
    assert page.errors == []  # type: ignore[attr-defined]


def test_show_dialog_opens_a_dialog_that_close_removes(page) -> None:
    wid = page.evaluate("window.pyapp.plugins.call('Window maker', 'dialog', [])")
    sel = f'dialog.plugin-dialog[data-window-id="{wid}"][open]'
    page.wait_for_selector(sel)
    assert page.text_content(sel + " h2") == "Hello <i>you</i>"
    page.evaluate("(id) => window.pyapp.plugins.call('Window maker', 'close', [id])", wid)
    page.wait_for_selector(f'[data-window-id="{wid}"]', state="detached")
    # a second one is closed by its own Close button
    wid = page.evaluate("window.pyapp.plugins.call('Window maker', 'dialog', [])")
    page.click(f'dialog[data-window-id="{wid}"] button.close')
    page.wait_for_selector(f'[data-window-id="{wid}"]', state="detached")
    assert page.errors == []  # type: ignore[attr-defined]


def test_show_file_dialog_asks_with_a_file_input(page, tmp_path) -> None:
    (tmp_path / "note.txt").write_text("hello plugin")
    page.evaluate("() => { window.fileCall = window.pyapp.plugins.call('Window maker', 'open_file', []); }")
    page.wait_for_selector("dialog.file-dialog[open] input[type=file][accept='.txt']")
    page.set_input_files("dialog.file-dialog input[type=file]", str(tmp_path / "note.txt"))
    page.click("dialog.file-dialog button[value=ok]")
    assert page.evaluate("window.fileCall") == ["note.txt", "hello plugin", 12]
    # Cancel: the plugin's call fails with a message
    page.evaluate("""() => { window.fileCall = window.pyapp.plugins.call('Window maker', 'open_file', [])
        .catch((e) => e.message); }""")
    page.click("dialog.file-dialog[open] button.cancel")
    assert "no file was chosen" in page.evaluate("window.fileCall")
    page.wait_for_selector("dialog.file-dialog", state="detached")
