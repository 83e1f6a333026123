"""Bytecode for the browser (build step "pyc", ``pyapp.sitebuild.pycompile``).

The layout and the pyc semantics are checked with the host's CPython (pycompile writes the running
interpreter's bytecode); the built ``static/pyodide/pyc/`` is checked for CPython 3.12's magic number, and
Pyodide 0.27.7 under Node.js, started as the site's workers start it, imports from that bytecode.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pyapp.sitebuild.pycompile import compile_wheel, compile_zip, pyc_bytes

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "static" / "pyodide"
PY312_MAGIC = (3531).to_bytes(2, "little") + b"\r\n"  # importlib.util.MAGIC_NUMBER of CPython 3.12
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, do not check the source


def _wheel(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("demo/__init__.py", "VALUE = 'from source'\n")
        zf.writestr("demo/sub/mod.py", "def f():\n    return 3\n")
        zf.writestr("demo/broken.py", "def (:\n")
        zf.writestr("demo-1.0.dist-info/METADATA", "Name: demo\nVersion: 1.0\n")
        zf.writestr("demo-1.0.dist-info/RECORD", "demo/__init__.py,,\n")
    return path


def test_wheel_gets_unchecked_pycs_in_pycache_and_record(tmp_path: Path) -> None:
    out = tmp_path / "out.whl"
    assert compile_wheel(str(_wheel(tmp_path / "demo-1.0-py3-none-any.whl")), str(out)) == 2
    tag = sys.implementation.cache_tag
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        pyc = zf.read(f"demo/__pycache__/__init__.{tag}.pyc")
        record = zf.read("demo-1.0.dist-info/RECORD").decode()
        zf.extractall(tmp_path / "site")
    assert f"demo/sub/__pycache__/mod.{tag}.pyc" in names and "demo/broken.py" in names
    assert not any(n.startswith("demo/__pycache__/broken") for n in names)  # what does not compile stays source
    assert names[-1].endswith("RECORD")
    assert pyc[:4] == importlib.util.MAGIC_NUMBER and int.from_bytes(pyc[4:8], "little") == UNCHECKED_HASH
    digest = hashlib.sha256(pyc).digest()
    assert f"demo/__pycache__/__init__.{tag}.pyc,sha256={base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}," \
        f"{len(pyc)}" in record
    # the import system takes the pyc without comparing it with the source (changed here after unpacking)
    (tmp_path / "site" / "demo" / "__init__.py").write_text("VALUE = 'edited'\n")
    probe = f"import sys; sys.path.insert(0, {str(tmp_path / 'site')!r}); import demo; print(demo.VALUE)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True).stdout.strip() == "from source"


def test_zip_gets_pycs_beside_the_named_modules_and_zipimport_uses_them(tmp_path: Path) -> None:
    src = tmp_path / "lib.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("alpha.py", "A = 1\n")
        zf.writestr("pkg/__init__.py", "")
        zf.writestr("pkg/beta.py", "B = 2\n")
        zf.writestr("gamma.py", "C = 3\n")
    out = tmp_path / "out.zip"
    assert compile_zip(str(src), str(out), ["alpha", "pkg", "pkg.beta", "missing"]) == 3
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
    assert {"alpha.pyc", "pkg/__init__.pyc", "pkg/beta.pyc", "alpha.py", "gamma.py"} <= names
    assert "gamma.pyc" not in names
    probe = (f"import sys; sys.path.insert(0, {str(out)!r}); import alpha, gamma, pkg.beta; "
             "print(alpha.__file__.endswith('.pyc'), gamma.__file__.endswith('.py'), pkg.beta.B)")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True).stdout.split() == ["True", "True", "2"]


def test_pyc_bytes_of_invalid_source_is_none() -> None:
    assert pyc_bytes(b"def (:\n", "x.py") is None
    assert pyc_bytes(b"x = 1\n", "x.py")[:4] == importlib.util.MAGIC_NUMBER


@pytest.fixture(scope="module")
def pyc_lock() -> dict:
    path = DIST / "pyc" / "pyodide-lock.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `python build.py` first", pytrace=False)
    return json.loads(path.read_text())


def test_built_pyc_lock_is_the_site_lock_with_compiled_worker_wheels(pyc_lock: dict) -> None:
    site = json.loads((DIST / "pyodide-lock.json").read_text())
    assert pyc_lock["info"] == site["info"] and set(pyc_lock["packages"]) == set(site["packages"])
    compiled = {k for k, e in pyc_lock["packages"].items() if e["file_name"].startswith("pyc/")}
    assert {"numpy", "pyyaml", "pyapp", "pillow", "imageio", "tifffile"} <= compiled
    for key, entry in pyc_lock["packages"].items():
        assert hashlib.sha256((DIST / entry["file_name"]).read_bytes()).hexdigest() == entry["sha256"], key
        if key not in compiled:
            assert entry == site["packages"][key], key
    with zipfile.ZipFile(DIST / pyc_lock["packages"]["numpy"]["file_name"]) as zf:
        pyc = zf.read("numpy/__pycache__/__init__.cpython-312.pyc")
    assert pyc[:4] == PY312_MAGIC and int.from_bytes(pyc[4:8], "little") == UNCHECKED_HASH
    with zipfile.ZipFile(DIST / "pyc" / "python_stdlib.zip") as zf:
        names = set(zf.namelist())
        assert zf.read("asyncio/__init__.pyc")[:4] == PY312_MAGIC
    assert {"asyncio/__init__.py", "json/__init__.pyc", "zipfile/__init__.pyc"} <= names
    assert "tkinter/__init__.pyc" not in names  # only what the workers import


def test_pyodide_imports_the_workers_modules_from_bytecode(pyc_lock: dict) -> None:
    """Pyodide 0.27.7 under Node.js, with the options of web/pyapp/pyodide-options.js, imports numpy, the stdlib
    and pyapp from the shipped .pyc files."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed (Node.js 20+)", pytrace=False)
    script = """
import { pathToFileURL } from "node:url";
import { readFileSync } from "node:fs";
const dist = process.argv[1];
const { loadPyodide } = await import(pathToFileURL(dist + "/pyodide.mjs").href);
const options = readFileSync(process.argv[2], "utf8");
const { pyodideOptions } = await import("data:text/javascript," + encodeURIComponent(options));
const pyodide = await loadPyodide({ ...pyodideOptions(dist + "/"), packages: ["numpy", "pyyaml", "pyapp"] });
console.log(pyodide.runPython(`
import json, os, sys, asyncio, numpy, yaml, pyapp.spec
spec = pyapp.spec.__spec__.cached
json.dumps({"asyncio": asyncio.__spec__.origin, "numpy": os.path.isfile(numpy.__spec__.cached),
            "spec": os.path.isfile(spec), "magic": open(spec, "rb").read(4).hex()})
`));
"""
    options = ROOT / "web" / "pyapp" / "pyodide-options.js"
    proc = subprocess.run([node, "--input-type=module", "-e", script, str(DIST), str(options)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-1500:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["asyncio"].endswith("python312.zip/asyncio/__init__.pyc"), seen
    assert seen["numpy"] and seen["spec"] and bytes.fromhex(seen["magic"]) == PY312_MAGIC
