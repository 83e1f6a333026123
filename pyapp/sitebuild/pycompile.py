"""Bytecode for the browser: add ``.pyc`` files to wheels and to the standard library zip (stdlib only).

The build (:mod:`.pyc`) runs this module *inside Pyodide 0.27.7 under Node.js*, so the bytecode carries
CPython 3.12's magic number; under another interpreter it writes that interpreter's bytecode (the tests use
that to check the layout). The ``.pyc`` files are unchecked-hash pycs (PEP 552): valid whatever the files'
modification times after unpacking, never compared with the source, which stays next to them (tracebacks keep
their lines).

- wheels: ``pkg/mod.py`` gets ``pkg/__pycache__/mod.<cache_tag>.pyc`` (where the import system looks), and
  the wheel's ``RECORD`` lists it;
- the stdlib zip: ``mod.py`` gets ``mod.pyc`` beside it (where ``zipimport`` looks first), for the modules
  named only: the ones the site's workers import.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import sys
import zipfile
from collections.abc import Iterable
from importlib._bootstrap_external import _code_to_hash_pyc  # type: ignore[attr-defined]
from pathlib import PurePosixPath

__all__ = ["compile_wheel", "compile_zip", "pyc_bytes", "run", "zip_modules"]


def pyc_bytes(source: bytes, filename: str) -> bytes | None:
    """The unchecked-hash pyc of ``source`` for the running interpreter; None when it does not compile."""
    try:
        code = compile(source, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    return bytes(_code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False))


def _entry(name: str, like: zipfile.ZipInfo) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=like.date_time)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = like.external_attr
    return info


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}\n"


def compile_wheel(src: str, dest: str) -> int:
    """Copy the wheel ``src`` to ``dest`` with a pyc for each importable ``.py``; return how many were added."""
    tag = sys.implementation.cache_tag
    added: list[tuple[str, bytes]] = []
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        record = None
        for info in zin.infolist():
            data = zin.read(info)
            top = info.filename.split("/", 1)[0]
            if top.endswith(".dist-info") and info.filename.endswith("/RECORD"):
                record = (info, data)
                continue
            zout.writestr(info, data)
            if info.filename.endswith(".py") and not top.endswith((".dist-info", ".data")):
                pyc = pyc_bytes(data, info.filename)
                if pyc is not None:
                    path = PurePosixPath(info.filename)
                    name = str(path.parent / "__pycache__" / f"{path.stem}.{tag}.pyc")
                    zout.writestr(_entry(name, info), pyc)
                    added.append((name, pyc))
        if record is not None:  # RECORD stays last, listing the new files too
            info, data = record
            zout.writestr(info, data + "".join(_record_line(n, d) for n, d in added).encode())
    return len(added)


def zip_modules(names: Iterable[str]) -> dict[str, str]:
    """Module name -> its path in a stdlib zip (``a/b.py`` or ``a/__init__.py``), for the entries ``names``."""
    out = {}
    for name in names:
        if name.endswith("/__init__.py"):
            out[name[: -len("/__init__.py")].replace("/", ".")] = name
        elif name.endswith(".py"):
            out[name[: -len(".py")].replace("/", ".")] = name
    return out


def compile_zip(src: str, dest: str, modules: Iterable[str]) -> int:
    """Copy the zip ``src`` to ``dest`` with ``x.pyc`` beside ``x.py`` for each of ``modules``; return the count."""
    wanted = set(modules)
    count = 0
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        paths = {path: module for module, path in zip_modules(zin.namelist()).items() if module in wanted}
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, data)
            if info.filename in paths:
                pyc = pyc_bytes(data, info.filename)
                if pyc is not None:
                    zout.writestr(_entry(info.filename + "c", info), pyc)
                    count += 1
    return count


def run(job_json: str) -> str:
    """The build's job inside Pyodide: import ``job["imports"]`` (the worker's modules), compile the stdlib zip
    for every module they pulled from it, and each wheel of ``job["wheels"]`` (``[src, dest]`` pairs).
    Returns JSON: ``{"stdlib": count, "modules": [...], "wheels": {dest: count}}``."""
    job = json.loads(job_json)
    for name in job["imports"]:
        importlib.import_module(name)
    prefix = job["stdlib_in_fs"].rstrip("/") + "/"
    modules = sorted(name for name, mod in list(sys.modules.items())
                     if (getattr(getattr(mod, "__spec__", None), "origin", None) or "").startswith(prefix))
    result = {"stdlib": compile_zip(job["stdlib"][0], job["stdlib"][1], modules), "modules": modules,
              "wheels": {dest: compile_wheel(src, dest) for src, dest in job["wheels"]}}
    return json.dumps(result)
