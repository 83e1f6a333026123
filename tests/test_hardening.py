"""Crafted descriptions and images against the CLI, as an attacker would send them.

Each case runs ``python -m pyapp.cli`` in a subprocess limited to ``ulimit -v 2000000`` (2,000,000 KiB of
address space) and 10 s of wall time, and must end with exit code 1 and one non-empty line naming the problem:
``../`` and absolute file names, a symlink leaving the package, billion-laughs YAML, 300 M declared channels, a
zip bomb, a TIFF bomb and an ``.npy`` whose header claims terabytes. Every file is built here, in tmp_path.
"""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from pyapp.cli import example_model

ROOT = Path(__file__).resolve().parents[1]
ADDRESS_SPACE_KIB = 2_000_000
WALL_S = 10
BILLION_LAUGHS = "\n".join(
    ["type: model", "format_version: 0.5.4", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    + ["name: *a9"]
).encode()


def _limit_memory() -> None:
    limit = ADDRESS_SPACE_KIB * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run_cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``pyapp ARGS`` under the memory limit; fails the test when it takes longer than WALL_S."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "pyapp.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=WALL_S, preexec_fn=_limit_memory, env=environ, check=False)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    """The single line a failed command printed (an error on stderr, or `pyapp test`'s verdict on stdout)."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].strip(), proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    return lines[0]


def package(tmp_path: Path, edit=None, name: str = "pkg") -> Path:
    """A copy of the shipped example model, its description changed by ``edit(dict)``."""
    pkg = tmp_path / name
    shutil.copytree(example_model().parent, pkg)
    if edit is not None:
        data = yaml.safe_load((pkg / "bioimageio.yaml").read_text())
        edit(data)
        (pkg / "bioimageio.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return pkg


def set_test_input(source: str):
    def edit(data: dict) -> None:
        data["inputs"][0]["test_tensor"] = {"source": source}
    return edit


def validate_json(*args: str | Path, env: dict[str, str] | None = None) -> list[dict]:
    proc = run_cli("validate", "--json", *args, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


# ---- file names leaving the package -------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["../outside.npy", "/etc/passwd", "sub/../../outside.npy", "link.npy"])
def test_file_names_leaving_the_package(tmp_path: Path, source: str) -> None:
    np.save(tmp_path / "outside.npy", np.zeros((1, 1, 16, 16), np.float32))
    pkg = package(tmp_path, set_test_input(source))
    (pkg / "link.npy").symlink_to(tmp_path / "outside.npy")
    [report] = validate_json(pkg)
    messages = [i["message"] for i in report["issues"] if i["path"] == "inputs[0].test_tensor"]
    assert messages and any(w in messages[0] for w in ("inside the package", "relative path", "out of the package"))
    line = one_error_line(run_cli("test", pkg))  # `test` reads through the same check, not only `validate`
    assert any(w in line for w in ("inside the package", "relative path", "out of the package")), line


def test_symlinked_weights_leaving_the_package_are_refused_by_predict(tmp_path: Path) -> None:
    pkg = package(tmp_path)
    outside = tmp_path / "weights.onnx"
    (pkg / "weights.onnx").rename(outside)
    (pkg / "weights.onnx").symlink_to(outside)
    np.save(tmp_path / "x.npy", np.zeros((32, 32), np.float32))
    line = one_error_line(run_cli("predict", pkg, tmp_path / "x.npy", "-o", tmp_path / "out"))
    assert "out of the package" in line and not (tmp_path / "out").exists()


def _zip(pkg: Path, target: Path, extra: dict[str, bytes | zipfile.ZipInfo] | None = None) -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for f in pkg.iterdir():
            zf.write(f, f.name)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return target


def test_zip_members_leaving_the_package_and_symlink_members(tmp_path: Path) -> None:
    pkg = package(tmp_path, set_test_input("../outside.npy"))
    npy = (pkg / "test_input.npy").read_bytes()
    zipped = _zip(pkg, tmp_path / "pkg.zip", {"../outside.npy": npy})  # a member named like the reference
    assert "inside the package" in one_error_line(run_cli("test", zipped))
    pkg = package(tmp_path, set_test_input("link.npy"), name="pkg2")
    link = zipfile.ZipInfo("link.npy")
    link.external_attr = 0o120777 << 16  # a symlink member (what `zip --symlinks` stores)
    with zipfile.ZipFile(_zip(pkg, tmp_path / "link.zip"), "a") as zf:
        zf.writestr(link, "/etc/passwd")
    assert "symbolic link" in one_error_line(run_cli("test", tmp_path / "link.zip"))


# ---- size bombs ---------------------------------------------------------------------------------------------


def test_billion_laughs_yaml(tmp_path: Path) -> None:
    (tmp_path / "rdf.yaml").write_bytes(BILLION_LAUGHS)
    [report] = validate_json(tmp_path / "rdf.yaml")
    assert len(report["issues"]) == 1 and "PYAPP_MAX_YAML_NODES" in report["issues"][0]["message"]
    assert "PYAPP_MAX_YAML_NODES" in one_error_line(run_cli("test", tmp_path / "rdf.yaml"))


def test_300_million_declared_channels(tmp_path: Path) -> None:
    rdf = {  # format 0.4: the conversion would name every channel
        "type": "model", "format_version": "0.4.10", "name": "channels", "description": "d",
        "authors": [{"name": "a"}], "cite": [{"text": "t", "doi": "10.1/x"}], "license": "MIT",
        "inputs": [{"name": "raw", "axes": "bcyx", "data_type": "float32", "shape": [1, 300_000_000, 64, 64]}],
        "outputs": [{"name": "out", "axes": "bcyx", "data_type": "float32",
                     "shape": {"reference_tensor": "raw", "scale": [1, 1, 1, 1], "offset": [0, 0, 0, 0]}}],
        "test_inputs": ["a.npy"], "test_outputs": ["b.npy"],
        "weights": {"onnx": {"source": "w.onnx"}},
    }
    (tmp_path / "rdf.yaml").write_text(yaml.safe_dump(rdf))
    [report] = validate_json(tmp_path / "rdf.yaml", "--no-io")
    errors = {i["path"]: i["message"] for i in report["issues"] if i["severity"] == "error"}
    assert "300,000,000 channels" in errors["inputs[0].shape"] and "PYAPP_MAX_CHANNELS" in errors["inputs[0].shape"]
    assert "300,000,000 channels" in errors["outputs[0].shape"]
    np.save(tmp_path / "x.npy", np.zeros((64, 64), np.float32))
    line = one_error_line(run_cli("predict", tmp_path / "rdf.yaml", tmp_path / "x.npy", "-o", tmp_path / "out"))
    assert "300,000,000 channels" in line and not (tmp_path / "out").exists()


def _patch_declared_size(zip_bytes: bytes, member: str, size: int) -> bytes:
    """Make the zip's local and central headers of ``member`` claim ``size`` uncompressed bytes."""
    data = bytearray(zip_bytes)
    name = member.encode()
    for sig, offset in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        start = 0
        while (start := data.find(sig, start)) >= 0:
            name_at = start + (46 if sig == b"PK\x01\x02" else 30)
            if data[name_at:name_at + len(name)] == name:
                struct.pack_into("<I", data, start + offset, size)
            start += 4
    return bytes(data)


