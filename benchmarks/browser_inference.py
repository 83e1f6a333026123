"""Inference and memory figures of ``benchmarks/browser.py``: tiled U-Net browser vs CPython, kernels, peak memory.

Imported by ``browser.py`` (which owns the start-up figures, the servers and the test data); each function takes
an open Playwright page or browser and URLs, measures, and returns figures. Ratios come from runs interleaved in
one process, medians of ``repeat``.

- ``tiled``: ``pyapp.predict`` on the 2048² float32 image (25 blocks of the gold U-Net) timed inside the page,
  against ``ModelRunner.predict_sync`` on the same array in CPython (onnxruntime, its default threads).
- ``kernels``: one 512² block through ``session.run`` in a plain worker with ONE thread, renderer CPU time,
  against CPython onnxruntime with one thread, process CPU time: the per-core cost of the wasm kernels, which
  a busy machine hardly changes (CPU time, not wall time).
- ``peak_memory``: a fresh page predicts on a 6000² uint16 image; the renderer processes' resident memory is
  sampled every 20 ms; the figure is the peak above the level just before the call (model loaded, one small
  prediction done), against image + output + 2 tile sets.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psutil

BLOCK = (1, 1, 512, 512)

PREDICT_JS = """async ([model, image, options]) => {
  const t = performance.now();
  const r = await window.pyapp.predict(model, image, options);
  return [performance.now() - t, r.timings, r.outputs.map((o) => o.shape)];
}"""

# a plain module worker with its own onnxruntime-web (the site's build), one thread: start, then time on "go"
KERNEL_WORKER = r"""
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
    ort.env.wasm.numThreads = 1;
    const w = new Uint8Array(await (await fetch(c.weights)).arrayBuffer());
    s = await ort.InferenceSession.create(w, {executionProviders: ["wasm"], graphOptimizationLevel: "all"});
    const x = new Float32Array(512 * 512).map((_, i) => Math.sin(i));
    feeds = {[s.inputNames[0]]: new ort.Tensor("float32", x, [1, 1, 512, 512])};
    const r = await s.run(feeds); for (const k in r) r[k].dispose();
    self.postMessage({ready: true});
  } catch (err) { self.postMessage({error: String(err)}); }
};
"""
KERNEL_START_JS = """async ([code, cfg]) => {
  const url = URL.createObjectURL(new Blob([code], {type: "text/javascript"}));
  const w = window.__kernelWorker = new Worker(url, {type: "module"});
  return await new Promise((ok) => {
    w.onmessage = (e) => ok(e.data); w.onerror = (e) => ok({error: e.message}); w.postMessage(cfg); });
}"""
KERNEL_GO_JS = """async (n) => {
  const w = window.__kernelWorker;
  const r = await new Promise((ok) => { w.onmessage = (e) => ok(e.data); w.postMessage({go: true, n}); });
  w.terminate();
  return r;
}"""


def _chromium_processes(renderers_only: bool) -> list[psutil.Process]:
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if "chrom" in proc.name() and (not renderers_only or "--type=renderer" in " ".join(proc.cmdline())):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def _cpu_seconds(exclude: set[int] = frozenset()) -> float:
    """User + sys seconds of this process's Chromium processes, but those in ``exclude`` (other browsers)."""
    total = 0.0
    for proc in _chromium_processes(renderers_only=False):
        if proc.pid in exclude:
            continue
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            continue
    return total


def _renderer_rss() -> int:
    total = 0
    for proc in _chromium_processes(renderers_only=True):
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


def tiled(page, model_url: str, image_url: str, cpython: Callable[[], None], repeat: int) -> dict[str, float]:
    """Median seconds of the 2048² tiled prediction in the page and in CPython, runs interleaved."""
    page.evaluate(PREDICT_JS, [model_url, image_url, {"axes": "yx"}])  # model cached, image reader loaded
    browser, in_worker, native = [], [], []
    for _ in range(repeat):
        ms, timings, _ = page.evaluate(PREDICT_JS, [model_url, image_url, {"axes": "yx"}])
        browser.append(ms / 1000)
        in_worker.append(timings["backend"] / 1000)
        start = time.perf_counter()
        cpython()
        native.append(time.perf_counter() - start)
    return {"browser": statistics.median(browser), "backend": statistics.median(in_worker),
            "cpython": statistics.median(native),
            "ratio": statistics.median(b / c for b, c in zip(browser, native, strict=True))}


