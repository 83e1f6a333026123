"""Plugin arrays (issue 13): a float32 array page → plugin A → plugin B → page vs one structuredClone of it.

Run: ``.venv/bin/python benchmarks/plugin_arrays.py [--mb 64] [--repeat 5]`` after ``python build.py``.
Headless Chromium on a blank page of the built site (served with COOP/COEP, as ``pyapp serve`` does); two plugins
are loaded through ``pyapp.plugins``. Each repeat makes a fresh array, then times, in the same page:

- **chain** (the goal's figure): the page calls ``A.forward("B", x, sink)``; A hands ``x`` to ``B.deliver(x,
  sink)``; B calls the page's ``sink(x)``: three hops, each ending in another heap (A's and B's Pyodide heaps,
  then the page). Timed from the call until ``sink`` holds the array;
- **round trip**: ``A.through("B", x)`` returns B's ``echo(x)`` through A (page → A → B → A → page, four hops);
- **structuredClone** of the same array (one copy).

Each hop's arrival time is read in the receiver (``performance.timeOrigin + now()`` on both sides), so the
report says where the time goes, next to what the parts cost alone in the same page: one crossing page → bare
sandboxed frame and back (Chromium runs sandboxed frames in another renderer process, so a transfer there is
copied), and the plugin worker's copy into and out of its Pyodide heap. Goal: median chain ≤ 2 × median
structuredClone. The arrays that arrive are checked bit-identical to what was sent.

``--reference DIR`` measures a second build (e.g. an older commit's ``static/``) in the same run, alternating with
ours, and prints both (on a shared machine only figures of one run compare). ``--browser-arg`` passes a flag to
Chromium, e.g. ``--disable-features=IsolateSandboxedIframes`` to see the figures with the sandboxed frames in
the page's process (a profile only: browsers isolate them by default).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
BLANK = "plugin-arrays-bench.html"
GOAL = 2.0
TIMEOUT_MS = 300_000

PLUGIN = '''# /// script
# dependencies = ["numpy"]
#
# [tool.pyapp]
# name = "{name}"
# ///
import js
import numpy as np
from js import Uint8Array, performance
from imjoy import api


def now():
    return performance.timeOrigin + performance.now()


class Plugin:
    def heap_copies(self, nbytes):
        """ms of the transport's copies (pyapp.plugins.transport): into the heap, out of it into a new buffer and
        into a spare (a buffer of that size that arrived just before)."""
        outside = Uint8Array.new(nbytes)
        outside.fill(1)
        t0 = performance.now()
        inside = np.empty(nbytes, np.uint8)
        outside.assign_to(inside)
        t1 = performance.now()
        out = Uint8Array.new(nbytes)
        out.assign(memoryview(inside))
        t2 = performance.now()
        Uint8Array.new(outside.buffer).assign(memoryview(inside))
        t3 = performance.now()
        return [t1 - t0, t2 - t1, t3 - t2, bool(js.crossOriginIsolated)]

    async def forward(self, other, x, sink):
        arrived = now()
        peer = await api.get_plugin(other)
        return [arrived, *(await peer.deliver(x, sink))]

    async def deliver(self, x, sink):
        arrived = now()
        await sink(x)
        return [arrived]

    def echo(self, x):
        return x

    async def through(self, other, x):
        peer = await api.get_plugin(other)
        return await peer.echo(x)


api.export(Plugin())
'''

IMPORT_JS = """async (sources) => {
  await import("./pyapp/plugins.js");
  await Promise.all(sources.map(([s, f]) => window.pyapp.plugins.load(s, {filename: f})));
  return self.crossOriginIsolated;
}"""

# one repeat: chain, round trip and structuredClone of a fresh array of n float32; every array that arrives is
# compared with what was sent (the sent one may be detached by then: a copy is kept for the comparison)
RUN_JS = """async ([n, check]) => {
  const { NDArray } = await import("./pyapp/rpc-codec.js");
  const epoch = () => performance.timeOrigin + performance.now();
  const fresh = () => { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = Math.sin(i) * i; return a; };
  const same = (a, b) => {
    if (!check) return true;
    if (a.length !== b.length) return false;
    const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  };
  const expected = fresh();
  let got = null, gotAt = 0;
  const sink = (x) => { gotAt = epoch(); got = x; return null; };
  let data = fresh();
  const t0 = epoch();
  const sent = new NDArray(data, [n], "float32");
  const [atA, atB] = await window.pyapp.plugins.call("Arrays A", "forward", ["Arrays B", sent, sink]);
  const chain = gotAt - t0;
  const chainOk = got !== null && got.dtype === "float32" && same(got.data, expected);
  const detached = data.byteLength === 0;
  data = fresh();
  const r0 = epoch();
  const back = await window.pyapp.plugins.call("Arrays A", "through", ["Arrays B", new NDArray(data, [n], "float32")]);
  const round = epoch() - r0;
  const roundOk = same(back.data, expected);
  const c0 = epoch();
  const copy = structuredClone(expected);
  const clone = epoch() - c0;
  const copies = await window.pyapp.plugins.call("Arrays A", "heap_copies", [n * 4]);
  const [copyIn, copyOut, copyOutSpare, pluginIsolated] = copies;
  const [toFrame, fromFrame] = await window.crossing(n * 4);
  return { chain, round, clone, hops: [atA - t0, atB - atA, gotAt - atB], ok: chainOk && roundOk && copy.length === n,
           detached, copyIn, copyOut, copyOutSpare, pluginIsolated, toFrame, fromFrame };
}"""

# one crossing page → bare sandboxed frame → page of nbytes (transferred), each way timed in the receiver
CROSSING_JS = """async () => {
  const script = "const now = () => performance.timeOrigin + performance.now();" +
    "addEventListener('message', (e) => { const p = e.ports[0]; p.onmessage = ({ data }) => {" +
    "  const got = now(); const b = new ArrayBuffer(data.n); new Uint8Array(b).fill(2);" +
    "  p.postMessage({ got, sent: now(), b }, [b]); }; });";
  const frame = document.createElement("iframe");
  frame.setAttribute("sandbox", "allow-scripts");
  frame.hidden = true;
  frame.srcdoc = `<script>${script}</script>`;
  document.body.append(frame);
  await new Promise((resolve) => frame.addEventListener("load", resolve, { once: true }));
  const channel = new MessageChannel();
  frame.contentWindow.postMessage("port", "*", [channel.port2]);
  const port = channel.port1;
  const epoch = () => performance.timeOrigin + performance.now();
  window.crossing = (n) => new Promise((resolve) => {
    const b = new ArrayBuffer(n);
    new Uint8Array(b).fill(1);
    port.onmessage = ({ data }) => resolve([data.got - t0, epoch() - data.sent]);
    const t0 = epoch();
    port.postMessage({ n, b }, [b]);
  });
}"""


def _serve(directory: Path) -> tuple[object, str]:
    from pyapp.serve import make_server

    server = make_server(directory, 0, "127.0.0.1")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def measure(playwright: object, site: str, mb: int, repeat: int, extra: tuple[str, ...] = ()) -> Iterator[dict]:
    """Each repeat's figures (ms) of ``mb`` MiB of float32, after one warm-up repeat; see the module docstring."""
    from pyapp.serve import HEADERS

    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=[*FLAGS, *extra])
    try:
        page = browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        headers = {k: v for k, v in HEADERS.items() if k.startswith("Cross-Origin")}
        page.route(site + BLANK, lambda route: route.fulfill(status=200, content_type="text/html", headers=headers,
                                                             body="<!doctype html><title>bench</title><body></body>"))
        page.goto(site + BLANK)
        sources = [[PLUGIN.replace("{name}", name), f"{name[-1].lower()}.py"] for name in ("Arrays A", "Arrays B")]
        isolated = page.evaluate(IMPORT_JS, sources)
        page.evaluate(CROSSING_JS)
        n = mb * 1024 * 1024 // 4
        page.evaluate(RUN_JS, [n, True])  # warm-up: heaps grown, code paths compiled
        for i in range(repeat):
            run = page.evaluate(RUN_JS, [n, i == 0])
            run["isolated"] = isolated
            yield run
    finally:
        browser.close()


