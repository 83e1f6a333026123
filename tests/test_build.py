"""pyapp.sitebuild (``python build.py``): the built static/ and the build's refusals, offline and fast.

Reads the real ``static/`` (built by ``python build.py``); builds only into temporary copies of the output,
cache and wheel folders, reusing the cached downloads, so nothing here touches the real static/ or the network.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path
from urllib.parse import urljoin

import pytest

import pyapp
from pyapp import sitebuild
from pyapp.sitebuild import CORE_FILES, ORT_FILES, PURE_WHEELS, BuildError, build_site

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "static"
DIST = STATIC / "pyodide"
OFFICIAL_LOCK = ROOT / "node_modules" / "pyodide" / "pyodide-lock.json"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def built() -> Path:
    """The real static/ folder; fail with one line when it has not been built."""
    for path in (DIST / "pyodide-lock.json", STATIC / "ort" / "ort.webgpu.min.mjs", ROOT / "build" / "cache" / "pure"):
        if not path.exists():
            pytest.fail(f"{path} is missing: run `python build.py` first", pytrace=False)
    return STATIC


def copy_site(out: Path, wheels: Path, cache: Path, dest: Path) -> dict[str, Path]:
    paths = {"out": dest / "static", "wheels": dest / "wheels", "cache": dest / "cache"}
    shutil.copytree(out, paths["out"])
    shutil.copytree(wheels, paths["wheels"])
    shutil.copytree(cache, paths["cache"], ignore=shutil.ignore_patterns("official", "own-src", "own-wheel"))
    return paths


@pytest.fixture(scope="module")
def primed(built: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Copies of static/, wheels/, build/cache/ (without the 74 MB official source wheel), built once, so
    a source change since the real build (our wheel) is absorbed here and not in every test."""
    paths = copy_site(built, ROOT / "wheels", ROOT / "build" / "cache", tmp_path_factory.mktemp("primed"))
    build_copy(paths)
    return paths


@pytest.fixture
def site_copy(primed: dict[str, Path], tmp_path: Path) -> dict[str, Path]:
    """A fresh, up-to-date copy of the primed site for a test to change."""
    return copy_site(primed["out"], primed["wheels"], primed["cache"], tmp_path)


def build_copy(paths: dict[str, Path], **kwargs: object) -> None:
    build_site(ROOT, paths["out"], cache=paths["cache"], wheels=paths["wheels"], **kwargs)  # type: ignore[arg-type]


def test_lock_lists_only_files_present(built: Path) -> None:
    """Every lock entry's file is in the dist dir, and every file there is a lock entry or a core file."""
    lock = json.loads((DIST / "pyodide-lock.json").read_text())
    listed = {entry["file_name"] for entry in lock["packages"].values()}
    present = {p.name for p in DIST.iterdir() if p.is_file()}
    assert listed <= present, sorted(listed - present)
    assert present - listed == {*CORE_FILES, "pyodide-lock.json"}
    for key, entry in lock["packages"].items():
        assert sha256(DIST / entry["file_name"]) == entry["sha256"], key
        assert all(dep in lock["packages"] for dep in entry["depends"]), key


def test_official_files_match_official_lock(built: Path) -> None:
    """Files shipped under an official lock entry's name have the official sha256; ours are pure wheels."""
    official = json.loads(OFFICIAL_LOCK.read_text())["packages"]
    ours = json.loads((DIST / "pyodide-lock.json").read_text())["packages"]
    pure = {sitebuild.canonicalize_name(w.name) for w in PURE_WHEELS} | {"pyapp"}
    for key, entry in ours.items():
        if key in pure:
            assert entry["file_name"].endswith("-none-any.whl") and "py3" in entry["file_name"], key
            continue
        assert entry == official[key], key
        assert sha256(DIST / entry["file_name"]) == official[key]["sha256"], key
    assert {"numpy", "scipy", "pillow", "micropip", "imageio", "tifffile", "pyyaml", "pyapp"} <= set(ours)
    assert ours["imageio"]["depends"] == ["numpy", "pillow"]
    assert ours["tifffile"]["depends"] == ["numpy"]


