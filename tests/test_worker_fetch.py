"""The model worker's downloads are capped by ``PYAPP_MAX_FILE_BYTES`` (a URL is untrusted input): Pyodide
0.27.7 under Node.js fetches from a local server, through the worker's own ``fetch_bytes`` and ``fetch_to_file``.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
from pyodide_node import run_in_worker_pyodide

SCRIPT = """
pyodide.globals.set("base", args[0]);
const seen = await pyodide.runPythonAsync(`
import json, os
from pathlib import Path
from pyapp.runtime.worker_arrays import fetch_to_file
from pyapp.runtime.worker_describe import fetch_bytes

os.environ["PYAPP_MAX_FILE_BYTES"] = "1000"
seen = {}
async def attempt(name, job):
    try:
        seen[name] = await job
    except Exception as err:
        seen[name] = type(err).__name__ + ": " + str(err)
await attempt("small", fetch_bytes(base + "small"))
await attempt("declared", fetch_bytes(base + "big"))
await attempt("chunked", fetch_bytes(base + "chunked"))
await attempt("file", fetch_to_file(base + "big", Path("/tmp/big.bin")))
seen["small"] = len(seen["small"])
seen["file_left"] = Path("/tmp/big.bin").exists()
json.dumps(seen)
`);
console.log(seen);
"""


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"x" * (10 if self.path == "/small" else 5000)
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
        if self.path == "/chunked":  # no Content-Length: only the bytes that arrive can be checked
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_downloads_over_the_limit_fail_with_one_line(server: str) -> None:
    seen = run_in_worker_pyodide(SCRIPT, ["pyyaml", "pyapp", "numpy"], server)
    limit = "exceeds pyapp's limit of 1,000; set PYAPP_MAX_FILE_BYTES to raise it"
    assert seen["small"] == 10
    assert seen["declared"] == f"LimitError: {server}big: the download's size in bytes (5,000) {limit}"
    assert seen["chunked"] == f"LimitError: {server}chunked: the download's size in bytes (5,000) {limit}"
    assert seen["file"] == f"LimitError: {server}big: the download's size in bytes (5,000) {limit}"
    assert seen["file_left"] is False
