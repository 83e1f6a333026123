"""Run the model worker's Python in Pyodide 0.27.7 under Node.js, booted as ``web/pyapp/model-worker.js`` boots it.

``run_in_worker_pyodide(body, packages, *args)`` runs the JavaScript module ``body`` after a prelude that loads
Pyodide from the built ``static/pyodide`` with the options of ``pyodide-options.js`` and ``packages``, and
registers an empty ``pyapp_js`` (ortweb.py imports it). ``body`` sees ``pyodide`` and ``args`` (strings) and
prints one JSON line last; that line comes back parsed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "static" / "pyodide"
OPTIONS = ROOT / "web" / "pyapp" / "pyodide-options.js"

PRELUDE = """
import { pathToFileURL } from "node:url";
import { readFileSync } from "node:fs";
const [dist, optionsFile, packagesJson, ...args] = process.argv.slice(1);
const { loadPyodide } = await import(pathToFileURL(dist + "/pyodide.mjs").href);
const options = readFileSync(optionsFile, "utf8");
const { pyodideOptions } = await import("data:text/javascript," + encodeURIComponent(options));
const pyodide = await loadPyodide({ ...pyodideOptions(dist + "/"), packages: JSON.parse(packagesJson) });
pyodide.registerJsModule("pyapp_js", {});  // as model-worker.js (ortweb.py imports it)
"""


def run_in_worker_pyodide(body: str, packages: list[str], *args: str) -> Any:
    """The last stdout line of ``body`` (after the prelude), parsed as JSON; fails the test on any error."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed (Node.js 20+)", pytrace=False)
    if not (DIST / "pyc" / "pyodide-lock.json").is_file():
        pytest.fail(f"{DIST} is not built: run `python build.py`", pytrace=False)
    proc = subprocess.run([node, "--input-type=module", "-e", PRELUDE + body, str(DIST), str(OPTIONS),
                           json.dumps(packages), *args], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-1500:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