def test_pinned_wheels_and_ort_files(built: Path) -> None:
    """Pure wheels and onnxruntime-web files in static/ are the pinned bytes."""
    for spec in PURE_WHEELS:
        wheel = next((built / "wheels").glob(f"{spec.name}-{spec.version}-*-none-any.whl"))
        if spec.sha256 is not None:
            assert sha256(wheel) == spec.sha256, wheel.name
        assert sha256(DIST / wheel.name) == sha256(wheel)
    assert sorted(p.name for p in (built / "ort").iterdir()) == sorted(ORT_FILES)
    for name, digest in ORT_FILES.items():
        assert sha256(built / "ort" / name) == digest, name


def test_web_sources_copied(built: Path) -> None:
    """Everything under web/ is in static/ at the same relative path, byte for byte."""
    web = ROOT / "web"
    if not web.is_dir():
        pytest.skip("no web/ folder yet")
    for src in (p for p in web.rglob("*") if p.is_file() and not p.name.startswith(".")):
        if "__pycache__" in src.parts:
            continue
        assert (built / src.relative_to(web)).read_bytes() == src.read_bytes(), src


def test_builtin_plugins_bundled(built: Path) -> None:
    """Every plugin in plugins/ is copied and listed by its manifest name."""
    index = json.loads((built / "plugins" / "index.json").read_text())
    sources = sorted(p.name for p in (ROOT / "plugins").glob("*.py"))
    assert sorted(e["url"].removeprefix("plugins/") for e in index) == sources
    assert "Calculator" in {e["name"] for e in index}
    for name in sources:
        assert (built / "plugins" / name).read_bytes() == (ROOT / "plugins" / name).read_bytes()


def check_pep691_project(index: Path) -> None:
    doc = json.loads(index.read_text())
    assert doc["meta"]["api-version"].startswith("1.")
    assert doc["name"] == index.parent.name
    assert doc["files"], index
    for item in doc["files"]:
        assert set(item) >= {"filename", "url", "hashes"}
        target = Path(urljoin(index.as_uri(), item["url"]).removeprefix("file://"))
        assert target.name == item["filename"] and target.is_file(), item["url"]
        assert item["hashes"]["sha256"] == sha256(target)
        assert item["size"] == target.stat().st_size
        assert sitebuild.canonicalize_name(item["filename"].split("-")[0]) == doc["name"]
    assert sorted(doc["versions"]) == sorted({f["filename"].split("-")[1] for f in doc["files"]})


def test_simple_index_is_pep691(built: Path) -> None:
    """wheels/simple/index.json lists every project; each project page is PEP 691 JSON with valid files."""
    simple = built / "wheels" / "simple"
    root = json.loads((simple / "index.json").read_text())
    assert root["meta"]["api-version"].startswith("1.")
    names = [p["name"] for p in root["projects"]]
    wheels = {sitebuild.wheel_name_version(p.name)[0] for p in (built / "wheels").glob("*.whl")}
    assert sorted(names) == sorted(wheels) and "pyapp" in names
    for name in names:
        check_pep691_project(simple / name / "index.json")


