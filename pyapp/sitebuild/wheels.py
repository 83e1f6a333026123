"""Build step "pyodide", wheels part: the pure-Python wheels, our own wheel, and the simple index of
``wheels/``."""

from __future__ import annotations

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
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ._common import (
    BuildError,
    Site,
    copy_file,
    find_wheel,
    rel,
    remove_stale,
    run_tool,
    say,
    sha256_file,
    wheel_name_version,
    write_bytes,
    write_json,
)


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

# Our package sources, staged into the cache to build our wheel (and hashed to skip unchanged rebuilds).
OWN_SOURCES = ("pyapp", "pyproject.toml", "README.md", "LICENSE")


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
        raise BuildError(f"sha256 mismatch for {rel(cached)}: got {got}, pyapp/sitebuild/wheels.py pins {spec.sha256}")
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
    if not (site.root / "pyproject.toml").is_file():  # an installed wheel's kit: ship the installed code
        from .kit import repack_installed_wheel

        return repack_installed_wheel(site.wheels, site.cache)
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
# Package indexes
# ----------------------------------------------------------------------------------------------------


def wheel_metadata(wheel: Path) -> email.message.Message:
    """The parsed METADATA of a wheel."""
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n))
        return email.parser.Parser().parsestr(zf.read(meta).decode())


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
