"""The shell's Python on the page's interpreter: MicroPython 1.26.0-preview-293 (the npm build PyScript 0.6.66
loads), run under Node.js with a stand-in ``pyscript`` module (``js`` and ``jsffi``) and the real
``web/pyapp/bridge.js``.

- every shell module compiles and imports on MicroPython;
- the pure helpers (``pyapp.shell.view``) give the same results there as in CPython, on shared vectors;
- ``dom.wait`` turns a rejected promise into ``JsError`` even after ``import asyncio`` (PyScript imports it, and
  then MicroPython never delivers a rejection to an awaiting coroutine: the reason for the bridge), ``dom.sleep``
  waits on a JavaScript timer, and ``dom.listen`` sends a handler's exception to the error callback;
- two handlers awaiting at once each get their own answer (MicroPython's ``asyncio`` wakes awaiters of JavaScript
  promises through one shared slot: the reason ``dom.wait`` yields the promise instead).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pyapp.shell import view

ROOT = Path(__file__).resolve().parents[1]
MICROPYTHON = ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript" / "micropython.mjs"
SHELL = ("__init__.py", "shell/__init__.py", "shell/view.py", "shell/dom.py", "shell/inputs.py", "shell/app.py",
         "shell/results.py")

ROWS = [{"label": 1, "area": 30, "centroid_y": 2.5, "mean_intensity": 10.26},
        {"label": 2, "area": 120, "centroid_y": 0.125, "mean_intensity": None},
        {"label": 3, "area": 30, "centroid_y": 7.0, "mean_intensity": 3.0}]
CARD = {"name": "UNet", "description": "nuclei", "authors": ["A. B", "C <D>"], "license": "MIT",
        "cite": [{"text": "Ronneberger 2015", "doi": "10.1007/978"}, {"text": "DSB", "url": "javascript:x"}],
        "pixel_size": [{"axis": "y", "scale": 0.5, "unit": "micrometer"}, {"axis": "x", "scale": 0.5}],
        "inputs": [{"id": "raw", "axes": [{"id": "y", "type": "space", "size": 512}]}], "outputs": [],
        "training_data": "ilastik/covid_if_training_data/1", "documentation": "README.md", "tags": ["nuclei"]}

# (function name, positional arguments) -> compared between CPython and MicroPython
VECTORS = [
    ("model_kind", [{"id": "smooth2d"}]), ("model_kind", [{"kind": "classifier"}]), ("model_kind", [{"kind": "x"}]),
    ("error_line", ["Traceback (most recent call last):\n  File x\nValueError: bad\n"]),
    ("error_line", ["Error: no bundled model 'x'"]), ("error_line", ["x" * 1000]), ("error_line", [""]),
    ("progress_text", [3, 8]), ("progress_text", [1, 2, "y"]), ("progress_text", [1.0, 2.0, ""]),
    ("backend_label", ["onnxruntime-web (webgpu)"]), ("backend_label", ["onnxruntime"]),
    ("escape", ["<b title=\"a\">'&'</b>"]),
    ("top5_html", [[{"label": "tabby, tabby cat", "p": 0.5}, {"label": "<b>", "p": 1.5}, {"label": "x", "p": -1}]]),
    ("axes_text", [{"axes": [{"id": "batch", "type": "batch", "size": None}, {"id": "channel", "type": "channel",
                                                                             "size": 1},
                             {"id": "y", "type": "space", "size": {"min": 16, "step": 8}}]}]),
    ("channel_names", [{"axes": [{"id": "c", "type": "channel", "size": 2}]}]),
    ("channel_names", [{"axes": [{"id": "c", "type": "channel", "size": 2, "channel_names": ["bg", "fg"]}]}]),
    ("channel_names", [{"axes": [{"id": "y", "type": "space", "size": 4}]}]),
    ("default_channel", [["foreground", "border_distance"]]), ("default_channel", [["background", "nucleus"]]),
    ("default_channel", [["intensity"]]), ("default_channel", [[]]),
    ("columns", [{"eccentricity": 0.5, "bbox_x1": 4, "bbox_y0": 1, "centroid_x": 2.0, "label": 1, "zz": 0,
                  "bbox_x0": 3, "area": 9, "centroid_y": 1.0, "bbox_y1": 5, "mean_intensity": 2.0}]),
    ("count_text", [0]), ("count_text", [1]), ("count_text", [117]),
    ("sort_rows", [ROWS, "area", True]), ("sort_rows", [ROWS, "mean_intensity"]),
    ("objects_html", [ROWS, "area", False]), ("objects_html", [ROWS, "centroid_y", True]), ("objects_html", [[]]),
    ("metrics_html", [{"f1": 0.78512, "tp": 92, "fp": 13.0, "psnr": None, "seg": 1.0, "unknown": 3}]),
    ("card_html", [CARD, "https://host/models/unet/rdf.yaml"]), ("card_html", [{"name": "x <b>"}, "blob:x"]),
    ("user_message", ["InvalidStateError: The source image could not be decoded.", "image"]),
    ("user_message", ["NotAllowedError: Permission denied", "camera"]),
    ("user_message", ["/tmp/pyapp-inputs/cells.tif: not a TIFF file", "image"]),
    ("user_message", ["tensor 'raw': the image axis 'z' (size 5) has no counterpart in the model's axes ('b', 'c', "
                      "'y', 'x'); pass --axes to say what the image axes are", "run"]),
    ("user_message", ["blob:http://127.0.0.1:8000/1f2e#my%20cells.tif: download failed: HTTP 404", "model"]),
    ("user_message", ["", ""]), ("user_message", ["tensor 'raw': axis 'channel' needs 1 channels, the image has 2"]),
]

PYSCRIPT_STANDIN = {
    "pyscript/__init__.py": "import js\ndocument = js.document\nwindow = js\n",
    "pyscript/ffi.py": "from jsffi import create_proxy, to_js\n",
}

CHECKS = r"""
import asyncio, json, sys  # asyncio first, as PyScript does
from pyapp.shell import view, dom, inputs, results, app
out = {"implementation": sys.implementation.name}
out["view"] = [getattr(view, name)(*args) for name, args in json.loads(VECTORS)]
out["resolved"] = await dom.wait(js_later(True))
try:
    await dom.wait(js_later(False))
    out["rejected"] = None