def test_rerun_writes_nothing(site_copy: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """A second build of an up-to-date site only verifies (no fetch, no tool run, no write)."""
    before = {p: p.stat().st_mtime_ns for p in site_copy["out"].rglob("*") if p.is_file()}
    build_copy(site_copy)
    lines = capsys.readouterr().out.splitlines()
    verbs = {line.split()[0] for line in lines}
    assert verbs <= {"verified", "skipped", "done"}, [ln for ln in lines if ln.split()[0] not in verbs]
    assert sum(line.startswith("verified") for line in lines) > 30
    after = {p: p.stat().st_mtime_ns for p in site_copy["out"].rglob("*") if p.is_file() and p.name != ".pyapp-built"}
    assert after == {p: t for p, t in before.items() if p.name != ".pyapp-built"}


def test_only_pyodide_step(site_copy: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """``--only pyodide`` touches neither ort/ nor the web files."""
    shutil.rmtree(site_copy["out"] / "ort")
    build_copy(site_copy, only=["pyodide"])
    assert not (site_copy["out"] / "ort").exists()
    assert capsys.readouterr().out.splitlines()[-1].endswith("(pyodide)")


def test_corrupt_cached_pure_wheel_refused(site_copy: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """A cached pure wheel whose bytes differ from the pin stops the build with one line naming it."""
    wheel = next((site_copy["cache"] / "pure").glob("tifffile-*.whl"))
    data = bytearray(wheel.read_bytes())
    data[100] ^= 0xFF
    wheel.write_bytes(bytes(data))
    args = ["--root", str(ROOT), "--out", str(site_copy["out"]), "--cache", str(site_copy["cache"]),
            "--wheels-dir", str(site_copy["wheels"])]
    assert sitebuild.main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("build.py: error: sha256 mismatch for ") and wheel.name in err[0], err


def test_corrupt_official_file_refused(site_copy: dict[str, Path]) -> None:
    """An official package file whose bytes differ from the official lock is never installed."""
    lock = json.loads(OFFICIAL_LOCK.read_text())["packages"]
    name = lock["numpy"]["file_name"]
    (site_copy["out"] / "pyodide" / name).unlink()
    source_name, version, prefix = sitebuild.OFFICIAL_SOURCE
    fake = site_copy["cache"] / "official" / f"{source_name.replace('-', '_')}-{version}-py3-none-any.whl"
    fake.parent.mkdir(parents=True)
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr(prefix + name, b"not numpy")
    with pytest.raises(BuildError, match=rf"^sha256 mismatch for {name.replace('.', '[.]')} ") as info:
        build_copy(site_copy, only=["pyodide"])
    assert "\n" not in str(info.value)
    assert not (site_copy["out"] / "pyodide" / name).exists()


def test_unknown_step(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="unknown step"):
        build_site(ROOT, tmp_path / "out", only=["nope"], cache=tmp_path / "c", wheels=tmp_path / "w")


def test_outside_a_checkout_our_wheel_is_repacked_from_the_installed_package(tmp_path: Path) -> None:
    """No pyproject.toml (an installed wheel's kit): the Pyodide wheel holds the installed files, no kit."""
    site = sitebuild.Site(tmp_path, tmp_path / "o", tmp_path / "c", tmp_path / "w")
    wheel = sitebuild.build_own_wheel(site)
    assert wheel.name == f"pyapp-{pyapp.__version__}-py3-none-any.whl" and wheel.parent == tmp_path / "w"
    names = zipfile.ZipFile(wheel).namelist()
    assert "pyapp/__init__.py" in names and "pyapp/spec/__init__.py" in names
    assert not [n for n in names if n.startswith("pyapp/_kit/") or "__pycache__" in n]
    source = (ROOT / "pyapp" / "spec" / "_load.py").read_bytes()
    assert zipfile.ZipFile(wheel).read("pyapp/spec/_load.py") == source
    again = sitebuild.build_own_wheel(site)  # unchanged sources: the same bytes
    assert again.read_bytes() == wheel.read_bytes()


def test_ort_references_are_shipped() -> None:
    """ort.webgpu.min.mjs loads only files that the ORT step ships (wasm + native WebGPU EPs)."""
    dist = ROOT / "node_modules" / "onnxruntime-web" / "dist"
    text = (dist / "ort.webgpu.min.mjs").read_text()
    assert sitebuild.ort_references(text) == {"ort-wasm-simd-threaded.asyncify.mjs"}
    assert sitebuild.ort_references((dist / "ort-wasm-simd-threaded.asyncify.mjs").read_text()) == {
        "ort-wasm-simd-threaded.asyncify.wasm"}
