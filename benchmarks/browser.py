"""Browser figures in headless Chromium: start (cold, warm, Pyodides per page), bridge overhead, tiled 2048².

Run: ``.venv/bin/python benchmarks/browser.py [--repeat 3]`` after ``python build.py``. Goals (issue 13): cold
start <= 4 s, warm start <= 1.5 s, one Pyodide per page (the start figures and their profile come from
``startup.py``); pyapp.predict on a 512² U-Net input <= 1.10x a raw ``session.run`` on the same tensor in the
same page (tiling + bridge overhead <= 10 %). Inference and memory (``browser_inference.py``, printed as measured):
2048² tiled browser/CPython <= 3x, wasm vs native kernel CPU time, browser peak memory for a 6000² image.
Plugin arrays (``plugin_arrays.py``) and, last, the CPython figures of issue 13 (``predict_vs_bioimageio.py``:
peak RSS and wall vs bioimageio.core, and the kernel floor), so that one command prints every figure.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import browser_inference as inference  # benchmarks/ is on sys.path when run as a script
import numpy as np
import plugin_arrays  # benchmarks/plugin_arrays.py: 64 MiB through two plugins vs structuredClone
import startup  # benchmarks/startup.py (the script's folder is on sys.path): the start figures

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT.parent / "shared/corpus/bioimageio-examples/models/unet2d_nuclei_broad"
NUCLEI = ROOT.parent / "shared/data/nuclei-dsb2018/img2d.tif"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]

# the same normalised tensor through a raw session in the page, and through pyapp.predict (which normalises)
RAW_RUN_JS = """async ([weightsUrl, n]) => {
  const ort = await import(new URL("ort/ort.webgpu.min.mjs", location.href).href);
  ort.env.wasm.wasmPaths = new URL("ort/", location.href).href;
  ort.env.wasm.numThreads = self.crossOriginIsolated ? navigator.hardwareConcurrency || 1 : 1;
  const session = await ort.InferenceSession.create(weightsUrl, {executionProviders: ["wasm"],
                                                                  graphOptimizationLevel: "all"});
  const x = new Float32Array(512 * 512).map((_, i) => Math.sin(i));
  const feeds = {[session.inputNames[0]]: new ort.Tensor("float32", x, [1, 1, 512, 512])};
  await session.run(feeds);
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now(); await session.run(feeds); times.push(performance.now() - t);
  }
  return times;
}"""
PREDICT_JS = """async ([model, image, n, options]) => {
  await window.pyapp.predict(model, image, options);
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await window.pyapp.predict(model, image, options);
    times.push([performance.now() - t, r.timings.backend]);
  }
  return times;
}"""


def _serve(directory: Path, cors: bool) -> tuple[http.server.ThreadingHTTPServer, str]:
    if not cors:
        from pyapp.serve import make_server

        server = make_server(directory, 0, "127.0.0.1")
    else:
        class Handler(http.server.SimpleHTTPRequestHandler):
            def end_headers(self) -> None:
                self.send_header("Access-Control-Allow-Origin", "*")
                super().end_headers()

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def _data(tmp: Path) -> None:
    import tifffile

    shutil.copytree(GOLD, tmp / "gold")
    img = tifffile.imread(NUCLEI)
    big = np.pad(img, ((0, 2048 - 512),) * 2, mode="symmetric").astype(np.float32)
    np.save(tmp / "big.npy", big)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=["memory"], help="measure only this figure (the 6000² peak memory)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from pyapp.runtime import ModelRunner
    from pyapp.spec import load

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        _data(tmp)
        site_server, site = _serve(ROOT / "static", cors=False)
        data_server, data = _serve(tmp, cors=True)
        model = data + "gold/bioimageio.yaml"
        if args.only == "memory":
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
                shape, nbytes = inference.write_large(NUCLEI, tmp / "large.npy")
                inference.report_memory(inference.peak_memory(browser, site, model, data + "gold/test_input.npy",
                                                              data + "large.npy", shape, nbytes))
                browser.close()
            site_server.shutdown()
            data_server.shutdown()
            return 0
        with sync_playwright() as p:
            start = startup.measure(p, [site], args.repeat)[0]
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page()
            page.goto(site)
            page.evaluate("window.pyapp.ready")
            raw = statistics.median(page.evaluate(RAW_RUN_JS, [data + "gold/weights.onnx", args.repeat]))
            runs = page.evaluate(PREDICT_JS, [model, data + "gold/test_input.npy", args.repeat, {}])
            ours = statistics.median(r[0] for r in runs)
            in_worker = statistics.median(r[1] for r in runs)
            # inference and memory figures (benchmarks/browser_inference.py), printed as soon as measured
            runner = ModelRunner(load(GOLD))
            big = np.load(tmp / "big.npy")[None, None]
            inference.report_tiled(inference.tiled(page, model, data + "big.npy",
                                                   lambda: runner.predict_sync({"raw": big}), args.repeat))
            inference.report_kernels(inference.kernels(p, FLAGS, site + "ort/ort.webgpu.min.mjs",
                                                       data + "gold/weights.onnx", GOLD / "weights.onnx", args.repeat))
            shape, nbytes = inference.write_large(NUCLEI, tmp / "large.npy")
            inference.report_memory(inference.peak_memory(browser, site, model, data + "gold/test_input.npy",
                                                          data + "large.npy", shape, nbytes))
            browser.close()
            arrays = list(plugin_arrays.measure(p, site, 64, args.repeat))
        site_server.shutdown()
        data_server.shutdown()
    print("\n".join(start.report()))
    print(f"raw session.run 512² (page) {raw:6.0f} ms")
    print(f"session.run inside predict {in_worker:6.0f} ms   (the same call, in the model worker)")
    print(f"pyapp.predict 512²         {ours:7.0f} ms   tiling + bridge overhead {ours / in_worker - 1:+.1%} "
          f"(goal <= +10 %); vs the page's raw run {ours / raw - 1:+.1%}")
    print("\n".join(plugin_arrays.report(arrays, 64, "plugin arrays")))
    print("CPython predict vs bioimageio.core (benchmarks/predict_vs_bioimageio.py):", flush=True)
    cpython = subprocess.run([sys.executable, str(Path(__file__).with_name("predict_vs_bioimageio.py")),
                              "--repeat", str(args.repeat)], capture_output=True, text=True, check=False)
    print(cpython.stdout + (cpython.stderr if cpython.returncode else ""), end="")
    return cpython.returncode


if __name__ == "__main__":
    sys.exit(main())
