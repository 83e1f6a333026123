"""The pure-Python suites (spec, ops, tiling) run unchanged inside Pyodide 0.27.7 through pytest-pyodide.

Each host test below stages one top-level test module, the files it reads and our pytest configuration into
Pyodide's in-memory file system with the layout they have here (``/work/main/tests/...``, ``/work/shared/...``:
``tests/shared_paths.py`` resolves ``parents[2] / "shared"``), runs ``pytest.main`` there against the ``pyapp``
wheel of the dist dir, and fails when Pyodide's pytest does not exit 0.

Tests that cannot run in Pyodide skip there with a reason: ``pytest.importorskip`` for the bioimageio reference
packages, and :data:`PYODIDE_SKIPS` (one flag, keyed by fixture name) for tests that need host-only things.
Every skip reason must be one of :data:`ALLOWED_SKIPS`, so nothing starts skipping silently.

Run: ``pytest tests/browser/test_core_in_pyodide.py --rt node,chrome`` (``-rP`` prints Pyodide's pytest output).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_pyodide import run_in_pyodide

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"  # as tests/shared_paths.py
MODULES = (
    "test_ops.py", "test_tiling.py", "test_spec_corpus.py", "test_spec_roundtrip.py", "test_spec_properties.py",
    "test_spec_sources.py", "test_spec_limits.py", "test_analysis_labels.py", "test_analysis_metrics.py",
)
SUPPORT = ("conftest.py", "shared_paths.py")
# Packages a module needs on top of the decorator's (loaded only for that module: scipy is 20 MB).
EXTRA_PACKAGES = {"test_analysis_labels.py": ["scipy"], "test_analysis_metrics.py": ["scipy"]}
# The one flag: tests using these fixtures skip inside Pyodide, with this reason.
PYODIDE_SKIPS = {
    "served": "Pyodide: needs a local HTTP server on a thread; Emscripten has no sockets or threads",
}
ALLOWED_SKIPS = (
    r"bioimageio\.spec not installed \(dev extra\)",
    r"could not import 'bioimageio\.core\.block_meta'",
    r"scikit-image \(the CPython reference\) is not installed",
    *(re.escape(reason) for reason in PYODIDE_SKIPS.values()),
)
# A deliberately failing module, staged next to the real ones (not collected on the host: it lives only there).
SELF_CHECK = "pyodide_self_check.py"
SELF_CHECK_SOURCE = """
import pyapp.spec


def test_passes():
    assert pyapp.spec.load


def test_fails():
    assert 1 + 1 == 3, "expected failure inside Pyodide"
"""
SUMMARY = re.compile(r"^=+ (.*\d+ (passed|failed|skipped|error|errors|deselected).*) =+$")


# ------------------------------------------------------------------------------------------- in Pyodide


@run_in_pyodide(packages=["pytest", "numpy", "pyyaml", "pyapp", "hypothesis"])
async def run_pytest(selenium, base_url: str, files: list[str], args: list[str], skips: dict[str, str],
                     packages: list[str]) -> dict:
    """Load ``packages``, fetch ``files`` (paths relative to the served root, which is ``/work`` here), run
    ``pytest.main(args)`` in ``/work/main`` and return the exit code, the output and every outcome."""
    import asyncio
    import contextlib
    import io
    import os
    from pathlib import Path

    import pytest
    from pyodide.http import pyfetch

    root = Path("/work")

    async def fetch(rel: str) -> None:
        target = root / rel
        if target.exists():  # staged by an earlier call in this Pyodide instance
            return
        response = await pyfetch(f"{base_url}/{rel}")
        assert response.ok, f"{rel}: HTTP {response.status}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(await response.bytes())

    if packages:
        import pyodide_js
        from pyodide.ffi import to_js

        await pyodide_js.loadPackage(to_js(packages))
    await asyncio.gather(*(fetch(rel) for rel in files))

    class PyodidePlugin:
        """Skip tests needing host-only fixtures; record every outcome for the host."""

        def __init__(self) -> None:
            self.outcomes: list[tuple[str, str, str, str]] = []
            self.filterwarnings: list[str] = []

        def pytest_configure(self, config) -> None:
            self.filterwarnings = list(config.getini("filterwarnings"))

        @pytest.hookimpl(tryfirst=True)
        def pytest_collection_modifyitems(self, items) -> None:
            for item in items:
                for fixture, reason in skips.items():
                    if fixture in getattr(item, "fixturenames", ()):
                        item.add_marker(pytest.mark.skip(reason=reason))

        def pytest_runtest_logreport(self, report) -> None:
            if report.when == "call" or report.outcome != "passed":
                reason = ""
                if report.skipped and isinstance(report.longrepr, tuple):
                    reason = report.longrepr[2].removeprefix("Skipped: ")
                self.outcomes.append((report.nodeid, report.when, report.outcome, reason))

    plugin = PyodidePlugin()
    out = io.StringIO()
    os.chdir(root / "main")
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = pytest.main(args, plugins=[plugin])
    # which pyapp files ran (or were read): the host checks they are the sources it has
    import hashlib
    import sys

    import pyapp

    package = Path(pyapp.__file__).parent
    used = [Path(m.__file__) for m in list(sys.modules.values()) if getattr(m, "__file__", None)]
    used = [p for p in used if p.is_relative_to(package)] + [p for p in package.rglob("examples/**/*") if p.is_file()]
    digests = {p.relative_to(package.parent).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in used}
    return {"exit": int(code), "output": out.getvalue(), "outcomes": plugin.outcomes,
            "filterwarnings": plugin.filterwarnings, "pyapp_files": digests}


# ----------------------------------------------------------------------------------------------- host


def _stale_files(used: dict[str, str]) -> list[str]:
    """The pyapp files Pyodide used (``{path in the wheel: sha256}``) that differ from the sources here."""
    def digest(path: Path) -> str | None:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None

    return sorted(rel for rel, sha256 in used.items() if digest(ROOT / rel) != sha256)


@pytest.fixture(scope="module")
def staged(pyodide_dist: Path, serve_dir: Callable[[Path], str],
           tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str]]:
    """A served folder laid out as Pyodide's /work: main/{pyproject.toml,tests/*}, shared/corpus."""
    assert (SHARED / "corpus").is_dir(), f"the shared corpus is missing at {SHARED}"
    site = tmp_path_factory.mktemp("pyodide-site")
    (site / "main" / "tests").mkdir(parents=True)
    (site / "main" / "pyproject.toml").write_bytes((ROOT / "pyproject.toml").read_bytes())
    for name in SUPPORT + MODULES:
        (site / "main" / "tests" / name).write_bytes((ROOT / "tests" / name).read_bytes())
    (site / "main" / "tests" / SELF_CHECK).write_text(SELF_CHECK_SOURCE)
    (site / "shared").mkdir()
    (site / "shared" / "corpus").symlink_to(SHARED / "corpus", target_is_directory=True)
    files = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    files += sorted(p.relative_to(site).as_posix() for p in (site / "shared" / "corpus").rglob("*") if p.is_file())
    return serve_dir(site), sorted(set(files))


