"""WebGPU vs wasm vs CPython on the 2048² tiled U-Net, for a machine with a real GPU (run by ``gpu.sh``).

Run: ``.venv/bin/python benchmarks/gpu.py [--repeat 3] [--chromium /usr/bin/chromium]`` after a build. One page,
the gold ``unet2d_nuclei_broad`` on the mirrored 2048² nuclei image (25 blocks of 512): ``pyapp.predict`` with
``ep: "webgpu"`` and with ``ep: "wasm"``, runs interleaved with CPython ``ModelRunner`` (onnxruntime, the
providers it finds: CUDA when installed, else CPU); medians. The WebGPU adapter is printed first; on a
software (fallback) adapter or none the script says so and exits 2 (those figures would mean nothing). The
WebGPU and wasm outputs are compared (max abs difference). Nothing here is needed by the project or its tests.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from browser import FLAGS, GOLD, ROOT, _data, _serve

GPU_FLAGS = [f for f in FLAGS if f != "--disable-gpu"] + [
    "--enable-unsafe-webgpu", "--ignore-gpu-blocklist", "--enable-features=Vulkan", "--use-angle=vulkan",
    "--use-vulkan=native", "--disable-vulkan-surface"]
ADAPTER_JS = """async () => {
  if (!navigator.gpu) return {error: "navigator.gpu is missing (WebGPU disabled in this browser)"};
  const a = await navigator.gpu.requestAdapter({powerPreference: "high-performance"});
  if (!a) return {error: "no WebGPU adapter"};
  const info = a.info || {};
  return {vendor: info.vendor, architecture: info.architecture, description: info.description,
          fallback: !!(a.isFallbackAdapter || info.isFallbackAdapter)};
}"""
PREDICT_JS = """async ([model, image, options]) => {
  const t = performance.now();
  const r = await window.pyapp.predict(model, image, options);
  const o = r.outputs[0];
  return [performance.now() - t, r.backend, r.timings.backend, Array.from(o.data.subarray(0, 1 << 20))];
}"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from pyapp.runtime import ModelRunner
    from pyapp.spec import load

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        _data(tmp)
        site_server, site = _serve(ROOT / "static", cors=False)
        data_server, data = _serve(tmp, cors=True)
        model, image = data + "gold/bioimageio.yaml", data + "big.npy"
        runner = ModelRunner(load(GOLD))
        big = np.load(tmp / "big.npy")[None, None]
        times: dict[str, list[float]] = {"webgpu": [], "wasm": [], "cpython": []}
        in_backend: dict[str, list[float]] = {"webgpu": [], "wasm": []}
        firsts: dict[str, np.ndarray] = {}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=GPU_FLAGS)
            page = browser.new_page()
            page.goto(site)
            page.evaluate("window.pyapp.ready")
            adapter = page.evaluate(ADAPTER_JS)
            print(f"WebGPU adapter: {adapter}")
            if "error" in adapter or adapter["fallback"]:
                print("no real GPU adapter here: WebGPU figures would measure a software renderer; stopping")
                return 2
            for ep in ("webgpu", "wasm"):  # warm-up: sessions created, shaders compiled
                page.evaluate(PREDICT_JS, [model, image, {"axes": "yx", "ep": ep}])
            for _ in range(args.repeat):
                for ep in ("webgpu", "wasm"):
                    ms, backend, backend_ms, first = page.evaluate(PREDICT_JS, [model, image, {"axes": "yx", "ep": ep}])
                    if ep not in backend:
                        raise SystemExit(f"asked for {ep}, ran on {backend}")
                    times[ep].append(ms / 1000)
                    in_backend[ep].append(backend_ms / 1000)
                    firsts[ep] = np.asarray(first, np.float32)
                start = time.perf_counter()
                runner.predict_sync({"raw": big})
                times["cpython"].append(time.perf_counter() - start)
            browser.close()
        site_server.shutdown()
        data_server.shutdown()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"2048² tiled U-Net, {args.repeat} runs each, medians (CPython: {runner.backend.name})")
    for ep in ("webgpu", "wasm"):
        print(f"  browser {ep:<7} {med[ep]:7.2f} s  (session.run {statistics.median(in_backend[ep]):.2f} s)  "
              f"{med[ep] / med['cpython']:5.2f}x CPython")
    print(f"  CPython        {med['cpython']:7.2f} s")
    print(f"  webgpu / wasm  {med['webgpu'] / med['wasm']:.2f}")
    diff = float(np.abs(firsts["webgpu"] - firsts["wasm"]).max())
    print(f"  max |webgpu - wasm| over the first 2**20 output values: {diff:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
