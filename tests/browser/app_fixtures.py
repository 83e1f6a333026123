"""Shared pieces of the app tests (tests/browser/test_app_*.py): the served site, Chromium, page helpers.

Servers bind 127.0.0.1; Chromium resolves no other host (the flags of test_e2e_predict.py).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyapp.serve import make_server

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "static"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
CLASSIFIER = "efficientnet-lite0"
SEGMENTER = "czann-nucleus"
BOOT_MS = 120_000  # the model worker's Pyodide (and the MicroPython shell) while the service worker fills its cache
CAT_WORDS = ("tabby", "tiger cat", "persian cat", "siamese cat", "egyptian cat", "cat")
READY = "document.body.dataset.state && document.body.dataset.state !== 'running' && 'runs' in document.body.dataset"
UPDATE_SCREENSHOTS = "PYAPP_UPDATE_SCREENSHOTS"  # =1: screenshots go to docs/screenshots/ (scripts/screenshots.py)
DOC_SCREENSHOTS = ROOT / "docs" / "screenshots"


_FUNCTION = re.compile(r"\s*(async\s+)?(function\b|\([^()]*\)\s*=>|[\w$]+\s*=>)")
"""The start of a JavaScript function: ``function``, ``(a, b) =>``, ``x =>`` (``async`` before any)."""


def _wait_without_eval() -> None:
    """The app's pages forbid eval (Content-Security-Policy without 'unsafe-eval', pyapp/csp.py), and Playwright
    evaluates a ``wait_for_function`` *expression* with eval while it polls: pass expressions as arrow functions
    (compiled by the driver, which the policy does not restrict) in every test."""
    try:
        from playwright.sync_api import Page
    except ImportError:  # the tests that need playwright say so themselves
        return
    if getattr(Page.wait_for_function, "_no_eval", False):
        return
    original = Page.wait_for_function

    def wait_for_function(self, expression, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not _FUNCTION.match(expression):  # an expression, such as "[...x].some((i) => i.ok)"
            expression = f"() => ({expression})"
        return original(self, expression, *args, **kwargs)

    wait_for_function._no_eval = True  # type: ignore[attr-defined]
    Page.wait_for_function = wait_for_function


_wait_without_eval()


def bundled() -> list[dict]:
    """The entries of the built static/models/index.json."""
    index = STATIC / "models" / "index.json"
    return json.loads(index.read_text()) if index.is_file() else []


def require_model(model_id: str) -> None:
    """Skip (with the reason printed) when the build has not bundled ``model_id`` yet."""
    if model_id not in {e["id"] for e in bundled()}:
        reason = f"{model_id} is not in static/models/index.json yet (bundled: {[e['id'] for e in bundled()]})"
        print(f"SKIP: {reason}")
        pytest.skip(reason)


class Site:
    """static/ served with COOP/COEP on 127.0.0.1; ``stop()`` cuts it off (the offline test)."""

    def __init__(self) -> None:
        if not (STATIC / "index.html").is_file() or not (STATIC / "precache.js").is_file():
            pytest.fail(f"{STATIC} is not built: run `python build.py`", pytrace=False)
        self.server = make_server(STATIC, 0, "127.0.0.1")
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.server.shutdown()
            self.server.server_close()
            self.running = False


def serve_built(*required: str) -> Iterator[Site]:
    """Serve static/ for a module's tests (``yield from`` in a fixture); one-line failure if a file is unbuilt."""
    missing = [name for name in required if not (STATIC / name).is_file()]
    if missing:
        pytest.fail(f"static/{missing[0]} is missing: run `python build.py`", pytrace=False)
    site = Site()
    yield site
    site.stop()


def watch(page):
    """Record the page's uncaught errors in ``page.errors``; print its console errors and warnings."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: print(f"console.{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.errors = errors
    return page


def open_workbench(playwright, site: Site, workspace: str):
    """A new browser on the plugin workbench with ``workspace`` selected, once it says it is ready."""
    browser = launch(playwright)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = watch(context.new_page())
    page.goto(f"{site.url}plugins.html?w={workspace}")
    page.wait_for_function("document.body.dataset.workbench === 'ready'", timeout=BOOT_MS)
    return browser, context, page


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the tests' screenshots go to: a temporary one, so test runs leave docs/ alone; docs/screenshots/
    when ``PYAPP_UPDATE_SCREENSHOTS=1`` (``python scripts/screenshots.py`` refreshes the docs' pictures)."""
    if os.environ.get(UPDATE_SCREENSHOTS) == "1":
        DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return DOC_SCREENSHOTS
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def app_site() -> Iterator[Site]:
    site = Site()
    yield site
    site.stop()


@pytest.fixture(scope="module")
def playwright():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is a test dependency")
    with sync_api.sync_playwright() as p:
        yield p


def launch(playwright, extra: tuple[str, ...] = ()):
    return playwright.chromium.launch(executable_path="/usr/bin/chromium", args=[*FLAGS, *extra])


CSP_RECORDER = """window.cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(
    `${e.effectiveDirective} ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}:${e.columnNumber}`));"""
"""Init script: the page's Content-Security-Policy violations in ``window.cspViolations`` (one line each)."""


def open_app(browser, url: str, viewport: dict | None = None):
    """A fresh context and page on the app, once the shell says it is ready (models listed); the page records
    its policy violations (:data:`CSP_RECORDER`)."""
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 800})
    context.add_init_script(CSP_RECORDER)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_function(READY, timeout=BOOT_MS)
    page.errors = errors  # type: ignore[attr-defined]
    return context, page


def run_and_wait(page) -> str:
    """Click Run; wait until a run finishes or an error shows; return the state (``done`` or ``error``)."""
    runs, errors = page.evaluate("[Number(document.body.dataset.runs), Number(document.body.dataset.errors || 0)]")
    page.wait_for_function("!document.getElementById('run').disabled", timeout=30_000)
    page.click("#run")
    page.wait_for_function(f"Number(document.body.dataset.runs) > {runs} || "
                           f"Number(document.body.dataset.errors || 0) > {errors}", timeout=120_000)
    return page.evaluate("document.body.dataset.state")


def wait_error(page, errors_before: int) -> str:
    """Wait until the shell shows an error after ``errors_before`` were shown; return the visible line."""
    page.wait_for_function(f"Number(document.body.dataset.errors || 0) > {errors_before}", timeout=30_000)
    return page.evaluate("document.getElementById('error').hidden ? '' : document.getElementById('error').textContent")


def choose_model(page, model_id: str) -> None:
    """Pick a bundled model; wait until the shell has read its description."""
    page.select_option("#model", model_id)
    page.wait_for_function(f"document.body.dataset.model === {model_id!r}", timeout=30_000)


def open_image(page, path: Path) -> None:
    """Open ``path`` through the file picker; wait until it is shown."""
    page.set_input_files("#file", str(path))
    page.wait_for_function(f"document.body.dataset.image === {path.name!r} || document.body.dataset.state === 'error'",
                           timeout=30_000)
