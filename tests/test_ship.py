"""Shipping pyapp (issue: `pip install pyapp` then `pyapp serve` outside the repository).

The wheel carries the site's sources (pyapp/_kit), a build from that kit never writes next to the installed
package, npm failures name their real cause, and `pyapp build --zip` packs the site. The browser side (the
installed wheel's site, served from a sub-path and unpacked from the zip) is tests/browser/test_installed_site.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pyapp.sitebuild import BuildError, build_site, zip_site
from pyapp.sitebuild._common import Site, npm_package_dir
from pyapp.sitebuild.kit import KIT_SOURCES, check_root, default_root, is_checkout

ROOT = Path(__file__).resolve().parents[1]
NPM = shutil.which("npm")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our wheel, built from the checkout the way `pip wheel .` builds it."""
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "-w", str(out), str(ROOT)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (built,) = out.glob("pyapp-*.whl")
    return built


def test_wheel_carries_the_site_sources(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in KIT_SOURCES:
        assert any(n == f"pyapp/_kit/{name}" or n.startswith(f"pyapp/_kit/{name}/") for n in names), name
    web = {p.relative_to(ROOT).as_posix() for p in (ROOT / "web").rglob("*") if p.is_file()}
    assert {f"pyapp/_kit/{n}" for n in web} <= names
    lock = json.loads(zipfile.ZipFile(wheel).read("pyapp/_kit/package-lock.json"))
    assert lock == json.loads((ROOT / "package-lock.json").read_text())


def test_checkout_is_the_default_root_here() -> None:
    assert default_root() == ROOT and is_checkout(ROOT)


def test_a_folder_without_sources_is_refused_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "web").mkdir()
    with pytest.raises(BuildError, match=r"plugins is missing") as err:
        check_root(tmp_path)
    assert "\n" not in str(err.value)
    with pytest.raises(BuildError, match="holds no site sources"):
        build_site(tmp_path, tmp_path / "out", only=["web"], cache=tmp_path / "cache")


def _npm_site(tmp_path: Path, package: dict, lock: dict) -> Site:
    npm_root = tmp_path / "npm"
    npm_root.mkdir()
    (npm_root / "package.json").write_text(json.dumps(package))
    (npm_root / "package-lock.json").write_text(json.dumps(lock))
    return Site(root=tmp_path, out=tmp_path / "out", cache=tmp_path / "cache", wheels=tmp_path / "w",
                npm_root=npm_root)


@pytest.mark.skipif(NPM is None, reason="npm is not installed")
def test_npm_lock_mismatch_is_named(tmp_path: Path) -> None:
    package = {"name": "x", "version": "1.0.0", "dependencies": {"is-number": "7.0.0"}}
    lock = {"name": "x", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
            "packages": {"": {"name": "x", "version": "1.0.0"}}}
    with pytest.raises(BuildError, match=r"package\.json and package-lock\.json do not match") as err:
        npm_package_dir(_npm_site(tmp_path, package, lock), "is-number", "7.0.0")
    assert "\n" not in str(err.value)


@pytest.mark.skipif(NPM is None, reason="npm is not installed")
def test_unreachable_registry_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the lock points at a port nothing listens on: the same failure as a registry that cannot be reached
    url = "http://127.0.0.1:9/is-number/-/is-number-7.0.0.tgz"
    package = {"name": "x", "version": "1.0.0", "dependencies": {"is-number": "7.0.0"}}
    lock = {"name": "x", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
            "packages": {"": {"name": "x", "version": "1.0.0", "dependencies": {"is-number": "7.0.0"}},
                         "node_modules/is-number": {"version": "7.0.0", "resolved": url,
                                                    "integrity": "sha512-" + "A" * 86 + "=="}}}
    site = _npm_site(tmp_path, package, lock)
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))  # empty: nothing is found offline
    monkeypatch.setenv("npm_config_fetch_retries", "0")
    with pytest.raises(BuildError, match="registry could not be reached") as err:
        npm_package_dir(site, "is-number", "7.0.0")
    assert "\n" not in str(err.value)


def test_zip_holds_the_site_and_refuses_to_zip_into_itself(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "pyapp").mkdir(parents=True)
    (site / "index.html").write_text("<!doctype html>")
    (site / "pyapp" / "app.js").write_text("export {};")
    dest = zip_site(site, tmp_path / "out" / "site.zip")
    assert sorted(zipfile.ZipFile(dest).namelist()) == ["index.html", "pyapp/app.js"]
    assert not list((tmp_path / "out").glob("*.tmp"))
    with pytest.raises(BuildError, match="inside the site folder"):
        zip_site(site, site / "again.zip")
    with pytest.raises(BuildError, match=r"no index\.html"):
        zip_site(tmp_path / "out", tmp_path / "x.zip")
