"""Page start figures (issue 13): cold and warm start, Python interpreters per page, where the boot time goes.

Run alone: ``.venv/bin/python benchmarks/startup.py [--repeat 3]`` after ``python build.py``; ``browser.py``
prints the same figures with the inference ones. Each repeat launches a fresh headless Chromium (empty profile):

- **cold**: the first visit, every file from the local server (the service worker installs meanwhile);
- **warm**: a reload once the service worker holds the precache (``pyapp.offline.ready``);
- times are milliseconds since navigation start, read in the page: ``worker`` when ``pyapp.ready`` resolves
  (the model worker's Python can take requests), ``app`` when the shell is ready (models listed, the first
  model described: the user can run it);
- **instances**: how many times a page and its workers fetch ``pyodide.asm.wasm`` (every ``loadPyodide`` call
  fetches and instantiates it once) and ``micropython.wasm``.
"""

from __future__ import annotations

import argparse
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


@dataclass
class Visit:
    """One page load: ready times (ms since navigation), interpreter fetches, the boot profile."""

    worker: float
    app: float
    pyodides: int
    micropythons: int
    profile: dict[str, float] = field(default_factory=dict)


@dataclass
class StartFigures:
    """Medians over the repeats of cold and warm visits."""

    cold: list[Visit]
    warm: list[Visit]

    @staticmethod
    def _median(visits: list[Visit], key: str) -> float:
        return statistics.median(getattr(v, key) for v in visits)

    def profile(self, visits: list[Visit]) -> dict[str, float]:
        names = sorted({n for v in visits for n in v.profile}, key=lambda n: statistics.median(
            v.profile[n] for v in visits if n in v.profile))
        return {n: statistics.median(v.profile[n] for v in visits if n in v.profile) for n in names}

    def report(self) -> list[str]:
        """The printed lines: figures with their goals, then the boot profile of both kinds of visit."""
        lines = []
        for kind, visits, goal in (("cold", self.cold, GOAL_COLD_MS), ("warm", self.warm, GOAL_WARM_MS)):
            worker, app = self._median(visits, "worker"), self._median(visits, "app")
            spread = f"{min(v.app for v in visits) / 1000:.2f}–{max(v.app for v in visits) / 1000:.2f}"
            lines.append(f"{kind} start: worker ready {worker / 1000:5.2f} s, app ready {app / 1000:5.2f} s "
                         f"(range {spread} s)   goal <= {goal / 1000:.1f} s {'met' if app <= goal else 'NOT met'}")
        visits = self.cold + self.warm
        pyodides = max(v.pyodides for v in visits)
        lines.append(f"Pyodide instances per page {pyodides} (MicroPython {max(v.micropythons for v in visits)})"
                     f"   goal {GOAL_PYODIDES} {'met' if pyodides <= GOAL_PYODIDES else 'NOT met'}")
        for kind, visits in (("cold", self.cold), ("warm", self.warm)):
            profile = self.profile(visits)
            if profile:
                lines.append(f"{kind} boot profile (ms since navigation, medians): "
                             + ", ".join(f"{n.removeprefix('pyapp:')} {t:.0f}" for n, t in profile.items()))
        return lines


def _visit(page, url: str | None) -> Visit:
    """Open ``url`` (None: reload) and wait until the app is ready."""
    fetched: list[str] = []
    on_request = lambda request: fetched.append(request.url)  # noqa: E731  (the page and its workers)
    page.on("request", on_request)
    try:
        if url is None:
            page.reload()
        else:
            page.goto(url)
        seen = page.evaluate(READY_JS)
    finally:
        page.remove_listener("request", on_request)
    names = [url.split("?")[0].rsplit("/", 1)[-1] for url in fetched]
    return Visit(worker=seen["worker"], app=seen["app"], pyodides=names.count("pyodide.asm.wasm"),
                 micropythons=names.count("micropython.wasm"), profile=seen["profile"])


def measure(playwright, site: str, repeat: int) -> StartFigures:
    """Cold and warm visits of ``site`` (the app's URL), ``repeat`` fresh browsers."""
    cold, warm = [], []
    for _ in range(repeat):
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        cold.append(_visit(page, site))
        page.evaluate("window.pyapp.offline.ready")  # the service worker holds every precached file
        warm.append(_visit(page, None))
        browser.close()
    return StartFigures(cold, warm)


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
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    server, url = serve_site(args.site)
    try:
        with sync_playwright() as p:
            figures = measure(p, url, args.repeat)
    finally:
        server.shutdown()
    print("\n".join(figures.report()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
