"""The end of build step "pyodide": the workers' Python precompiled to CPython 3.12 bytecode.

``<out>/pyodide/pyc/`` gets the standard library zip and the wheels of the model worker's packages (numpy,
pyyaml, pillow, imageio, tifffile, pyapp and their dependencies) with ``.pyc`` files added (sources kept; see
:mod:`.pycompile`), and a ``pyodide-lock.json`` that names those wheels (``pyc/<file>``, new sha256) and is
otherwise the site's lock. Workers pass it to ``loadPyodide`` with the zip as ``stdLibURL``
(``web/pyapp/pyodide-options.js``), so Python skips compiling at every start.

The bytecode is made by Pyodide 0.27.7 itself, under Node.js (``node_modules/pyodide``), so its magic number
is the browser's. Which stdlib modules get bytecode: the ones that Pyodide's start plus the model worker's
imports (``WORKER_IMPORTS``) load from the zip. The step runs Node only when an input changed (the key below).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from ._common import (
    BuildError,
    Site,
    canonicalize_name,
    copy_file,
    remove_stale,
    say,
    sha256_bytes,
    sha256_file,
    write_json,
)
from .pyodide import PYODIDE_VERSION

PYC_DIR = "pyc"
# What the model worker loads (model-worker.js): these and their lock dependencies get bytecode, and the
# precache (step "app") holds them.
WORKER_PACKAGES = ("numpy", "pyyaml", "pillow", "imageio", "tifffile", "pyapp")
# What the model worker imports at start and on first use of each image format.
WORKER_IMPORTS = ("pyapp.runtime.worker", "tifffile", "imageio.v3", "PIL.Image", "PIL.PngImagePlugin",
                  "PIL.JpegImagePlugin")
KEY_FILE = ".inputs-sha256"
# Dependencies this lock leaves out of an entry: the model worker boots pyapp without numpy and loads numpy on the
# first request that needs it (model-worker.js); the plugin worker and the tests name numpy themselves.
DEFERRED_DEPENDS = {"pyapp": ("numpy",)}

# Run by Node.js: load Pyodide from argv[1] (a folder), mount the host's / at /host, run pycompile.run(job).
NODE_SCRIPT = """
import { pathToFileURL } from "node:url";
import { readFileSync } from "node:fs";
const [indexDir, lockFile, moduleFile, jobFile] = process.argv.slice(1);
const { loadPyodide } = await import(pathToFileURL(indexDir + "/pyodide.mjs").href);
const job = JSON.parse(readFileSync(jobFile, "utf8"));
const pyodide = await loadPyodide({ indexURL: indexDir + "/", lockFileURL: lockFile, packages: job.packages });
pyodide.FS.mkdirTree("/host");
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: "/" }, "/host");
pyodide.FS.writeFile("/tmp/pycompile.py", readFileSync(moduleFile, "utf8"));
pyodide.registerJsModule("pyapp_js", {});  // what model-worker.js registers (ortweb.py imports it)
const run = pyodide.runPython("import sys; sys.path.insert(0, '/tmp'); import pycompile; pycompile.run");
console.log(run(JSON.stringify(job)));
"""


def _closure(lock: dict, names: tuple[str, ...]) -> list[str]:
    packages, todo, seen = lock["packages"], [canonicalize_name(n) for n in names], set()
    while todo:
        key = todo.pop()
        if key not in seen:
            seen.add(key)
            todo.extend(canonicalize_name(d) for d in packages[key]["depends"])
    return sorted(seen)


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise BuildError("node not found on PATH: the pyc step compiles bytecode in Pyodide under Node.js 20+")
    return node


def build_pyc(site: Site) -> None:
    """Write ``<out>/pyodide/pyc/`` (compiled stdlib zip, compiled wheels, their lock) unless it is current."""
    dist = site.out / "pyodide"
    out = dist / PYC_DIR
    lock = json.loads((dist / "pyodide-lock.json").read_text())
    keys = _closure(lock, WORKER_PACKAGES)
    module = Path(__file__).with_name("pycompile.py")
    key = sha256_bytes(json.dumps({
        "pyodide": PYODIDE_VERSION, "stdlib": sha256_file(dist / "python_stdlib.zip"), "imports": WORKER_IMPORTS,
        "compiler": sha256_file(module), "deferred": DEFERRED_DEPENDS,
        "wheels": {k: lock["packages"][k]["sha256"] for k in keys},
    }, sort_keys=True).encode())
    if (out / KEY_FILE).is_file() and (out / KEY_FILE).read_text() == key and (out / "pyodide-lock.json").is_file():
        ours = json.loads((out / "pyodide-lock.json").read_text())["packages"]
        names = [e["file_name"] for e in ours.values() if e["file_name"].startswith(f"{PYC_DIR}/")]
        if all((dist / n).is_file() for n in names) and (out / "python_stdlib.zip").is_file():
            say("verified", f"{out} (bytecode for {len(names)} wheels and the stdlib, inputs unchanged)")
            return
    with tempfile.TemporaryDirectory(dir=site.cache) as tmp_name:
        tmp = Path(tmp_name)
        job = {"packages": keys, "imports": list(WORKER_IMPORTS), "stdlib_in_fs": "/lib/python312.zip",
               "stdlib": [f"/host{dist / 'python_stdlib.zip'}", f"/host{tmp / 'python_stdlib.zip'}"],
               "wheels": [[f"/host{dist / lock['packages'][k]['file_name']}",
                           f"/host{tmp / lock['packages'][k]['file_name']}"] for k in keys]}
        (tmp / "job.json").write_text(json.dumps(job))
        say("running", f"node: Pyodide {PYODIDE_VERSION} compiles the stdlib and {len(keys)} wheels")
        proc = subprocess.run([_node(), "--input-type=module", "-e", NODE_SCRIPT, str(dist),
                               str(dist / "pyodide-lock.json"), str(module), str(tmp / "job.json")],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
            raise BuildError(f"compiling bytecode in Pyodide failed: {lines[-1] if lines else proc.returncode}")
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        say("compiled", f"{report['stdlib']} stdlib modules, "
            + ", ".join(f"{Path(d).name} ({n})" for d, n in report["wheels"].items()))
        packages = dict(lock["packages"])
        for k in keys:
            name = packages[k]["file_name"]
            copy_file(tmp / name, out / name)
            packages[k] = {**packages[k], "file_name": f"{PYC_DIR}/{name}", "sha256": sha256_file(out / name),
                           "depends": [d for d in packages[k]["depends"] if d not in DEFERRED_DEPENDS.get(k, ())]}
        copy_file(tmp / "python_stdlib.zip", out / "python_stdlib.zip")
    write_json(out / "pyodide-lock.json", {"info": lock["info"], "packages": packages})
    remove_stale(out, {lock["packages"][k]["file_name"] for k in keys} | {"python_stdlib.zip", "pyodide-lock.json",
                                                                         KEY_FILE})
    (out / KEY_FILE).write_text(key)
