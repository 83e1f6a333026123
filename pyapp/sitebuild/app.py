"""Build step "app", after "models": the app shell (PyScript on MicroPython) and the offline PWA (manifest,
icons, the service worker's precache list)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .. import __version__
from ._common import (
    WEB_MANIFEST,
    BuildError,
    Site,
    canonicalize_name,
    copy_file,
    npm_package_dir,
    rel,
    remove_stale,
    sha256_file,
    write_bytes,
    write_json,
)
from .editor import EDITOR_MANIFEST
from .pyc import PYC_DIR, WORKER_PACKAGES
from .pyodide import CORE_FILES

PYSCRIPT_VERSION = "0.6.66"  # 0.7.x imports pyodide.ffi.jsnull, which Pyodide 0.27.7 lacks
# The shell's interpreter: PyScript 0.6.66's default MicroPython, served from <out>/mpy/ (not its CDN), pinned.
MICROPYTHON = ("@micropython/micropython-webassembly-pyscript", "1.26.0-preview-293")
MICROPYTHON_FILES = {
    "micropython.mjs": "8c32f6c13f7344d8ad0668d0efa020ee1d24d0402d31eba3609c186b1745c4c8",
    "micropython.wasm": "d640241221489b209a91e466126429bee1406805d4eee9baa2a1aac371c966ae",
}
# The shell's Python, placed into the page's MicroPython by PyScript's ``files`` config.
SHELL_SOURCES = ("__init__.py", "shell/__init__.py", "shell/app.py", "shell/dom.py", "shell/inputs.py",
                 "shell/view.py",
                 "shell/results.py")
# scipy (objects and scores, pyapp.analysis) is precached too; the worker loads it on the first such request.
PRECACHE_PACKAGES = (*WORKER_PACKAGES, "scipy")
ICON_SIZES = (192, 512)


def _png(size: int) -> bytes:
    """The app icon as a PNG (stdlib only): a dark teal tile with a green nucleus and a white ring."""
    import struct
    import zlib

    c, rows = (size - 1) / 2, []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            r = ((x - c) ** 2 + ((y - c) * 1.15) ** 2) ** 0.5 / size
            row += bytes((255, 255, 255) if 0.30 < r < 0.36 else (86, 196, 120) if r < 0.17
                         else (14, 90, 110))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + chunk(b"IEND", b""))


def _precache_files(site: Site) -> list[str]:
    """Site-relative paths the service worker caches: app shell, PyScript + MicroPython, Pyodide core + the
    worker packages (precompiled), ORT, the hypha-rpc client, bundled models. ``wheels/`` (for micropip users),
    test-only wheels and the uncompiled originals stay out."""
    out = site.out
    files: set[str] = set()
    for manifest in (WEB_MANIFEST, EDITOR_MANIFEST):  # web/ files, the editor bundle
        files |= set(json.loads((out / manifest).read_text())) if (out / manifest).is_file() else set()
    for folder in ("pyscript", "mpy", "shell", "icons", "ort", "hypha", "models", "plugins"):
        files |= {p.relative_to(out).as_posix() for p in (out / folder).rglob("*")
                  if p.is_file() and not p.name.endswith(".map")} if (out / folder).is_dir() else set()
    # the workers' lock (end of step "pyodide"): their packages and stdlib with bytecode, under pyodide/pyc/
    lock = json.loads((out / "pyodide" / PYC_DIR / "pyodide-lock.json").read_text())["packages"]
    todo, seen = [canonicalize_name(n) for n in PRECACHE_PACKAGES], set()
    while todo:
        key = todo.pop()
        if key not in seen and key in lock:
            seen.add(key)
            todo.extend(canonicalize_name(d) for d in lock[key]["depends"])
    files |= {f"pyodide/{lock[k]['file_name']}" for k in seen}
    core = [n for n in CORE_FILES if n != "python_stdlib.zip"]  # the workers load pyc/python_stdlib.zip
    files |= {f"pyodide/{name}" for name in (*core, f"{PYC_DIR}/python_stdlib.zip", f"{PYC_DIR}/pyodide-lock.json")}
    files |= {"manifest.webmanifest", "pyscript.json", ""}
    files.discard("sw.js")  # the browser fetches the worker script itself
    missing = sorted(f for f in files if f and not (out / f).is_file())
    if missing:
        raise BuildError(f"precache lists {missing[0]}, which the build did not write")
    return sorted(files)


def _micropython(site: Site) -> None:
    """MicroPython for PyScript into ``<out>/mpy/``, each file checked against MICROPYTHON_FILES."""
    dist = npm_package_dir(site, *MICROPYTHON)
    for name, sha in MICROPYTHON_FILES.items():
        if not (dist / name).is_file():
            raise BuildError(f"{rel(dist / name)} is missing from {MICROPYTHON[0]}@{MICROPYTHON[1]}")
        if (got := sha256_file(dist / name)) != sha:
            raise BuildError(f"sha256 mismatch for {rel(dist / name)}: got {got}, pyapp/sitebuild/app.py pins {sha}")
        copy_file(dist / name, site.out / "mpy" / name)
    remove_stale(site.out / "mpy", MICROPYTHON_FILES)


def build_app(site: Site) -> None:
    """PyScript (``<out>/pyscript/``) with MicroPython (``<out>/mpy/``), the shell's Python (``<out>/shell/``),
    its ``pyscript.json``, the web manifest and icons, and ``precache.js`` (the service worker's file list,
    versioned by content)."""
    dist = npm_package_dir(site, "@pyscript/core", PYSCRIPT_VERSION) / "dist"
    names = [p.name for p in sorted(dist.iterdir()) if p.is_file() and p.suffix in (".js", ".css")]
    for name in names:
        copy_file(dist / name, site.out / "pyscript" / name)
    remove_stale(site.out / "pyscript", names)
    _micropython(site)
    package = Path(__file__).resolve().parents[1]  # pyapp/
    for name in SHELL_SOURCES:
        copy_file(package / name, site.out / "shell" / "pyapp" / name)
    files = {f"shell/pyapp/{n}": f"./pyapp/{n}" for n in SHELL_SOURCES}
    for folder in {Path(n).parent for n in SHELL_SOURCES}:  # drop modules that left SHELL_SOURCES
        remove_stale(site.out / "shell" / "pyapp" / folder, {Path(n).name for n in SHELL_SOURCES
                                                              if Path(n).parent == folder})
    write_json(site.out / "pyscript.json", {"interpreter": "mpy/micropython.mjs", "files": files})
    for size in ICON_SIZES:
        write_bytes(site.out / "icons" / f"icon-{size}.png", _png(size))
    icons = [{"src": f"icons/icon-{s}.png", "sizes": f"{s}x{s}", "type": "image/png", "purpose": "any"}
             for s in ICON_SIZES]
    write_json(site.out / "manifest.webmanifest", {
        "name": "pyapp — bioimage models", "short_name": "pyapp", "start_url": "./", "scope": "./",
        "display": "standalone", "background_color": "#f4f6f8", "theme_color": "#0e5a6e", "icons": icons,
        "description": "Run bioimage.io models on your images and camera, in the browser, offline."})
    files = _precache_files(site)
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode() + (sha256_file(site.out / name).encode() if name else b""))
    build = digest.hexdigest()[:16]
    # the page shows which release and which build it runs (docs/deploy.md: updates reach installed apps)
    write_json(site.out / "version.json", {"version": __version__, "build": build})
    files = [*files, "version.json"]
    # sha256 of every body, checked by the service worker before it serves one ("" is the site root: index.html)
    hashes = {name: sha256_file(site.out / (name or "index.html")) for name in files}
    body = json.dumps({"version": build, "files": files, "sha256": hashes}, indent=1)
    write_bytes(site.out / "precache.js", f"self.PRECACHE = {body};\n".encode())