def test_zip_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    pkg = package(tmp_path)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in pkg.iterdir():
            zf.write(f, f.name)
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(_patch_declared_size(buf.getvalue(), "weights.onnx", 3_500_000_000))
    line = one_error_line(run_cli("test", bomb))
    assert "weights.onnx" in line and "3,500,000,000" in line and "PYAPP_MAX_FILE_BYTES" in line
    # an honest bomb: 200 MB of zeros in ~200 kB, over a lowered limit; the description itself as a bomb too
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", bytes(200_000_000))
    honest = tmp_path / "honest.zip"
    honest.write_bytes(buf.getvalue())
    assert honest.stat().st_size < 1_000_000
    [report] = validate_json(honest, env={"PYAPP_MAX_YAML_BYTES": "100"})
    assert "PYAPP_MAX_YAML_BYTES" in report["issues"][0]["message"]
    yaml_bomb = tmp_path / "yaml-bomb.zip"
    yaml_bomb.write_bytes(_patch_declared_size(buf.getvalue(), "bioimageio.yaml", 4_000_000_000))
    [report] = validate_json(yaml_bomb)
    assert "4,000,000,000" in report["issues"][0]["message"]


def _tiff_claiming(width: int, height: int) -> bytes:
    """A little-endian TIFF whose one IFD claims width × height uint16 pixels in a strip of 8 bytes."""
    tags = [(256, 4, width), (257, 4, height), (258, 3, 16), (259, 3, 1), (262, 3, 1), (273, 4, 8 + 2 + 12 * 9 + 4),
            (277, 3, 1), (278, 4, height), (279, 4, 8)]
    ifd = struct.pack("<H", len(tags)) + b"".join(struct.pack("<HHII", tag, kind, 1, value) if kind == 4
                                                 else struct.pack("<HHIHH", tag, kind, 1, value, 0)
                                                 for tag, kind, value in tags) + struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + bytes(8)


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width × height 8-bit grey pixels, with one tiny compressed row."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(9))) + chunk(b"IEND", b"")


def test_png_bomb(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_claiming(100_000, 100_000))
    out = tmp_path / "out"
    line = one_error_line(run_cli("predict", package(tmp_path), bomb, "-o", out))
    assert "bomb.png" in line and "pixels" in line and not out.exists()
    bomb.write_bytes(_png_claiming(12_000, 12_000))  # under Pillow's own bomb limit, over ours when lowered
    line = one_error_line(run_cli("predict", package(tmp_path, name="p2"), bomb, "-o", out,
                                  env={"PYAPP_MAX_IMAGE_BYTES": "100MB"}))
    assert "PYAPP_MAX_IMAGE_BYTES" in line and not out.exists()


