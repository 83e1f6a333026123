"""Build pieces of the engine panel: the pinned hypha-rpc browser client, its place in the offline precache, and
the bundled ``nuclei-dsb`` model that is skipped with one line when torch is missing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pyapp.sitebuild import HYPHA_RPC_FILES, HYPHA_RPC_VERSION, sha256_file

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "static"


@pytest.fixture(scope="module")
def built() -> Path:
    if not (STATIC / "precache.js").is_file():
        pytest.fail(f"{STATIC}/precache.js is missing: run `python build.py` first", pytrace=False)
    return STATIC


def test_hypha_client_is_the_pinned_npm_file(built: Path) -> None:
    """static/hypha/ holds exactly the pinned files, byte for byte the npm package's, and they import nothing."""
    npm = ROOT / "node_modules" / "hypha-rpc"
    assert json.loads((npm / "package.json").read_text())["version"] == HYPHA_RPC_VERSION
    assert sorted(p.name for p in (built / "hypha").iterdir()) == sorted(HYPHA_RPC_FILES)
    for name, digest in HYPHA_RPC_FILES.items():
        assert sha256_file(built / "hypha" / name) == digest == sha256_file(npm / "dist" / name)
        text = (built / "hypha" / name).read_text()
        static_imports = re.findall(r"""\bimport\s*(?:[\w*{][^;()]*?\bfrom\s*)?["'][^"']+["']""", text)
        assert static_imports == [], "the client must be one self-contained module"


def test_engine_modules_are_precached(built: Path) -> None:
    """A second visit offline still opens the Train panel (it cannot train without the engine, of course)."""
    body = (built / "precache.js").read_text()
    files = set(json.loads(body[body.index("{"): body.rindex("}") + 1])["files"])
    wanted = {f"hypha/{n}" for n in HYPHA_RPC_FILES} | {"engine.css"} | {
        f"pyapp/{p.name}" for p in (ROOT / "web" / "pyapp").glob("engine*.js")}
    assert wanted <= files, sorted(wanted - files)


def test_engine_panel_hook_in_index_html() -> None:
    """index.html only loads the module, its style and a header button; the panel builds itself."""
    html = (ROOT / "web" / "index.html").read_text()
    assert '<script type="module" src="pyapp/engine.js"></script>' in html
    assert '<link rel="stylesheet" href="engine.css">' in html
    assert 'id="engine-btn"' in html


def test_nuclei_model_skipped_with_one_line_without_torch(tmp_path: Path) -> None:
    """Without torch the models step says which extra to install and bundles the rest."""
    script = """
import sys
sys.modules["torch"] = None  # as if torch were not installed: importlib.util.find_spec gives None
from pathlib import Path
import pyapp.zoo as zoo
from pyapp.sitebuild import Site, build_models
zoo.RECIPES = {"nuclei-dsb": zoo.RECIPES["nuclei-dsb"]}
out = Path(sys.argv[1])
build_models(Site(root=out, out=out / "static", cache=out / "cache", wheels=out / "wheels"))
"""
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, check=False,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    skipped = [ln for ln in proc.stdout.splitlines() if ln.startswith("skipped")]
    assert skipped == ["skipped   models/nuclei-dsb (pip install 'pyapp[engine]' to build it)"]
    index = json.loads((tmp_path / "static" / "models" / "index.json").read_text())
    assert "nuclei-dsb" not in {e["id"] for e in index} and "smooth2d" in {e["id"] for e in index}
