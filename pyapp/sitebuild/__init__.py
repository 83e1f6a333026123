"""Assemble the static site: Pyodide 0.27.7, onnxruntime-web, our wheels with their indexes, the web app.

``pyapp build [--out static] [--only pyodide]`` (or ``python build.py``) calls :func:`main`; code calls
:func:`build_site`. Every step is incremental: files whose sha256 already matches are only verified, never
rewritten, and every file fetched, verified, written or removed gets one line. Failures are one line.

Layout of the output folder (default ``static/``)::

    pyodide/   Pyodide core, official package files, pure wheels, our wheel, rewritten pyodide-lock.json
    pyodide/pyc/   the stdlib zip and the model worker's wheels with CPython 3.12 bytecode, and their lock
    ort/       onnxruntime-web: ort.webgpu.min.mjs and the wasm module it loads (wasm + webgpu EPs)
    hypha/     the hypha-rpc browser client (the engine panel's connection to a training engine)
    wheels/    the pure wheels and ours, with a PEP 691/503 simple index under wheels/simple/
    ...        everything under web/ (index.html, app.js, pyapp/*.js, ...), same relative paths
    pyapp/editor.bundle.js   CodeMirror 6 for the plugin editor (editor/entry.js bundled by esbuild)

Stdlib only at import time (``packaging`` is imported when a lock entry is computed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ._common import (
    STAMP,
    WEB_MANIFEST,
    BuildError,
    Site,
    canonicalize_name,
    copy_file,
    find_wheel,
    mirror_dir,
    npm_package_dir,
    rel,
    remove_stale,
    run_tool,
    say,
    sha256_bytes,
    sha256_file,
    tool_error,
    wheel_name_version,
    write_bytes,
    write_json,
)
from .app import ICON_SIZES, PYSCRIPT_VERSION, SHELL_SOURCES, WORKER_PACKAGES, build_app
from .assets import (
    HYPHA_RPC_FILES,
    HYPHA_RPC_VERSION,
    ORT_FILES,
    ORT_VERSION,
    RESERVED,
    build_hypha,
    build_ort,
    build_web,
    ort_references,
)
from .editor import EDITOR_MANIFEST, ESBUILD_VERSION, build_editor
from .kit import check_root, default_root, is_checkout, stage_npm, user_cache, zip_site
from .models import build_models
from .plugins import build_plugins
from .pyc import build_pyc
from .pyodide import (
    CORE_FILES,
    OFFICIAL_PACKAGES,
    OFFICIAL_SOURCE,
    PYODIDE_MARKER_ENV,
    PYODIDE_VERSION,
    REPLACED_OFFICIAL,
    build_pyodide,
    check_depends,
    install_official_files,
    lock_entry,
    official_closure,
    official_lock,
    official_source_wheel,
    pyodide_depends,
    wheel_imports,
)
from .wheels import (
    OWN_SOURCES,
    PURE_WHEELS,
    PureWheel,
    backend_available,
    build_own_wheel,
    build_wheels,
    ensure_pure_tag,
    fetch_pure_wheel,
    own_source_digest,
    own_source_files,
    project_index,
    record_for,
    wheel_metadata,
    write_simple_index,
)

# Every name the single-module ``pyapp/sitebuild.py`` had, so ``from pyapp.sitebuild import ...`` keeps working.
__all__ = [
    "CORE_FILES",
    "EDITOR_MANIFEST",
    "ESBUILD_VERSION",
    "HYPHA_RPC_FILES",
    "HYPHA_RPC_VERSION",
    "ICON_SIZES",
    "OFFICIAL_PACKAGES",
    "OFFICIAL_SOURCE",
    "ORT_FILES",
    "ORT_VERSION",
    "OWN_SOURCES",
    "PURE_WHEELS",
    "PYODIDE_MARKER_ENV",
    "PYODIDE_VERSION",
    "PYSCRIPT_VERSION",
    "REPLACED_OFFICIAL",
    "RESERVED",
    "SHELL_SOURCES",
    "STAMP",
    "STEPS",
    "WEB_MANIFEST",
    "WORKER_PACKAGES",
    "BuildError",
    "PureWheel",
    "Site",
    "add_arguments",
    "add_build",
    "backend_available",
    "build_app",
    "build_editor",
    "build_hypha",
    "build_models",
    "build_ort",
    "build_own_wheel",
    "build_pyc",
    "build_pyodide",
    "build_site",
    "build_web",
    "build_wheels",
    "canonicalize_name",
    "check_depends",
    "copy_file",
    "default_root",
    "ensure_pure_tag",
    "fetch_pure_wheel",
    "find_wheel",
    "install_official_files",
    "is_checkout",
    "lock_entry",
    "main",
    "mirror_dir",
    "npm_package_dir",
    "official_closure",
    "official_lock",
    "official_source_wheel",
    "ort_references",
    "own_source_digest",
    "own_source_files",
    "project_index",
    "pyodide_depends",
    "record_for",
    "rel",
    "remove_stale",
    "run_build",
    "run_tool",
    "say",
    "sha256_bytes",
    "sha256_file",
    "tool_error",
    "user_cache",
    "wheel_imports",
    "wheel_metadata",
    "wheel_name_version",
    "write_bytes",
    "write_json",
    "write_simple_index",
    "zip_site",
]

STEPS: dict[str, Callable[[Site], None]] = {
    "pyodide": build_pyodide, "ort": build_ort, "hypha": build_hypha, "web": build_web, "editor": build_editor,
    "models": build_models,
    "plugins": build_plugins, "app": build_app,
}


def build_site(
    root: Path,
    out: Path | None = None,
    *,
    only: Sequence[str] | None = None,
    cache: Path | None = None,
    wheels: Path | None = None,
    wheels_url: str = "",
) -> None:
    """Build the steps ``only`` (default: all of STEPS, in order) of ``root`` into ``out`` (default root/static).

    In a checkout ``out`` defaults to ``root/static``, ``cache`` to ``root/build/cache`` and ``wheels`` to
    ``root/wheels``. From an installed wheel's kit (see :mod:`.kit`) nothing is written next to the package:
    ``out`` defaults to ``./static``, ``cache`` to the user's cache folder, ``wheels`` to ``<cache>/wheels`` and
    npm runs in ``<cache>/npm``. Raises BuildError (one line).
    """
    root = root.resolve()
    check_root(root)
    if is_checkout(root):
        site = Site(root=root, out=(out or root / "static").resolve(),
                    cache=(cache or root / "build" / "cache").resolve(),
                    wheels=(wheels or root / "wheels").resolve(), wheels_url=wheels_url)
    else:
        cache = (cache or user_cache() / "build").resolve()
        site = Site(root=root, out=(out or Path.cwd() / "static").resolve(), cache=cache,
                    wheels=(wheels or cache / "wheels").resolve(), wheels_url=wheels_url, npm_root=cache / "npm")
    unknown = [s for s in only or () if s not in STEPS]
    if unknown:
        raise BuildError(f"unknown step {unknown[0]!r} (choose from {', '.join(STEPS)})")
    site.cache.mkdir(parents=True, exist_ok=True)
    site.out.mkdir(parents=True, exist_ok=True)
    if site.npm_root is not None:
        stage_npm(root, site.npm_root)
    steps = [s for s in STEPS if s in only] if only else list(STEPS)
    for step in steps:
        STEPS[step](site)
    if steps == list(STEPS):  # a complete build: `pyapp serve` compares this mtime with the sources
        (site.out / STAMP).touch()
    say("done", f"{rel(site.out)} ({', '.join(steps)})")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The build options, shared by ``build.py`` and ``pyapp build``."""
    parser.add_argument("--out", type=Path, default=None, metavar="DIR", help="output folder (default: ROOT/static)")
    parser.add_argument("--only", action="append", choices=list(STEPS), help="run only this step (repeatable)")
    parser.add_argument("--root", type=Path, default=None, metavar="DIR",
                        help="pyapp source checkout (default: this package's checkout, else the cwd)")
    parser.add_argument("--cache", type=Path, default=None, metavar="DIR", help="download cache (ROOT/build/cache)")
    parser.add_argument("--wheels-dir", type=Path, default=None, metavar="DIR", help="wheel folder (ROOT/wheels)")
    parser.add_argument("--zip", type=Path, default=None, metavar="FILE",
                        help="also pack the built site into one zip (host it anywhere, see docs/deploy.md)")
    parser.add_argument("--wheels-url", default="", metavar="URL",
                        help="absolute URL where wheels/ is served, for absolute file URLs in wheels/simple/")


def run_build(args: argparse.Namespace, prog: str = "pyapp build") -> int:
    """Run a build from parsed options; print a one-line error and return 1 on failure."""
    try:
        root = args.root or default_root()
        build_site(root, args.out, only=args.only, cache=args.cache,
                   wheels=args.wheels_dir, wheels_url=args.wheels_url)
        if args.zip is not None:
            out = args.out or (root / "static" if is_checkout(root) else Path.cwd() / "static")
            zip_site(Path(out), args.zip)
    except BuildError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    return 0


def add_build(sub: argparse._SubParsersAction) -> None:
    """Add ``pyapp build`` to the CLI's subparsers."""
    p = sub.add_parser("build", help="assemble the static site (Pyodide, onnxruntime-web, wheels, web app)",
                       description=__doc__.splitlines()[0])
    add_arguments(p)
    p.set_defaults(func=run_build)


def main(argv: Sequence[str] | None = None) -> int:
    """``python build.py [options]``: run the build steps; one line per file, a one-line error on failure."""
    parser = argparse.ArgumentParser(prog="build.py", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run_build(parser.parse_args(argv), prog="build.py")

