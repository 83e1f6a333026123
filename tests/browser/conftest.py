"""pytest-pyodide setup: tests run against the dist dir that ``python build.py`` assembles in static/pyodide.

Host-side only (never copied into Pyodide): ``--run-in-pyodide`` is not used by these tests.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import pytest_pyodide

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "static" / "pyodide"
# Headless Chromium as root, nothing fetched from outside (see shared/docs/browser-testing.md).
CHROME_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--js-flags=--expose-gc",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
REQUIRED = ("pyodide.js", "pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip",
            "pyodide-lock.json")


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Point pytest-pyodide at static/pyodide unless ``--dist-dir`` was given, and set the Chromium flags."""
    if Path(config.option.dist_dir).resolve() == Path("pyodide").resolve():  # pytest-pyodide's default
        config.option.dist_dir = DIST
        pytest.pyodide_dist_dir = DIST  # type: ignore[attr-defined]  # read by run_in_pyodide
    pytest_pyodide.get_global_config().set_flags("chrome", CHROME_FLAGS)
    if Path("/usr/bin/chromedriver").is_file():  # keep Selenium Manager off the network
        os.environ.setdefault("SE_CHROMEDRIVER", "/usr/bin/chromedriver")


@pytest.fixture(scope="session", autouse=True)
def pyodide_dist(request: pytest.FixtureRequest) -> Path:
    """The dist dir; fail (not skip) every browser test with one line when it has not been built."""
    dist = Path(request.config.option.dist_dir)
    missing = [name for name in REQUIRED if not (dist / name).is_file()]
    if missing:
        pytest.fail(f"{dist}/{missing[0]} is missing: run `python build.py` first", pytrace=False)
    return dist


class _CorsHandler(SimpleHTTPRequestHandler):
    """Static files with ``Access-Control-Allow-Origin: *`` (the test page has another origin), no logs."""

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def serve_dir() -> Iterator[Callable[[Path], str]]:
    """Serve a folder on 127.0.0.1 and return its base URL: Pyodide fetches big files far faster
    than run_in_pyodide can pass them as arguments (5 MB of arguments take ~30 s on node)."""
    servers: list[ThreadingHTTPServer] = []

    def serve(folder: Path) -> str:
        handler = functools.partial(_CorsHandler, directory=str(folder))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()
