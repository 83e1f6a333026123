"""Descriptions load the same from a file, a folder, a zip package, bytes and a URL."""

from __future__ import annotations

import functools
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyapp.cli import example_model
from pyapp.spec import SpecError, load, validate

EXAMPLE = example_model()


def _zip(folder: Path, prefix: str = "") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, prefix + f.name)
    return buf.getvalue()


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """The example folder on a local HTTP server (127.0.0.1 only)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(EXAMPLE.parent))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_file_and_folder_give_the_same_model():
    assert load(EXAMPLE) == load(EXAMPLE.parent)


@pytest.mark.parametrize("prefix", ["", "pkg/"])
def test_zip_package_from_path_and_bytes(tmp_path: Path, prefix: str):
    data = _zip(EXAMPLE.parent, prefix)
    (tmp_path / "m.zip").write_bytes(data)
    assert load(tmp_path / "m.zip") == load(EXAMPLE)
    assert load(data) == load(EXAMPLE)
    assert validate(tmp_path / "m.zip") == []


def test_zip_with_altered_file_fails_sha256(tmp_path: Path):
    folder = tmp_path / "pkg"
    folder.mkdir()
    for f in EXAMPLE.parent.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / "weights.onnx").write_bytes(b"not a model")
    issues = validate(_zip(folder))
    assert [i.path for i in issues if i.severity == "error"] == ["weights.onnx.source"]


def test_plain_bytes_cannot_check_relative_files():
    issues = validate(EXAMPLE.read_bytes())
    assert issues and all(i.severity == "warning" and "without its package" in i.message for i in issues)


def test_url_is_not_fetched_without_permission(served: str):
    issues = validate(served + "/bioimageio.yaml")
    assert len(issues) == 1 and "network access is off" in issues[0].message
    with pytest.raises(SpecError, match="allow_network=True"):
        load(served + "/bioimageio.yaml")


def test_url_with_permission_loads_and_checks_files(served: str):
    assert load(served + "/bioimageio.yaml", allow_network=True) == load(EXAMPLE)
    assert validate(served + "/bioimageio.yaml", allow_network=True) == []


def test_missing_and_non_package_sources_are_one_line_issues(tmp_path: Path):
    assert "no such file or folder" in validate(tmp_path / "nope.yaml")[0].message
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04garbage")
    assert "not a valid zip package" in validate(tmp_path / "bad.zip")[0].message
    assert "no bioimageio.yaml or rdf.yaml" in validate(tmp_path)[0].message


def test_old_format_is_refused_clearly():
    """0.3.0-0.3.6 are upgraded like bioimageio.spec does (tests/test_spec_parity.py); older ones are refused."""
    issues = validate(b"type: model\nformat_version: 0.2.4\nname: x\n")
    assert [str(i) for i in issues] == [
        "error: format_version: model format 0.2.4 is not supported: pyapp reads 0.3.x (0.3.0-0.3.6), 0.4.x and 0.5.x"
    ]
