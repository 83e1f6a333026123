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

from pyodide_node import run_in_worker_pyodide

from pyapp.cli import example_model

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "web" / "pyapp" / "model-worker.js"

SCRIPT = """
const [zipFile, runnerJson] = args;
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
    archive = shutil.make_archive(str(tmp_path / "model"), "zip", example_model().parent)
    seen = run_in_worker_pyodide(SCRIPT, worker_list("BOOT_PACKAGES"), archive,
                                 json.dumps(worker_list("RUNNER_PACKAGES")))
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