def report(runs: list[dict], mb: int, label: str) -> list[str]:
    """Lines with the medians, where the time goes and the ratio vs the goal."""
    med = {key: statistics.median(r[key] for r in runs)
           for key in ("chain", "round", "clone", "copyIn", "copyOut", "copyOutSpare", "toFrame", "fromFrame")}
    hops = [statistics.median(r["hops"][i] for r in runs) for i in range(3)]
    ratio = med["chain"] / med["clone"]
    floor = med["toFrame"] + med["fromFrame"] + 2 * (med["copyIn"] + med["copyOutSpare"])
    first = runs[0]
    return [
        f"{label}: {mb} MiB float32, {len(runs)} repeats (medians); page crossOriginIsolated: {first['isolated']}, "
        f"plugin worker: {first['pluginIsolated']}; arrays bit-identical: {all(r['ok'] for r in runs)}; page's "
        f"buffer detached after sending: {first['detached']}",
        f"  structuredClone (one copy)             {med['clone']:7.1f} ms",
        f"  page → A → B → page (chain)            {med['chain']:7.1f} ms   = {ratio:.2f}× structuredClone "
        f"(goal ≤ {GOAL:.0f}×: {'met' if ratio <= GOAL else 'NOT met'})",
        f"    hops: page→A {hops[0]:.1f} ms, A→B {hops[1]:.1f} ms, B→page {hops[2]:.1f} ms",
        f"  page → A → B → A → page (round trip)   {med['round']:7.1f} ms   = {med['round'] / med['clone']:.2f}× "
        "structuredClone",
        f"  parts alone: crossing page→sandbox frame {med['toFrame']:.1f} ms, frame→page {med['fromFrame']:.1f} ms "
        f"(= {(med['toFrame'] + med['fromFrame']) / med['clone']:.2f}× structuredClone); copy into a plugin's heap "
        f"{med['copyIn']:.1f} ms, out of it {med['copyOut']:.1f} ms (new buffer) / {med['copyOutSpare']:.1f} ms "
        "(spare)",
        f"  floor of the chain (2 crossings + 2 copies in + 2 out into spares) {floor:.1f} ms = "
        f"{floor / med['clone']:.2f}× structuredClone; the chain is {med['chain'] / floor:.2f}× its floor",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=64, help="array size in MiB (default 64)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reference", type=Path, help="another build's static/ to measure in the same run")
    parser.add_argument("--browser-arg", action="append", default=[], help="a Chromium flag (repeatable)")
    args = parser.parse_args()
    if not (ROOT / "static" / "pyapp" / "plugin-worker.js").is_file():
        print("static/ is not built: run `python build.py` first", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    builds = {"this build": ROOT / "static"}
    if args.reference:
        builds["reference"] = args.reference
    servers = {label: _serve(folder) for label, folder in builds.items()}
    runs: dict[str, list[dict]] = {label: [] for label in builds}
    try:
        with sync_playwright() as p:
            # alternate the builds repeat by repeat, so that both see the same load
            series = {label: measure(p, site, args.mb, args.repeat, tuple(args.browser_arg))
                      for label, (_, site) in servers.items()}
            for _ in range(args.repeat):
                for label, it in series.items():
                    runs[label].append(next(it))
            for it in series.values():
                it.close()
    finally:
        for server, _ in servers.values():
            server.shutdown()
    for label, got in runs.items():
        print("\n".join(report(got, args.mb, label)))
    print("machine load (uptime):", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    return 0 if all(r["ok"] for got in runs.values() for r in got) else 1


if __name__ == "__main__":
    sys.exit(main())