def kernels(playwright, flags: list[str], ort_url: str, weights_url: str, weights: Path, repeat: int,
            n: int = 3) -> dict[str, float]:
    """CPU milliseconds per 512² block, one thread: onnxruntime-web wasm vs CPython onnxruntime.

    A browser of its own, on a bare same-origin page (the app's page works in the background: service worker
    precaching), and only its processes are counted.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(weights), options, providers=["CPUExecutionProvider"])
    x = np.sin(np.arange(np.prod(BLOCK), dtype=np.float32)).reshape(BLOCK)
    feeds = {session.get_inputs()[0].name: x}
    session.run(None, feeds)
    others = {proc.pid for proc in _chromium_processes(renderers_only=False)}
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=flags)
    page = browser.new_page()
    page.goto(ort_url)  # any same-origin file: the server's headers make the page cross-origin isolated
    wasm, native = [], []
    for _ in range(repeat):
        ready = page.evaluate(KERNEL_START_JS, [KERNEL_WORKER, {"ortUrl": ort_url, "weights": weights_url}])
        if "error" in ready:
            raise RuntimeError(f"kernel worker: {ready['error']}")
        before = _cpu_seconds(others)
        page.evaluate(KERNEL_GO_JS, n)
        wasm.append((_cpu_seconds(others) - before) / n * 1000)
        before = time.process_time()
        for _ in range(n):
            session.run(None, feeds)
        native.append((time.process_time() - before) / n * 1000)
    browser.close()
    return {"wasm_ms": statistics.median(wasm), "native_ms": statistics.median(native),
            "ratio": statistics.median(w / c for w, c in zip(wasm, native, strict=True))}


class _Sampler:
    """Samples the renderers' resident memory every ``period`` seconds on a thread; keeps the peak."""

    def __init__(self, period: float = 0.02):
        self.period = period
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _renderer_rss())
            self._stop.wait(self.period)

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _renderer_rss())


def write_large(source: Path, dest: Path, side: int = 6000) -> tuple[tuple[int, int], int]:
    """A ``side``² uint16 .npy made by mirroring ``source`` (a 2D tif); its shape and byte size."""
    import tifffile

    img = tifffile.imread(source)
    big = np.pad(img, [(0, side - n) for n in img.shape], mode="symmetric").astype(np.uint16)
    np.save(dest, big)
    return big.shape, big.nbytes


def peak_memory(browser, site: str, model_url: str, small_url: str, image_url: str, shape: tuple[int, int],
                image_bytes: int) -> dict[str, float]:
    """Peak renderer memory (MiB) of one tiled prediction on a large image, in a fresh page, vs the goal."""
    page = browser.new_page()
    page.goto(site)
    page.evaluate("window.pyapp.ready")
    page.evaluate(PREDICT_JS, [model_url, small_url, {}])  # model loaded and run once
    base = _renderer_rss()
    with _Sampler() as sampler:
        ms, timings, out_shapes = page.evaluate(PREDICT_JS, [model_url, image_url, {"axes": "yx"}])
    page.close()
    mib = 2**20
    output = sum(int(np.prod(s)) * 4 for s in out_shapes)
    tile_set = (np.prod(BLOCK) * 4) * 2  # one input and one output block, float32
    goal = image_bytes + output + 2 * tile_set
    return {"peak": (sampler.peak - base) / mib, "base": base / mib, "goal": goal / mib, "image": image_bytes / mib,
            "output": output / mib, "seconds": ms / 1000, "blocks": timings.get("blocks", 0),
            "side": shape[0]}


def report_tiled(tiled: dict[str, float]) -> None:
    """Print the figures of :func:`tiled`."""
    print(f"2048² tiled (25 blocks): browser {tiled['browser']:.1f} s (session.run {tiled['backend']:.1f} s), "
          f"CPython {tiled['cpython']:.1f} s, ratio {tiled['ratio']:.2f}   (goal <= 3)", flush=True)


def report_kernels(kernels: dict[str, float]) -> None:
    """Print the figures of :func:`kernels`."""
    print(f"wasm vs native kernels, 1 thread, CPU time per 512² block: {kernels['wasm_ms']:.0f} ms vs "
          f"{kernels['native_ms']:.0f} ms, ratio {kernels['ratio']:.2f}   (the per-core floor of the ratio above)",
          flush=True)


def report_memory(memory: dict[str, float]) -> None:
    """Print the figures of :func:`peak_memory`."""
    met = "met" if memory["peak"] <= memory["goal"] else "NOT met"
    print(f"browser peak memory, {memory['side']}² uint16 tiled ({memory['blocks']} blocks, "
          f"{memory['seconds']:.0f} s): {memory['peak']:.0f} MiB above the page's {memory['base']:.0f} MiB; "
          f"goal <= image {memory['image']:.0f} + output {memory['output']:.0f} + 2 tile sets = "
          f"{memory['goal']:.0f} MiB ({met})", flush=True)
