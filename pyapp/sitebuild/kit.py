"""Where the site's sources come from: a source checkout, or the kit an installed pyapp wheel carries.

A checkout holds ``pyproject.toml``, ``web/``, ``editor/``, ``plugins/`` and the npm manifest + lock next to
the ``pyapp`` package. An installed wheel carries the same sources under ``pyapp/_kit/`` (``setup.py`` copies
them when the wheel is built). A build from the kit never writes next to the installed package: npm runs in
``<cache>/npm``, our Pyodide wheel is repacked from the installed files, and outputs default to the user's
cache folder (``$XDG_CACHE_HOME/pyapp``, else ``~/.cache/pyapp``).
"""

from __future__ import annotations

import importlib.metadata
import os
import zipfile
from pathlib import Path

from ._common import BuildError, rel, say, sha256_file, write_bytes

PACKAGE = Path(__file__).resolve().parents[1]  # .../pyapp
KIT = PACKAGE / "_kit"
#: What a kit must hold to build a site (the same names sit at the top of a checkout).
KIT_SOURCES = ("web", "plugins", "editor", "package.json", "package-lock.json")
#: Fixed timestamp for repacked wheel members, so equal sources give equal wheel bytes.
_EPOCH = (1980, 1, 1, 0, 0, 0)


def checkout_root() -> Path | None:
    """The source checkout holding this package, when it is one (``pyproject.toml`` and ``web/`` beside it)."""
    here = PACKAGE.parent
    return here if (here / "pyproject.toml").is_file() and (here / "web").is_dir() else None


def is_checkout(root: Path) -> bool:
    """Whether ``root`` is a source checkout (as opposed to an installed wheel's kit)."""
    return (root / "pyproject.toml").is_file()


def user_cache() -> Path:
    """The user's cache folder for pyapp: ``$XDG_CACHE_HOME/pyapp`` or ``~/.cache/pyapp``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pyapp"


def default_root() -> Path:
    """The checkout this package lives in; else the kit of the installed wheel; else the working directory."""
    checkout = checkout_root()
    if checkout is not None:
        return checkout
    if (KIT / "web").is_dir():
        return KIT
    return Path.cwd()


def check_root(root: Path) -> None:
    """Raise a one-line BuildError when ``root`` can build no site (neither a checkout nor a complete kit)."""
    if is_checkout(root):
        return
    missing = [name for name in KIT_SOURCES if not (root / name).exists()]
    if missing:
        raise BuildError(f"{root} holds no site sources ({missing[0]} is missing): pass --root with a pyapp "
                         "checkout, or reinstall pyapp from a wheel built with its setup.py")


def stage_npm(root: Path, npm_root: Path) -> None:
    """Copy the npm manifest and lock of a kit into ``npm_root``, where ``npm ci`` may write node_modules."""
    for name in ("package.json", "package-lock.json"):
        write_bytes(npm_root / name, (root / name).read_bytes())


def _installed_files() -> tuple[importlib.metadata.Distribution, list[tuple[str, Path]]]:
    dist = importlib.metadata.distribution("pyapp")
    members = []
    for path in sorted(p for p in PACKAGE.rglob("*") if p.is_file()):
        parts = path.relative_to(PACKAGE.parent).parts
        if "__pycache__" in parts or path.suffix == ".pyc" or parts[1:2] == ("_kit",):
            continue
        members.append(("/".join(parts), path))
    return dist, members


def repack_installed_wheel(wheels: Path, cache: Path) -> Path:
    """Write our pure wheel for Pyodide from the installed package (without its kit) into ``wheels``.

    The installed files are what an installed pyapp runs, so the browser gets the same code. Unchanged
    sources keep the wheel's bytes (fixed member timestamps).
    """
    from .wheels import record_for

    dist, members = _installed_files()
    version = dist.version
    name = f"pyapp-{version}-py3-none-any.whl"
    info = f"pyapp-{version}.dist-info"
    metadata = dist.read_text("METADATA") or dist.read_text("PKG-INFO")  # wheel install, or egg-info
    if not metadata:
        raise BuildError("the installed pyapp has no METADATA: reinstall it")
    items = {arc: path.read_bytes() for arc, path in members}
    items[f"{info}/METADATA"] = metadata.encode()
    items[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: pyapp-build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    items[f"{info}/top_level.txt"] = b"pyapp\n"
    items[f"{info}/RECORD"] = record_for(items, f"{info}/RECORD")
    staged = cache / "own-wheel" / name
    staged.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED) as out:
        for arc, data in items.items():
            out.writestr(zipfile.ZipInfo(arc, _EPOCH), data, zipfile.ZIP_DEFLATED)
    wheels.mkdir(parents=True, exist_ok=True)
    for old in sorted(wheels.glob("pyapp-*.whl")):
        if old.name != name:
            old.unlink()
            say("removed", rel(old))
    wheel = wheels / name
    if wheel.is_file() and sha256_file(wheel) == sha256_file(staged):
        say("verified", f"{rel(wheel)} (installed sources unchanged)")
    else:
        write_bytes(wheel, staged.read_bytes())
    return wheel


def zip_site(out: Path, dest: Path) -> Path:
    """Pack the built site folder ``out`` into the zip ``dest`` (paths relative to the site root).

    Written to a temporary name and renamed, so a failed run leaves no half-written zip.
    """
    dest = dest.resolve()
    if dest.is_relative_to(out.resolve()):
        raise BuildError(f"--zip {dest} is inside the site folder {out}: choose a path outside it")
    files = sorted(p for p in out.rglob("*") if p.is_file())
    if not (out / "index.html").is_file():
        raise BuildError(f"{out} holds no built site (no index.html): nothing to zip")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            arc = path.relative_to(out).as_posix()
            # wasm and wheels are already compressed or large: store them, deflate the rest
            kind = zipfile.ZIP_STORED if path.suffix in (".whl", ".wasm", ".zip", ".png", ".jpg") \
                else zipfile.ZIP_DEFLATED
            zf.write(path, arc, compress_type=kind)
    tmp.replace(dest)
    say("zipped", f"{rel(dest)} ({len(files)} files, {dest.stat().st_size / 1e6:.1f} MB)")
    return dest