def _summary(output: str) -> str:
    lines = [m.group(1) for line in output.splitlines() if (m := SUMMARY.match(line.strip()))]
    return lines[-1] if lines else output.strip().splitlines()[-1] if output.strip() else "(no output)"


def _run(selenium, staged: tuple[str, list[str]], target: str) -> dict:
    base, files = staged
    args = [target, "-q", "-rs", "-p", "no:cacheprovider", "--capture=sys", "--rootdir=/work/main",
            "-c", "/work/main/pyproject.toml"]
    result = run_pytest(selenium, base, files, args, PYODIDE_SKIPS, EXTRA_PACKAGES.get(Path(target).name, []))
    result["summary"] = _summary(result["output"])
    print(f"[{selenium.browser}] {target}: {result['summary']}")
    print(result["output"])
    return result


def _check(result: dict) -> None:
    """The host's verdict on one Pyodide pytest run: the wheel ran our sources, ini options applied, exit 0,
    something passed, and every skip has an allowed reason."""
    assert result["pyapp_files"], "no pyapp module was imported inside Pyodide"
    stale = _stale_files(result["pyapp_files"])
    assert not stale, f"the dist dir's pyapp wheel is stale ({', '.join(stale)}): run `python build.py --only pyodide`"
    assert "error" in result["filterwarnings"], "pyproject.toml's pytest options were not applied in Pyodide"
    assert result["exit"] == 0, f"pytest in Pyodide exited {result['exit']}: {result['summary']}\n" + \
        result["output"][-6000:]
    assert any(o[2] == "passed" for o in result["outcomes"]), result["summary"]
    bad_skips = [o for o in result["outcomes"] if o[2] == "skipped"
                 and not any(re.match(allowed, o[3]) for allowed in ALLOWED_SKIPS)]
    assert not bad_skips, f"unexpected skips in Pyodide: {bad_skips}"


@pytest.mark.driver_timeout(300)
@pytest.mark.parametrize("module", MODULES)
def test_suite_passes_in_pyodide(selenium, staged: tuple[str, list[str]], module: str) -> None:
    """``pytest tests/<module>`` exits 0 inside Pyodide; skips only for the allowed reasons."""
    _check(_run(selenium, staged, f"tests/{module}"))


@pytest.mark.driver_timeout(60)
def test_failure_inside_pyodide_fails_the_host(selenium, staged: tuple[str, list[str]]) -> None:
    """A failing test in Pyodide's pytest run makes :func:`_check` fail on the host, with the failure shown."""
    result = _run(selenium, staged, f"tests/{SELF_CHECK}")
    assert result["exit"] == 1, result["output"]
    with pytest.raises(AssertionError, match=r"pytest in Pyodide exited 1: 1 failed, 1 passed(?s:.*)expected failure"):
        _check(result)
