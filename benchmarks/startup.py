"""Page start figures (issue 13): cold and warm start, Python interpreters per page, where the boot time goes.

Run alone: ``.venv/bin/python benchmarks/startup.py [--repeat 3]`` after ``python build.py``; ``browser.py``
prints the same figures with the inference ones. Each repeat launches a fresh headless Chromium (empty profile):

- **cold**: the first visit, every file from the local server (the service worker installs meanwhile);
- **warm**: a reload once the service worker holds the precache (``pyapp.offline.ready``); **warm, again**: a
  second reload (V8 has by then cached the compiled Pyodide wasm with the service worker's copy);
- times are milliseconds since navigation start, read in the page: ``worker`` when ``pyapp.ready`` resolves
  (the model worker's Python can take requests), ``app`` when the shell is ready (models listed, the first
  model described: the user can run it);
- **instances**: how many times a page and its workers fetch ``pyodide.asm.wasm`` (every ``loadPyodide`` call
  fetches and instantiates it once) and ``micropython.wasm``;
- **cpu**: CPU seconds of all Chromium processes from navigation to the page being ready (the shell's
  ``data-state``, once the default model's sample is shown; less sensitive to other load than the wall time);
- **first run**: right after the page is ready (the default model's sample shown), ``pyapp.predict`` of the
  bundled example model on its test input, in ms (what the worker still loads then, e.g. numpy, counts here),
  and **result**: navigation to that first result.

``--reference DIR`` measures a second build (e.g. an older commit's ``static/``) in the same run, alternating
with ours, and prints the ratios: on a shared machine only those are comparable.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
GOAL_WARM_MS, GOAL_COLD_MS, GOAL_PYODIDES = 1500, 4000, 1
TIMEOUT_MS = 180_000

# Milliseconds since navigation start when the worker and the app became ready, and the boot profile: the
# page's performance marks (pyapp:*) and the worker's boot marks (epoch ms, converted to the page's clock).
# Builds without marks (before issue 13) fall back to observing the promise and the shell's data-state here.
READY_JS = """async () => {
  const mark = (name) => { const m = performance.getEntriesByName(name); return m.length ? m[0].startTime : null; };
  const seen = {};
  const info = await window.pyapp.ready;
  seen.worker = mark("pyapp:worker-ready") ?? performance.now();
  if (document.body.dataset.state !== "ready") {
    await new Promise((resolve) => new MutationObserver((_, obs) => {
      if (document.body.dataset.state === "ready") { obs.disconnect(); resolve(); }
    }).observe(document.body, { attributes: true }));
  }
  seen.app = mark("pyapp:app-ready") ?? performance.now();
  const profile = {};
  for (const m of performance.getEntriesByType("mark")) if (m.name.startsWith("pyapp:")) profile[m.name] = m.startTime;
  for (const [name, epoch] of Object.entries((info && info.marks) || {})) {
    profile[`worker:${name}`] = epoch - performance.timeOrigin;
  }
  return { ...seen, profile };
}"""
# The first prediction as soon as the page is ready: the bundled example model (tiny) on its test input.
# Builds without that model (or without pyapp.predict) give NaN, printed as such.
FIRST_RUN_JS = """async () => {
  const t0 = performance.now();
  try { await window.pyapp.predict("smooth2d", "models/smooth2d/test_input.npy", {}); } catch (e) { return null; }
  return { run: performance.now() - t0, result: performance.now() };
}"""


@dataclass
class Visit:
    """One page load: ready times (ms since navigation), interpreter fetches, the boot profile."""

    worker: float
    app: float
    pyodides: int
    micropythons: int
    cpu: float
    run: float = 0.0
    result: float = 0.0
    profile: dict[str, float] = field(default_factory=dict)


@dataclass
class StartFigures:
    """Medians over the repeats of cold and warm visits."""

    cold: list[Visit]
    warm: list[Visit]
    again: list[Visit]

    @staticmethod
    def _median(visits: list[Visit], key: str) -> float:
        return statistics.median(getattr(v, key) for v in visits)

    def profile(self, visits: list[Visit]) -> dict[str, float]:
        names = sorted({n for v in visits for n in v.profile}, key=lambda n: statistics.median(
            v.profile[n] for v in visits if n in v.profile))
        return {n: statistics.median(v.profile[n] for v in visits if n in v.profile) for n in names}

    def kinds(self) -> list[tuple[str, list[Visit], float]]:
        return [("cold", self.cold, GOAL_COLD_MS), ("warm", self.warm, GOAL_WARM_MS),
                ("warm, again", self.again, GOAL_WARM_MS)]

    def report(self) -> list[str]:
        """The printed lines: figures with their goals, then the boot profile of each kind of visit."""
        lines = []
        for kind, visits, goal in self.kinds():
            worker, app = self._median(visits, "worker"), self._median(visits, "app")
            spread = f"{min(v.app for v in visits) / 1000:.2f}–{max(v.app for v in visits) / 1000:.2f}"
            lines.append(f"{kind + ' start:':<19} worker ready {worker / 1000:5.2f} s, app ready {app / 1000:5.2f} s "
                         f"(range {spread} s), cpu {self._median(visits, 'cpu'):4.1f} s"
                         f"   goal <= {goal / 1000:.1f} s {'met' if app <= goal else 'NOT met'}")
            lines.append(f"{'':<19} first run {self._median(visits, 'run') / 1000:5.2f} s, "
                         f"first result {self._median(visits, 'result') / 1000:5.2f} s since navigation")
        visits = self.cold + self.warm + self.again
        pyodides = max(v.pyodides for v in visits)
        lines.append(f"Pyodide instances per page {pyodides} (MicroPython {max(v.micropythons for v in visits)})"
                     f"   goal {GOAL_PYODIDES} {'met' if pyodides <= GOAL_PYODIDES else 'NOT met'}")
        for kind, visits, _ in self.kinds():
            profile = self.profile(visits)
            if profile:
                lines.append(f"{kind} boot profile (ms since navigation, medians): "
                             + ", ".join(f"{n.removeprefix('pyapp:')} {t:.0f}" for n, t in profile.items()))
        return lines

    def ratios(self, reference: StartFigures) -> list[str]:
        """Ours / the reference's, per kind of visit (app ready, cpu)."""
        lines = []
        for (kind, ours, _), (_, ref, _) in zip(self.kinds(), reference.kinds(), strict=True):
            app, ref_app = self._median(ours, "app"), self._median(ref, "app")
            cpu, ref_cpu = self._median(ours, "cpu"), self._median(ref, "cpu")
            result, ref_result = self._median(ours, "result"), self._median(ref, "result")
            lines.append(f"{kind} vs reference: app ready {app / 1000:.2f} s / {ref_app / 1000:.2f} s = "
                         f"{app / ref_app:.2f}, cpu {cpu:.1f} s / {ref_cpu:.1f} s = {cpu / ref_cpu:.2f}, first result "
                         f"{result / 1000:.2f} s / {ref_result / 1000:.2f} s = {result / ref_result:.2f}")
        return lines


