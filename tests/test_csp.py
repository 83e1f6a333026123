"""The Content-Security-Policy headers of pyapp/csp.py, as `pyapp serve` sends them."""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import urllib.request
from pathlib import Path

from pyapp.csp import PAGES, WORKERS, frame_hash, policy_for
from pyapp.serve import make_server

ROOT = Path(__file__).resolve().parents[1]


def _directives(policy: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in policy.split("; ")}


def test_no_eval_and_no_foreign_scripts() -> None:
    """No page or worker may evaluate strings (only compile WebAssembly); the app page's shell runs without it
    (tests/browser/test_app_ui.py records the page's policy violations)."""
    for path in [*PAGES, *WORKERS]:
        d = _directives(policy_for(path, ROOT / "web"))
        assert "'unsafe-eval'" not in d["script-src"], path
        assert "'unsafe-inline'" not in d["script-src"], path
        allowed = ("'self'", "'wasm-unsafe-eval'")
        assert all(s in allowed or s.startswith("'sha256-") for s in d["script-src"]), path
    assert policy_for("/style.css", ROOT / "web") is None


def test_plugin_page_allows_exactly_the_sandbox_frame_script() -> None:
    source = (ROOT / "web" / "pyapp" / "sandbox.js").read_text()
    script = re.search(r"const FRAME_SCRIPT = `(.*?)`;", source, re.DOTALL).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert frame_hash(ROOT / "web") == f"'sha256-{digest}'"
    d = _directives(policy_for("/plugins.html", ROOT / "web"))
    assert f"'sha256-{digest}'" in d["script-src"] and "blob:" in d["worker-src"] and d["object-src"] == ["'none'"]


def test_served_with_the_header(tmp_path: Path) -> None:
    (tmp_path / "pyapp").mkdir()
    (tmp_path / "pyapp" / "sandbox.js").write_text((ROOT / "web" / "pyapp" / "sandbox.js").read_text())
    (tmp_path / "plugins.html").write_text("<!doctype html>")
    (tmp_path / "a.txt").write_text("x")
    server = make_server(tmp_path)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        with urllib.request.urlopen(base + "plugins.html", timeout=10) as r:
            assert r.headers["Content-Security-Policy"] == policy_for("/plugins.html", tmp_path)
        with urllib.request.urlopen(base + "a.txt", timeout=10) as r:
            assert r.headers["Content-Security-Policy"] is None
    finally:
        server.shutdown()
        server.server_close()