def test_tiff_bomb_and_npy_bomb(tmp_path: Path) -> None:
    import tifffile

    bomb = tmp_path / "bomb.tif"
    bomb.write_bytes(_tiff_claiming(200_000, 200_000))
    with tifffile.TiffFile(bomb) as tif:  # the crafted header is what a reader sees
        assert tif.series[0].shape == (200_000, 200_000)
    pkg = package(tmp_path)
    out = tmp_path / "out"
    line = one_error_line(run_cli("predict", pkg, bomb, "-o", out))
    assert "bomb.tif" in line and "PYAPP_MAX_IMAGE_BYTES" in line and not out.exists()
    npy = tmp_path / "bomb.npy"
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1000000, 1000000), }"
    npy.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", 118) + header.ljust(117).encode() + b"\n")
    line = one_error_line(run_cli("predict", pkg, npy, "-o", out))
    assert "PYAPP_MAX_IMAGE_BYTES" in line and not out.exists()
    shutil.copy(npy, pkg / "test_input.npy")
    data = yaml.safe_load((pkg / "bioimageio.yaml").read_text())
    del data["inputs"][0]["test_tensor"]["sha256"]
    (pkg / "bioimageio.yaml").write_text(yaml.safe_dump(data))
    assert "PYAPP_MAX_IMAGE_BYTES" in one_error_line(run_cli("test", pkg))


# ---- validate never raises; predict checks before it writes -------------------------------------------------


def test_validate_checks_every_source_and_always_prints_json(tmp_path: Path) -> None:
    (tmp_path / "laughs.yaml").write_bytes(BILLION_LAUGHS)
    (tmp_path / "list.yaml").write_text("- just\n- a list\n")
    (tmp_path / "deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    (tmp_path / "self.yaml").write_text("a: &x [*x]\n")
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00garbage")
    sources = [tmp_path / n for n in ("laughs.yaml", "missing", "list.yaml", "deep.yaml", "self.yaml",
                                       "binary.yaml")] + [example_model()]
    reports = validate_json(*sources)
    assert [r["valid"] for r in reports] == [False] * 6 + [True]
    for report in reports[:6]:
        assert report["issues"] and all(i["message"] and "\n" not in i["message"] for i in report["issues"])


def test_predict_refuses_clashing_outputs_and_bad_values(tmp_path: Path) -> None:
    pkg = package(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    np.save(tmp_path / "a" / "img.npy", np.zeros((32, 32), np.float32))
    np.save(tmp_path / "b" / "img.npy", np.zeros((32, 32), np.float32))
    out = tmp_path / "out"
    line = one_error_line(run_cli("predict", pkg, tmp_path / "a" / "img.npy", tmp_path / "b" / "img.npy", "-o", out))
    assert "would both write img_smooth.tif" in line and not out.exists()
    for name, array, fragment in [
        ("complex.npy", np.zeros((32, 32), np.complex64), "complex"),
        ("nan.npy", np.full((32, 32), np.nan, np.float32), "every pixel is NaN"),
        ("text.npy", np.full((32, 32), "x"), "not numbers"),
    ]:
        np.save(tmp_path / name, array)
        line = one_error_line(run_cli("predict", pkg, tmp_path / "a" / "img.npy", tmp_path / name, "-o", out))
        assert name in line and fragment in line, line
        assert not out.exists()


@pytest.mark.parametrize("args", [["predict"], ["bogus"], ["validate", "--bad"], ["serve", "--port", "x"]])
def test_usage_errors_are_one_line(args: list[str]) -> None:
    proc = run_cli(*args)
    assert proc.returncode == 2 and not proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0] and "--help" in lines[0], proc.stderr


def test_predict_failing_midway_leaves_no_empty_outdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A disk that fails on the first write: the OUTDIR predict created (and its new parent) is removed again,
    with no temporary file left."""
    import pyapp.io._writer as writer
    from pyapp.cli import main

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    np.save(tmp_path / "x.npy", np.zeros((32, 32), np.float32))
    # outputs are written block by block into a temporary file that is renamed when complete
    monkeypatch.setattr(writer.os, "pwrite", disk_full)
    out = tmp_path / "new" / "out"
    assert main(["predict", str(package(tmp_path)), str(tmp_path / "x.npy"), "-o", str(out), "--format", "npy"]) == 1
    assert not (tmp_path / "new").exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    assert main(["predict", str(package(tmp_path, name="p2")), str(tmp_path / "x.npy"), "-o", str(kept),
                 "--format", "npy"]) == 1
    assert kept.is_dir() and not any(kept.iterdir())  # a folder the user made stays, empty
