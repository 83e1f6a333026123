"""``pyapp serve``: serve the built static site on 127.0.0.1 with the headers the browser runtime needs.

COOP/COEP make the page cross-origin isolated (SharedArrayBuffer, ORT-web threads); ``Cache-Control:
no-cache`` makes browsers and the service worker revalidate, so a rebuild is seen at once. Stdlib only.
"""

from __future__ import annotations

import argparse
import functools
import re
import sys
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .csp import policy_for

#: Content types by file suffix (checked before the platform's mimetypes database, which varies).
MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".map": "application/json",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".tar": "application/x-tar",
    ".yaml": "text/yaml",
    ".yml": "text/yaml",
    ".py": "text/x-python",
    ".md": "text/markdown",
    ".txt": "text/plain",
    ".npy": "application/octet-stream",
    ".npz": "application/octet-stream",
    ".onnx": "application/octet-stream",
    ".pt": "application/octet-stream",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    "": "application/octet-stream",
}

#: Headers sent with every response.
HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    # lets a service worker script below the root control the whole site
    "Service-Worker-Allowed": "/",
}

#: What `pyapp serve` watches: a build is due when one of these is newer than the last complete build.
SOURCES = ("pyapp", "web", "editor", "package.json", "package-lock.json", "pyproject.toml")


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def request_path(target: str) -> str | None:
    """The decoded path of a request target, or None when it is malformed (answered 400).

    Malformed: not starting with ``/``, a broken ``%`` escape, bytes that are not UTF-8, control characters
    (NUL included), backslashes, or a ``.``/``..`` segment.
    """
    raw = urlsplit(target).path
    if not raw.startswith("/") or _BAD_ESCAPE.search(raw):
        return None
    try:
        path = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        return None
    if "\\" in path or any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        return None
    if any(part in (".", "..") for part in path.split("/")):
        return None
    return path


class StaticHandler(SimpleHTTPRequestHandler):
    """Static files with COOP/COEP/CORP, fixed MIME types, no caching, no directory listings, no logs.

    Dotfiles (build bookkeeping) answer 404, malformed paths (see :func:`request_path`) 400.
    """

    extensions_map = MIME_TYPES  # the base class's guess_type reads it

    def end_headers(self) -> None:
        for name, value in HEADERS.items():
            self.send_header(name, value)
        policy = policy_for(urlsplit(self.path).path, Path(self.directory))  # pyapp/csp.py
        if policy:
            self.send_header("Content-Security-Policy", policy)
        super().end_headers()

    def send_head(self):  # type: ignore[no-untyped-def]
        path = request_path(self.path)
        if path is None:
            self.send_error(HTTPStatus.BAD_REQUEST, "Malformed path")
            return None
        if any(part.startswith(".") for part in path.split("/")):
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        return super().send_head()

    def list_directory(self, path):  # type: ignore[no-untyped-def]
        self.send_error(HTTPStatus.NOT_FOUND, "File not found")
        return None

    def log_message(self, format: str, *args: object) -> None:
        pass


def make_server(directory: Path, port: int = 0, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A threading HTTP server of ``directory`` (not yet serving: call ``serve_forever``); port 0 = any free."""
    handler = functools.partial(StaticHandler, directory=str(directory))
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def bound_url(server: ThreadingHTTPServer) -> str:
    """The URL of the address ``server`` really bound (``0.0.0.0`` stays visible: every interface)."""
    host, port = server.server_address[:2]
    host = str(host)
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def newest_mtime(paths: list[Path]) -> float:
    """The newest modification time of the files under ``paths`` (0 when there are none)."""
    newest = 0.0
    for base in paths:
        if base.is_file():
            newest = max(newest, base.stat().st_mtime)
        elif base.is_dir():
            for path in base.rglob("*"):
                if path.is_file() and "__pycache__" not in path.parts:
                    newest = max(newest, path.stat().st_mtime)
    return newest


def needs_build(root: Path, out: Path) -> bool:
    """True when ``out`` has no complete build or a source under ``root`` is newer than it."""
    from .sitebuild import STAMP

    stamp = out / STAMP
    if not stamp.is_file():
        return True
    return newest_mtime([root / name for name in SOURCES]) > stamp.stat().st_mtime


def serve(root: Path, port: int = 8000, host: str = "127.0.0.1", build: bool = True,
          ready: threading.Event | None = None, out: Path | None = None) -> None:
    """Build the site when needed (unless ``build`` is False), then serve it until Ctrl-C.

    ``out`` defaults to ``root/static``, and to ``<user cache>/site`` for an installed pyapp's kit.
    Raises ``sitebuild.BuildError`` when the build fails or there is nothing to serve.
    """
    from .sitebuild import BuildError, build_site, user_cache
    from .sitebuild.kit import KIT

    root = root.resolve()
    out = (out or (user_cache() / "site" if root == KIT.resolve() else root / "static")).resolve()
    if build and needs_build(root, out):
        build_site(root, out)  # an installed pyapp caches its downloads in the user's cache folder
    if not (out / "index.html").is_file() and not (out / "pyodide").is_dir():
        raise BuildError(f"{out} holds no built site: run `pyapp build` first")
    server = make_server(out, port, host)
    print(f"pyapp serving {out} at {bound_url(server)}", flush=True)
    if ready is not None:
        ready.set()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def run_serve(args: argparse.Namespace) -> int:
    """``pyapp serve`` from parsed options; a one-line error and 1 on failure, 0 after Ctrl-C."""
    from .sitebuild import BuildError, default_root

    try:
        serve(args.root or default_root(), port=args.port, host=args.host, build=not args.no_build, out=args.out)
    except (BuildError, OSError) as exc:
        print(f"pyapp serve: error: {exc}", file=sys.stderr)
        return 1
    return 0


def add_serve(sub: argparse._SubParsersAction) -> None:
    """Add ``pyapp serve`` to the CLI's subparsers."""
    p = sub.add_parser("serve", help="build when needed and serve static/ on 127.0.0.1 (COOP/COEP)",
                       description="Serve the static site with cross-origin isolation headers until Ctrl-C.")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    p.add_argument("--no-build", action="store_true", help="serve static/ as it is, without building")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="site folder (default: static/ of a checkout; an installed pyapp uses ~/.cache/pyapp/site)")
    p.add_argument("--root", type=Path, default=None, metavar="DIR",
                   help="pyapp source checkout holding static/ (default: this package's checkout, else the cwd)")
    p.set_defaults(func=run_serve)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m pyapp.serve")
    add_serve(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(["serve", *sys.argv[1:]])
    sys.exit(parsed.func(parsed))
