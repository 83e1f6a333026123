"""Content-Security-Policy of the app's pages and workers, sent by ``pyapp serve`` (one header per response).

Edit the tables below to change a policy (e.g. another engine host for the app page); ``tests/test_csp.py``
checks their shape and ``tests/browser/test_plugin_attacks.py`` runs the plugin page under them.

- Every page: scripts only from the site (plus WebAssembly compilation: Pyodide, onnxruntime-web), no plugins
  (``object-src``), no framing by other sites, forms and ``<base>`` pinned to the site.
- ``plugins.html`` hosts the plugin sandboxes: ``about:srcdoc`` frames inherit the page's policy, so it also
  allows the frame's one inline script (by its sha256, read from ``pyapp/sandbox.js``), ``blob:`` workers, and
  connections to https/loopback origins (what an approved ``network:`` permission may open; each sandbox narrows
  this to its own grants with ``connect-src 'none'`` or the approved origin).
- ``pyapp/model-worker.js`` (a worker gets the policy of its own script response): the site, WebAssembly, and
  models/images fetched by URL over https.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

BASE = {
    "default-src": "'self'",
    "script-src": "'self' 'wasm-unsafe-eval'",
    "worker-src": "'self' blob:",
    "connect-src": "'self' blob: data: https: wss: http://127.0.0.1:* ws://127.0.0.1:* http://localhost:* ws://localhost:*",
    "img-src": "'self' data: blob:",
    "media-src": "'self' blob: mediastream:",
    "style-src": "'self' 'unsafe-inline'",
    "font-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'self'",
}
"""Directives of every page; the engine page's WebSocket to a user-chosen host needs ``wss:`` in connect-src."""

# No 'unsafe-eval' on the app page either: PyScript 0.6.66 would compile its (unused) worker hooks with
# Function() and hypha-rpc evals typed array names; web/pyapp/no-eval.js gives both what they need without
# evaluating strings (docs/security.md). The app page may load plugins too
# (pyapp/plugins.js), so it allows the sandbox frame's script like plugins.html.
SHELL = {"script-src": "'self' 'wasm-unsafe-eval' {frame}"}

PAGES = {
    "/index.html": SHELL,
    "/": SHELL,
    "/plugins.html": {"frame-src": "'self'", "script-src": "'self' 'wasm-unsafe-eval' {frame}"},
}
"""Per-page changes to :data:`BASE` (``{frame}`` is the sandbox frame script's hash)."""

WORKERS = {
    "/pyapp/model-worker.js": {"default-src": "'none'", "script-src": "'self' 'wasm-unsafe-eval'",
                               "connect-src": BASE["connect-src"]},
}
"""Policies of worker scripts loaded by URL (complete, not merged with :data:`BASE`)."""

_FRAME_SCRIPT = re.compile(r"const FRAME_SCRIPT = `(.*?)`;", re.DOTALL)


def frame_hash(site: Path) -> str:
    """``'sha256-…'`` of the sandbox frame's inline script in ``site/pyapp/sandbox.js`` (empty if not found)."""
    path = site / "pyapp" / "sandbox.js"
    match = _FRAME_SCRIPT.search(path.read_text(encoding="utf-8")) if path.is_file() else None
    if match is None:
        return ""
    return f"'sha256-{base64.b64encode(hashlib.sha256(match.group(1).encode()).digest()).decode()}'"


def policy_for(path: str, site: Path) -> str | None:
    """The Content-Security-Policy header value for the URL path ``path`` of ``site``, or None."""
    if path in WORKERS:
        directives = WORKERS[path]
    elif path in PAGES:
        directives = {**BASE, **PAGES[path]}
    else:
        return None
    text = "; ".join(f"{k} {v}" for k, v in directives.items())
    return text.replace("{frame}", frame_hash(site)) if "{frame}" in text else text