except dom.JsError as err:
    out["rejected"] = str(err)
t0 = js_now()
await dom.sleep(30)
out["slept_ms"] = js_now() - t0
errors = []
def sync_handler(evt):
    raise ValueError("sync " + evt.kind)
async def async_handler(evt):
    await dom.wait(js_later(False))
dom.listen("a", "click", sync_handler, errors.append)
dom.listen("b", "click", async_handler, errors.append)
answers = {}
def answer_to(name, ms):
    async def handler(evt):
        answers[name] = await dom.wait(js_after(name, ms))  # each handler its own answer
        await dom.sleep(ms)
        answers[name + " slept"] = await dom.wait(js_after(name + " again", ms))
    return handler
dom.listen("c", "click", answer_to("c", 60), errors.append)
dom.listen("d", "click", answer_to("d", 20), errors.append)
out["shell_class"] = app.Shell.__name__ + " < " + inputs.Inputs.__name__
out["results_class"] = results.Results.__name__
"""
# after the page's JavaScript fired both events (as a browser does, outside any Python await)
REPORT = r"""
out["handler_errors"] = [type(e).__name__ + ": " + str(e) for e in errors]
out["concurrent_answers"] = answers
print("RESULT " + json.dumps(out))
"""

NODE = r"""
import { pathToFileURL } from "node:url";
import { readFileSync } from "node:fs";
// paths come in the environment, not argv: Emscripten copies argv into the wasm heap, and the checks should not
// depend on how long the checkout's path is
const { MPY_MODULE: micropython, MPY_BRIDGE: bridge, MPY_FILES: filesJson } = process.env;
const { MPY_CODE: code, MPY_REPORT: report } = process.env;
const { loadMicroPython } = await import(pathToFileURL(micropython).href);
const listeners = {};
const element = (id) => ({ addEventListener: (ev, fn) => { listeners[`${id}/${ev}`] = fn; } });
globalThis.document = { getElementById: element };
const bridgeUrl = "data:text/javascript," + encodeURIComponent(readFileSync(bridge, "utf8"));
globalThis.pyapp = { bridge: await import(bridgeUrl) };
const fail = () => new Error("it failed");
globalThis.js_later = (ok) => new Promise((res, rej) => setTimeout(() => ok ? res(42) : rej(fail()), 5));
globalThis.js_after = (value, ms) => new Promise((res) => setTimeout(() => res(value), ms));
globalThis.js_now = () => performance.now();
const mp = await loadMicroPython({ stdout: (line) => console.log(line), linebuffer: true });
for (const [path, text] of Object.entries(JSON.parse(readFileSync(filesJson, "utf8")))) {
  const parts = path.split("/");
  for (let i = 1; i < parts.length; i++) {
    try { mp.FS.mkdir(parts.slice(0, i).join("/")); } catch (e) { /* exists */ }
  }
  mp.FS.writeFile(path, text);
}
mp.runPython("from js import js_later, js_after, js_now");
await mp.runPythonAsync(readFileSync(code, "utf8"));
for (const id of ["a", "b"]) await listeners[`${id}/click`]({ kind: "click" });
// two handlers awaiting the page at once (a click during a run): both started before either is answered; a lost
// answer leaves its handler waiting forever, so give up after 3 s and let the report show what arrived
const both = Promise.all(["c", "d"].map((id) => listeners[`${id}/click`]({ kind: "click" })));
let guard;
await Promise.race([both, new Promise((res) => { guard = setTimeout(res, 3000); })]);
clearTimeout(guard);
await mp.runPythonAsync(readFileSync(report, "utf8"));
"""


@pytest.fixture(scope="module")
def micropython_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    node = shutil.which("node")
    if node is None or not MICROPYTHON.is_file():
        pytest.fail(f"node and {MICROPYTHON.relative_to(ROOT)} are needed (npm ci)", pytrace=False)
    tmp = tmp_path_factory.mktemp("mpy")
    files = {f"pyapp/{name}": (ROOT / "pyapp" / name).read_text() for name in SHELL} | PYSCRIPT_STANDIN
    (tmp / "files.json").write_text(json.dumps(files))
    (tmp / "checks.py").write_text(f"VECTORS = {json.dumps(json.dumps(VECTORS))}\n{CHECKS}")
    (tmp / "report.py").write_text(REPORT)
    paths = {"MPY_MODULE": MICROPYTHON, "MPY_BRIDGE": ROOT / "web/pyapp/bridge.js", "MPY_FILES": tmp / "files.json",
             "MPY_CODE": tmp / "checks.py", "MPY_REPORT": tmp / "report.py"}
    env = {**os.environ, **{k: str(v) for k, v in paths.items()}}
    proc = subprocess.run([node, "--input-type=module", "-e", NODE], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, (proc.stdout + proc.stderr)[-2000:]
    return json.loads(lines[-1].removeprefix("RESULT "))


def test_shell_modules_import_on_micropython(micropython_run: dict) -> None:
    assert micropython_run["implementation"] == "micropython"
    assert micropython_run["shell_class"] == "Shell < Inputs"
    assert micropython_run["results_class"] == "Results"


def test_view_helpers_agree_between_cpython_and_micropython(micropython_run: dict) -> None:
    expected = [getattr(view, name)(*args) for name, args in VECTORS]
    assert micropython_run["view"] == json.loads(json.dumps(expected))


def test_wait_raises_for_rejections_after_asyncio_import(micropython_run: dict) -> None:
    assert micropython_run["resolved"] == 42
    assert micropython_run["rejected"] == "it failed"


def test_sleep_waits_on_a_javascript_timer(micropython_run: dict) -> None:
    assert micropython_run["slept_ms"] >= 25


def test_listen_reports_handler_errors(micropython_run: dict) -> None:
    assert micropython_run["handler_errors"] == ["ValueError: sync click", "JsError: it failed"]


def test_concurrent_handlers_each_get_their_own_answer(micropython_run: dict) -> None:
    """Two event handlers awaiting the page at once (e.g. opening a file while a run awaits the worker): each
    gets its own answer, in the order the answers come (d's are sooner), and neither waits forever."""
    assert micropython_run["concurrent_answers"] == {"c": "c", "d": "d", "c slept": "c again", "d slept": "d again"}


def test_view_helpers() -> None:
    """The pure helpers in CPython, on their meaning (the vectors above only compare the two interpreters)."""
    assert view.model_kind({"id": "smooth2d"}) == "example" and view.model_kind({"kind": "classifier"}) == "classifier"
    assert view.error_line("Traceback (most recent call last):\n  File x\nValueError: bad\n") == "ValueError: bad"
    assert view.error_line("Error: no bundled model 'x'") == "no bundled model 'x'"
    assert len(view.error_line("x" * 1000)) == 300
    assert view.progress_text(3, 8) == "tiles 3/8" and view.progress_text(1, 2, "y") == "tiles 1/2 · y"
    assert view.backend_label("onnxruntime-web (webgpu)") == "webgpu"
    html = view.top5_html([{"label": "tabby, tabby cat", "p": 0.5}, {"label": "<b>", "p": 1.5}])
    assert html.count("<li>") == 2 and "width:50.0%" in html and "width:100.0%" in html and "&lt;b&gt;" in html
    assert view.axes_text({"axes": [{"id": "y", "size": {"min": 16, "step": 8}}, {"id": "x", "size": 5}]}) == \
        "y:16+8n × x:5"
    assert view.channel_names({"axes": [{"type": "channel", "size": 2}]}) == ["channel 0", "channel 1"]