def _cpu_seconds() -> float:
    """CPU time (user + system) of the Chromium processes below this one (Linux ``/proc``)."""
    stats = {}
    for entry in Path("/proc").iterdir():
        try:
            text = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        if text:
            name, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
            stats[int(entry.name)] = (name, int(rest[1]), int(rest[11]) + int(rest[12]))  # comm, ppid, ticks
    below, todo = set(), [os.getpid()]
    while todo:
        parent = todo.pop()
        children = [pid for pid, (_, ppid, _) in stats.items() if ppid == parent and pid not in below]
        below.update(children)
        todo.extend(children)
    ticks = sum(stats[pid][2] for pid in below if "chrom" in stats[pid][0].lower())
    return ticks / os.sysconf("SC_CLK_TCK")


def _visit(page, url: str | None) -> Visit:
    """Open ``url`` (None: reload) and wait until the app is ready."""
    fetched: list[str] = []
    on_request = lambda request: fetched.append(request.url)  # noqa: E731  (the page and its workers)
    page.on("request", on_request)
    cpu = _cpu_seconds()
    try:
        if url is None:
            page.reload()
        else:
            page.goto(url)
        seen = page.evaluate(READY_JS)
        cpu = _cpu_seconds() - cpu
        first = page.evaluate(FIRST_RUN_JS) or {"run": math.nan, "result": math.nan}
    finally:
        page.remove_listener("request", on_request)
    names = [url.split("?")[0].rsplit("/", 1)[-1] for url in fetched]
    return Visit(worker=seen["worker"], app=seen["app"], pyodides=names.count("pyodide.asm.wasm"),
                 micropythons=names.count("micropython.wasm"), cpu=cpu, run=first["run"], result=first["result"],
                 profile=seen["profile"])


def measure(playwright, sites: list[str], repeat: int) -> list[StartFigures]:
    """Cold, warm and second warm visits of each site (the app's URL), ``repeat`` fresh browsers per site,
    alternating between the sites."""
    visits: list[tuple[list[Visit], list[Visit], list[Visit]]] = [([], [], []) for _ in sites]
    for _ in range(repeat):
        for site, (cold, warm, again) in zip(sites, visits, strict=True):
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            cold.append(_visit(page, site))
            page.evaluate("window.pyapp.offline.ready")  # the service worker holds every precached file
            warm.append(_visit(page, None))
            again.append(_visit(page, None))
            browser.close()
    return [StartFigures(*v) for v in visits]


def serve_site(directory: Path) -> tuple[object, str]:
    """``directory`` served as ``pyapp serve`` does (COOP/COEP), on a free port of 127.0.0.1."""
    from pyapp.serve import make_server

    server = make_server(directory, 0, "127.0.0.1")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--site", type=Path, default=ROOT / "static", help="the built site (default: static/)")
    parser.add_argument("--reference", type=Path, default=None, metavar="DIR",
                        help="another built site to measure in the same run (e.g. an older commit's static/)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    served = [serve_site(folder) for folder in (args.site, args.reference) if folder is not None]
    try:
        with sync_playwright() as p:
            figures = measure(p, [url for _, url in served], args.repeat)
    finally:
        for server, _ in served:
            server.shutdown()
    print("\n".join(figures[0].report()))
    if len(figures) > 1:
        print(f"reference {args.reference}:")
        print("\n".join("  " + line for line in figures[1].report()))
        print("\n".join(figures[0].ratios(figures[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
