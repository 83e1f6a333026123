"""pyapp.serve: the static server's headers, MIME types, 404s and bind address (urllib against port 0)."""

from __future__ import annotations

import argparse
import http.client
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest

from pyapp import serve as serve_mod
from pyapp.serve import make_server, needs_build

FILES = {
    "index.html": b"<!DOCTYPE html><title>t</title>",
    "pyapp/app.js": b"export const x = 1;",
    "ort/ort.min.mjs": b"export {};",
    "ort/ort-wasm-simd-threaded.jsep.wasm": b"\0asm\1\0\0\0",
    "pyodide/pyodide-lock.json": b"{}",
    "wheels/pyapp-0.1.0-py3-none-any.whl": b"PK\5\6" + bytes(18),
    "models/m/bioimageio.yaml": b"type: model\n",
    "models/m/test_input.npy": b"\x93NUMPY",
    "models/m/weights.onnx": b"\x08\x07",
    ".pyapp-built": b"",
}
MIME = {
    "index.html": "text/html",
    "pyapp/app.js": "text/javascript",
    "ort/ort.min.mjs": "text/javascript",
    "ort/ort-wasm-simd-threaded.jsep.wasm": "application/wasm",
    "pyodide/pyodide-lock.json": "application/json",
    "wheels/pyapp-0.1.0-py3-none-any.whl": "application/zip",
    "models/m/bioimageio.yaml": "text/yaml",
    "models/m/test_input.npy": "application/octet-stream",
    "models/m/weights.onnx": "application/octet-stream",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A small static folder served on 127.0.0.1, port 0, in a thread; yields its base URL."""
    folder = tmp_path_factory.mktemp("static")
    for name, data in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    server = make_server(folder, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}"
    server.shutdown()
    server.server_close()


def get(url: str) -> tuple[int, Message, bytes]:
    """Status, headers (case-insensitive) and body of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def test_binds_loopback_and_picks_a_port(site: str) -> None:
    """Port 0 becomes a real port; the default address is 127.0.0.1 only."""
    host, port = site.removeprefix("http://").split(":")
    assert host == "127.0.0.1"
    assert int(port) > 0


def test_cross_origin_isolation_headers(site: str) -> None:
    """Every response carries COOP/COEP/CORP and no-cache (404s too)."""
    for path in ("/index.html", "/ort/ort-wasm-simd-threaded.jsep.wasm", "/missing.js"):
        _, headers, _ = get(site + path)
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin", path
        assert headers["Cross-Origin-Embedder-Policy"] == "require-corp", path
        assert headers["Cross-Origin-Resource-Policy"] == "same-origin", path
        assert headers["Cache-Control"] == "no-cache", path


@pytest.mark.parametrize("name", sorted(MIME))
def test_mime_types(site: str, name: str) -> None:
    """Module scripts, wasm (streaming compile), wheels, yaml and binary model files get the right type."""
    status, headers, body = get(f"{site}/{name}")
    assert status == 200
    assert headers["Content-Type"].split(";")[0] == MIME[name]
    assert body == FILES[name]


def test_root_serves_index(site: str) -> None:
    status, headers, body = get(site + "/")
    assert status == 200 and body == FILES["index.html"]
    assert headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/nope.js", "/ort/", "/.pyapp-built", "/models/.pyapp-built", "/models/m/"])
def test_404(site: str, path: str) -> None:
    """Missing files, directory listings and build bookkeeping (dotfiles) are 404."""
    status, _, _ = get(site + path)
    assert status == 404


@pytest.mark.parametrize("path", [
    "/models/../.pyapp-built", "/..%2f..%2fetc/passwd", "/%2e%2e/x", "/./index.html", "/a%00.js", "/%zz",
    "/%ff%fe.js", "/models\\m/weights.onnx", "/x%0d%0aSet-Cookie:%20a=b", "index.html",
])
def test_malformed_paths_are_400(site: str, path: str) -> None:
    """Request targets a browser never sends (escapes that do not decode, NUL/CR/LF, backslashes, dot
    segments, no leading slash) are answered 400 before any file is looked up; the server keeps serving."""
    host, port = site.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        assert response.status == 400, path
        response.read()
    finally:
        conn.close()
    assert get(site + "/index.html")[0] == 200


def test_head_request(site: str) -> None:
    request = urllib.request.Request(site + "/pyapp/app.js", method="HEAD")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        assert int(response.headers["Content-Length"]) == len(FILES["pyapp/app.js"])


def test_needs_build_compares_sources_with_stamp(tmp_path: Path) -> None:
    """A build is due without a stamp, or when a source is newer than it; not otherwise."""
    (tmp_path / "pyapp").mkdir()
    src = tmp_path / "pyapp" / "x.py"
    src.write_text("x = 1\n")
    out = tmp_path / "static"
    out.mkdir()
    assert needs_build(tmp_path, out)
    stamp = out / ".pyapp-built"
    stamp.touch()
    past = time.time() - 100
    os.utime(src, (past, past))
    assert not needs_build(tmp_path, out)
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "index.html").write_text("<p>")
    os.utime(stamp, (past - 10, past - 10))
    assert needs_build(tmp_path, out)


def test_serve_prints_url_and_serves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """serve(build=False) on port 0 prints the address it really bound (localhost -> 127.0.0.1) and answers;
    the server thread stops on shutdown."""
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_bytes(FILES["index.html"])
    servers = []
    real_make = serve_mod.make_server

    def spy(*args: object, **kwargs: object):
        servers.append(real_make(*args, **kwargs))  # type: ignore[arg-type]
        return servers[-1]

    ready = threading.Event()
    serve_mod.make_server = spy  # type: ignore[assignment]
    try:
        thread = threading.Thread(target=serve_mod.serve, args=(tmp_path,),
                                  kwargs={"port": 0, "build": False, "ready": ready, "host": "localhost"},
                                  daemon=True)
        thread.start()
        assert ready.wait(10)
        port = servers[0].server_address[1]
        line = capsys.readouterr().out.strip()
        assert line == f"pyapp serving {static.resolve()} at http://127.0.0.1:{port}/"
        assert get(f"http://127.0.0.1:{port}/")[0] == 200
    finally:
        serve_mod.make_server = real_make  # type: ignore[assignment]
        for server in servers:
            server.shutdown()
    thread.join(10)
    assert not thread.is_alive()


def test_cli_parsers() -> None:
    """add_build/add_serve plug into an argparse subparsers object like pyapp.cli's."""
    from pyapp.sitebuild import add_build

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    add_build(sub)
    serve_mod.add_serve(sub)
    args = parser.parse_args(["serve", "--port", "0", "--no-build"])
    assert (args.port, args.no_build, args.host) == (0, True, "127.0.0.1")
    args = parser.parse_args(["build", "--only", "pyodide", "--out", "x"])
    assert args.only == ["pyodide"] and args.out == Path("x")
