"""The model worker's boot is numpy-free (issue 13, page start): Pyodide 0.27.7 under Node.js, started as
``web/pyapp/model-worker.js`` starts it (its ``BOOT_PACKAGES``, the options of ``pyodide-options.js``), describes a
model without installing or importing numpy; the runner then loads with ``RUNNER_PACKAGES``.

The browser side (the page's first predict after such a boot) is ``tests/browser/test_worker_boot_page.py``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyapp.cli import example_model

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "static" / "pyodide"
WORKER = ROOT / "web" / "pyapp" / "model-worker.js"

SCRIPT = """
import { pathToFileURL } from "node:url";
import { readFileSync } from "node:fs";
const [dist, optionsFile, zipFile, bootJson, runnerJson] = process.argv.slice(1);
const { loadPyodide } = await import(pathToFileURL(dist + "/pyodide.mjs").href);
const options = readFileSync(optionsFile, "utf8");
const { pyodideOptions } = await import("data:text/javascript," + encodeURIComponent(options));
const pyodide = await loadPyodide({ ...pyodideOptions(dist + "/"), packages: JSON.parse(bootJson) });
pyodide.registerJsModule("pyapp_js", {});  // as model-worker.js (ortweb.py imports it)
const probe = pyodide.runPython("import sys; lambda: 'numpy' in sys.modules");
const installed = () => Object.keys(pyodide.loadedPackages).sort();
const seen = { boot: installed() };
const info = await pyodide.pyimport("pyapp.runtime.worker_describe").describe_model(
  new Uint8Array(readFileSync(zipFile)));
seen.described = { name: info.name, inputs: info.inputs.length, numpy: probe() };
await pyodide.loadPackage(JSON.parse(runnerJson), { messageCallback: () => {} });
const worker = pyodide.pyimport("pyapp.runtime.worker");
seen.runner = { numpy: probe(), predict: typeof worker.predict, installed: installed() };
console.log(JSON.stringify(seen));
"""


def worker_list(name: str) -> list[str]:
    """A package list constant of model-worker.js, e.g. ``BOOT_PACKAGES``."""
    match = re.search(rf"const {name} = (\[[^\]]*\]);", WORKER.read_text())
    assert match, f"{WORKER.name} has no {name}"
    return json.loads(match.group(1))


def test_boot_packages_and_describe_leave_numpy_out(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed (Node.js 20+)", pytrace=False)
    if not (DIST / "pyc" / "pyodide-lock.json").is_file():
        pytest.fail(f"{DIST} is not built: run `python build.py`", pytrace=False)
    archive = shutil.make_archive(str(tmp_path / "model"), "zip", example_model().parent)
    proc = subprocess.run([node, "--input-type=module", "-e", SCRIPT, str(DIST), str(WORKER.with_name(
        "pyodide-options.js")), archive, json.dumps(worker_list("BOOT_PACKAGES")),
        json.dumps(worker_list("RUNNER_PACKAGES"))], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-1500:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    boot = {name.lower() for name in seen["boot"]}
    assert "numpy" not in boot and {"pyapp", "pyyaml"} <= boot, seen
    assert seen["described"] == {"name": "Smooth 2D example", "inputs": 1, "numpy": False}, seen
    runner = seen.pop("runner")
    assert {name.lower() for name in runner.pop("installed")} == {*boot, "numpy"}, runner
    assert runner == {"numpy": True, "predict": "function"}


def test_cpython_runtime_package_imports_numpy_only_on_first_use() -> None:
    """``pyapp.runtime`` exports its names lazily: the boot module's parent package costs no numpy."""
    probe = ("import sys, pyapp.runtime as r; before = 'numpy' in sys.modules; from pyapp.runtime import ModelRunner; "
             "print(before, 'numpy' in sys.modules, ModelRunner.__module__, sorted(r.__all__) == r.__all__)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.split()
    assert out == ["False", "True", "pyapp.runtime._runner", "True"]
