"""onnxruntime-web levers for the wasm EP, one 512² U-Net block: CPU time per run, per variant, vs CPython.

Run: ``.venv/bin/python benchmarks/ortweb_levers.py [--rounds 3] [--runs 3]`` after a build (uses ``static/ort``
and, for the other builds, ``node_modules/onnxruntime-web/dist``). Each variant gets a fresh module worker with
its own onnxruntime-web (build, ``numThreads``, ``simd``) and session options; after one warm-up run it times
``--runs`` runs. The figure is the CPU time of the Chromium processes per run (user + sys, all threads), which
a busy machine changes far less than wall time; wall time is printed too. Variants are interleaved over
``--rounds`` rounds; medians. CPython onnxruntime (one thread, process CPU time) runs in each round for the
ratio. ``batch2`` runs a copy of the weights whose batch axis is made symbolic with a batch of 2, per block.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from browser import FLAGS, GOLD, ROOT
from browser_inference import KERNEL_GO_JS, KERNEL_START_JS, _cpu_seconds

from pyapp.serve import make_server

WORKER = r"""
let s, feeds;
self.onmessage = async (e) => {
  const c = e.data;
  try {
    if (c.go) {
      const times = [];
      for (let i = 0; i < c.n; i++) {
        const t = performance.now(); const r = await s.run(feeds); times.push(performance.now() - t);
        for (const k in r) r[k].dispose();
      }
      self.postMessage({times}); return;
    }
    const ort = await import(c.ortUrl);
    ort.env.wasm.wasmPaths = c.ortUrl.replace(/[^/]*$/, "");
    ort.env.wasm.numThreads = c.threads;
    if (c.simd) ort.env.wasm.simd = c.simd;
    const w = new Uint8Array(await (await fetch(c.weights)).arrayBuffer());
    s = await ort.InferenceSession.create(w, {executionProviders: ["wasm"], ...c.options});
    const shape = [c.batch, 1, 512, 512];
    const x = new Float32Array(c.batch * 512 * 512).map((_, i) => Math.sin(i));
    feeds = {[s.inputNames[0]]: new ort.Tensor("float32", x, shape)};
    const r = await s.run(feeds); for (const k in r) r[k].dispose();
    self.postMessage({ready: true});
  } catch (err) { self.postMessage({error: String(err)}); }
};
"""
ALL = {"graphOptimizationLevel": "all"}
VARIANTS = {
    "shipped (webgpu build), 1 thread": {},
    "shipped, 2 threads": {"threads": 2},
    "default build (JSEP)": {"ort": "dist/ort.min.mjs"},
    "wasm-only build": {"ort": "dist/ort.wasm.min.mjs"},
    "graph optimisation disabled": {"options": {"graphOptimizationLevel": "disabled"}},
    "graph optimisation basic": {"options": {"graphOptimizationLevel": "basic"}},
    "graph optimisation extended": {"options": {"graphOptimizationLevel": "extended"}},
    "enableMemPattern false": {"options": {**ALL, "enableMemPattern": False}},
    "enableCpuMemArena false": {"options": {**ALL, "enableCpuMemArena": False}},
    "simd relaxed": {"simd": "relaxed"},
    "batch 2 per run (per block)": {"weights": "batchN.onnx", "batch": 2},
    "free batch dim, no overrides": {"weights": "batchN.onnx"},
    "free batch dim, freeDimensionOverrides": {"weights": "batchN.onnx",
                                               "options": {**ALL, "freeDimensionOverrides": {"N": 1}}},
}


def _batch_free_copy(dest: Path) -> None:
    """The gold weights with the batch axis of the input and output named ``N`` instead of fixed to 1."""
    import onnx

    model = onnx.load(GOLD / "weights.onnx")
    for value in (*model.graph.input, *model.graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        dim.ClearField("dim_value")
        dim.dim_param = "N"
    onnx.save(model, dest)


def _cpython_ms(runs: int) -> float:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(GOLD / "weights.onnx"), options, providers=["CPUExecutionProvider"])
    x = np.sin(np.arange(512 * 512, dtype=np.float32)).reshape(1, 1, 512, 512)
    feeds = {session.get_inputs()[0].name: x}
    session.run(None, feeds)
    start = time.process_time()
    for _ in range(runs):
        session.run(None, feeds)
    return (time.process_time() - start) / runs * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", help="variant names separated by ';' (default: all)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    variants = {k: v for k, v in VARIANTS.items() if not args.only or k in args.only.split(";")}
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    wall: dict[str, list[float]] = {k: [] for k in variants}
    native: list[float] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        site_dir = Path(tmp_name)
        (site_dir / "ort").symlink_to(ROOT / "static" / "ort")
        (site_dir / "dist").symlink_to(ROOT / "node_modules" / "onnxruntime-web" / "dist")
        (site_dir / "weights.onnx").write_bytes((GOLD / "weights.onnx").read_bytes())
        _batch_free_copy(site_dir / "batchN.onnx")
        server = make_server(site_dir, 0, "127.0.0.1")
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page()
            page.goto(base + "ort/ort.webgpu.min.mjs")  # any same-origin file: cross-origin isolated page
            for _ in range(args.rounds):
                for name, v in variants.items():
                    batch = v.get("batch", 1)
                    cfg = {"ortUrl": base + v.get("ort", "ort/ort.webgpu.min.mjs"), "threads": v.get("threads", 1),
                           "simd": v.get("simd"), "weights": base + v.get("weights", "weights.onnx"),
                           "options": v.get("options", ALL), "batch": batch}
                    ready = page.evaluate(KERNEL_START_JS, [WORKER, cfg])
                    if "error" in ready:
                        print(f"{name}: {ready['error']}")
                        continue
                    before = _cpu_seconds(set())
                    times = page.evaluate(KERNEL_GO_JS, args.runs)["times"]
                    cpu[name].append((_cpu_seconds(set()) - before) / args.runs / batch * 1000)
                    wall[name].append(statistics.median(times) / batch)
                native.append(_cpython_ms(args.runs))
            browser.close()
        server.shutdown()
    ref = statistics.median(native)
    print(f"one 512² block of the gold U-Net; {args.rounds} rounds x {args.runs} runs; medians; per block")
    print(f"{'variant':<42} {'CPU ms':>8} {'wall ms':>8} {'CPU / CPython 1 thread':>23}")
    for name in variants:
        if cpu[name]:
            c = statistics.median(cpu[name])
            print(f"{name:<42} {c:8.0f} {statistics.median(wall[name]):8.0f} {c / ref:23.2f}")
    print(f"{'CPython onnxruntime, 1 thread':<42} {ref:8.0f}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (CPU time is robust to load, wall time is not)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
