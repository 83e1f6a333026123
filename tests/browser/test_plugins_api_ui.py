"""The plugin api's UI calls in headless Chromium: dialogs, windows, file dialogs, services, the heartbeat,
the built-in Model runner and Image classifier, and a 64 MB ndarray round trip through two plugins.

A blank page of the built site imports ``pyapp/app.js`` (window.pyapp: the model worker) and then
``pyapp/plugins.js`` (window.pyapp.plugins). Synchronisation waits on promises only; the heartbeat test shortens
the host's intervals with ``plugins.configure`` instead of waiting.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from app_fixtures import ROOT, STATIC, Site, launch, playwright, serve_built, watch  # noqa: F401

PLUGINS = ROOT / "plugins"
BLANK = "plugins-api-test.html"
BOOT_MS = 180_000

IMPORT_JS = """async () => {
  await import("./pyapp/app.js");          // window.pyapp (predict, models, ...) first: it replaces window.pyapp
  const mod = await import("./pyapp/plugins.js");
  window.pyappPluginsModule = mod;
  return [typeof window.pyapp.plugins.load, typeof window.pyapp.predict];
}"""

UI = '''# /// script
# dependencies = ["numpy"]
#
# [tool.pyapp]
# name = "@NAME@"
# ///
import asyncio
import numpy as np
from imjoy import api


class Plugin:
    async def dialogs(self):
        name = await api.prompt("Your name?", "nobody")
        sure = await api.confirm(f"Greet {name}?")
        dialog = await api.showDialog({"type": "markdown", "name": "Hello", "data": f"# Hello {name}"})
        return [name, sure, dialog.id, dialog.result]

    async def windows(self):
        image = await api.create_window({"type": "imageviewer", "name": "ramp",
                                         "data": np.arange(12, dtype=np.float32).reshape(3, 4)})
        plot = await api.createWindow(type="plot", data={"x": [1, 2, 3], "y": [1, 4, 9]})
        note = await api.create_window({"type": "markdown", "data": "# notes"})
        await note.close()
        return [image.id, plot.id, note.id]

    async def open_file(self):
        f = await api.show_file_dialog({"accept": ".txt"})
        return [f.name, f.bytes.decode(), f.size]

    async def offer(self):
        return await api.register_service({"id": "@NAME@ service", "scale": lambda x, k: np.asarray(x) * k,
                                           "about": "@NAME@"})

    async def use(self, sid):
        svc = await api.get_service(sid)
        y = await svc.scale(np.arange(4, dtype=np.float32), 3)
        return [svc.about, y.tolist(), str(y.dtype)]

    def echo(self, x):
        return x

    async def through(self, other, x):
        peer = await api.get_plugin(other)
        y = await peer.echo(x)
        return {"same": bool(np.array_equal(x, y)), "y": y}

    async def wait(self, seconds):
        await asyncio.sleep(seconds)
        return "done"

    def spin(self):
        while True:
            pass


api.export(Plugin())
'''


def ui_source(name: str) -> str:
    return UI.replace("@NAME@", name)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    yield from serve_built("pyapp/plugin-worker.js")


@pytest.fixture(scope="module")
def page(playwright, site):  # noqa: F811
    browser = launch(playwright)
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(BOOT_MS)
    watch(page)
    page.route(site.url + BLANK, lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>plugins api</title><body></body>"))
    page.goto(site.url + BLANK)
    assert page.evaluate(IMPORT_JS) == ["function", "function"]
    yield page
    context.close()
    browser.close()


@pytest.fixture(scope="module")
def uis(page) -> list[str]:
    names = ["UI A", "UI B"]
    page.evaluate("""async (sources) => Promise.all(
        sources.map((s, i) => window.pyapp.plugins.load(s, {filename: `ui${i}.py`})))""",
                  [ui_source(n) for n in names])
    return names


def test_dialogs_with_installed_handlers(page, uis) -> None:
    result = page.evaluate("""async () => {
      const plugins = window.pyapp.plugins;
      const seen = [];
      plugins.setHandlers({
        prompt: async ({ plugin, message, default: dflt }) => {
          seen.push(["prompt", plugin, message, dflt]);
          return "Ada";
        },
        confirm: ({ plugin, message }) => { seen.push(["confirm", plugin, message]); return true; },
        dialog: (entry) => { seen.push(["dialog", entry.plugin, entry.type, entry.name, entry.data]); return "shown"; },
      });
      try {
        const got = await plugins.call("UI A", "dialogs", []);
        const types = plugins.events.filter((e) => e.plugin === "UI A").map((e) => e.type);
        return { got, seen, types, window: plugins.windows[got[2]] && plugins.windows[got[2]].dialog };
      } finally {
        plugins.setHandlers({ prompt: null, confirm: null, dialog: null });
      }
    }""")
    assert result["got"][0:2] == ["Ada", True] and result["got"][3] == "shown"
    assert result["seen"] == [["prompt", "UI A", "Your name?", "nobody"], ["confirm", "UI A", "Greet Ada?"],
                              ["dialog", "UI A", "markdown", "Hello", "# Hello Ada"]]
    assert result["types"][-3:] == ["prompt", "confirm", "show_dialog"] and result["window"] is True
    # no handler: window.prompt / window.confirm (Playwright answers the browser's own dialogs)
    page.once("dialog", lambda d: d.accept("Bob"))
    answer = page.evaluate("""() => new Promise((resolve) => {
      // the confirm that follows is dismissed: the dialogs call then goes on with False
      resolve(window.pyapp.plugins.call("UI A", "dialogs", []));
    })""")
    assert answer[0] == "Bob" and answer[1] is False


def test_create_window_records_the_imageviewer_ndarray(page, uis) -> None:
    result = page.evaluate("""async () => {
      const plugins = window.pyapp.plugins;
      const created = [];
      const closed = [];
      plugins.setHandlers({ createWindow: (w) => { created.push([w.id, w.type, w.name]); },
                            closeWindow: (w) => { closed.push(w.id); } });
      try {
        const [imageId, plotId, noteId] = await plugins.call("UI B", "windows", []);
        const image = plugins.windows[imageId], plot = plugins.windows[plotId];
        return { created, closed, noteId, noteOpen: noteId in plugins.windows,
                 image: { type: image.type, name: image.name, plugin: image.plugin, ctor: image.data.constructor.name,
                          shape: image.data.shape, dtype: image.data.dtype, values: Array.from(image.data.data) },
                 plot: { type: plot.type, data: plot.data } };
      } finally {
        plugins.setHandlers({ createWindow: null, closeWindow: null });
      }
    }""")
    image = result["image"]
    assert image["type"] == "imageviewer" and image["name"] == "ramp" and image["plugin"] == "UI B"
    assert image["ctor"] == "NDArray" and image["shape"] == [3, 4] and image["dtype"] == "float32"
    assert image["values"] == list(range(12))
    assert result["plot"] == {"type": "plot", "data": {"x": [1, 2, 3], "y": [1, 4, 9]}}
    assert [c[1] for c in result["created"]] == ["imageviewer", "plot", "markdown"]
    assert result["closed"] == [result["noteId"]] and result["noteOpen"] is False
    # without a handler the window is only recorded
    ids = page.evaluate("window.pyapp.plugins.call('UI B', 'windows', [])")
    assert page.evaluate("(id) => window.pyapp.plugins.windows[id].data.shape", ids[0]) == [3, 4]


def test_file_dialog(page, uis) -> None:
    msg = page.evaluate("window.pyapp.plugins.call('UI A', 'open_file', []).then(() => null, (e) => e.message)")
    assert "this page has no file picker for plugins" in msg and "setHandlers({fileDialog})" in msg
    got = page.evaluate("""async () => {
      const plugins = window.pyapp.plugins;
      let asked = null;
      plugins.setHandlers({ fileDialog: (config) => { asked = config; return new File(["some text"], "notes.txt"); } });
      try {
        return { got: await plugins.call("UI A", "open_file", []), asked };
      } finally {
        plugins.setHandlers({ fileDialog: null });
      }
    }""")
    assert got["got"] == ["notes.txt", "some text", 9]
    assert got["asked"] == {"plugin": "UI A", "accept": ".txt"}


def test_services_across_plugins(page, uis) -> None:
    msg = page.evaluate("window.pyapp.plugins.call('UI B', 'use', ['UI A service']).catch((e) => e.message)")
    assert 'no service "UI A service" is registered' in msg
    assert page.evaluate("window.pyapp.plugins.call('UI A', 'offer', [])") == "UI A service"
    assert page.evaluate("window.pyapp.plugins.call('UI B', 'use', ['UI A service'])") == [
        "UI A", [0.0, 3.0, 6.0, 9.0], "float32"]
    # the page registers a service; plugins call its JS functions; the page reads a plugin's service too
    result = page.evaluate("""async () => {
      const plugins = window.pyapp.plugins;
      plugins.registerService({ id: "page math", about: "the page", scale: (x, k) => {
        const { NDArray } = window.pyappPluginsModule;
        return new NDArray(x.data.map((v) => v * k), x.shape, x.dtype);
      } });
      const fromPlugin = await plugins.call("UI A", "use", ["page math"]);
      const svc = await plugins.getService("UI A service");
      return { fromPlugin, about: svc.about, ids: plugins.services() };
    }""")
    assert result["fromPlugin"] == ["the page", [0.0, 3.0, 6.0, 9.0], "float32"]
    assert result["about"] == "UI A" and {"UI A:UI A service", "page math"} <= set(result["ids"])  # namespaced


def test_heartbeat_detects_a_hung_worker(page, uis) -> None:
    """A plugin that blocks its event loop stops answering pings: its pending calls reject, others live on."""
    page.evaluate("(s) => window.pyapp.plugins.load(s, {filename: 'spinner.py'})", ui_source("Spinner"))
    result = page.evaluate("""async () => {
      const plugins = window.pyapp.plugins;
      const saved = plugins.configure();
      plugins.configure({ heartbeatMs: 50, heartbeatTimeoutMs: 1000 });
      const outcome = (p) => p.then((v) => ({ value: v }), (e) => ({ error: e.message }));
      try {
        // a long async call keeps answering the heartbeat: not stopped
        const waited = await outcome(plugins.call("Spinner", "wait", [2.5]));
        const t0 = performance.now();
        const spun = await outcome(plugins.call("Spinner", "spin", []));
        const ms = performance.now() - t0;
        const status = plugins.list().find((p) => p.name === "Spinner").status;
        const after = await outcome(plugins.call("Spinner", "echo", [1]));
        return { waited, spun, ms, status, after, others: await plugins.call("UI A", "echo", [7]) };
      } finally {
        plugins.configure(saved);
      }
    }""")
    print(f"\nhung worker detected and its call rejected after {result['ms']:.0f} ms (timeout 1000 ms, beat 50 ms)")
    assert result["waited"] == {"value": "done"}
    assert result["spun"]["error"].startswith('PluginGone: plugin "Spinner" stopped responding')
    assert result["status"] == "unresponsive" and "unresponsive" in result["after"]["error"]
    assert result["others"] == 7


def test_model_runner_runs_smooth2d_via_the_page(page) -> None:
    expected = np.load(STATIC / "models" / "smooth2d" / "test_output.npy")
    x = np.load(STATIC / "models" / "smooth2d" / "test_input.npy")
    source = (PLUGINS / "model_runner.py").read_text()
    result = page.evaluate("""async ([source, values, shape]) => {
      const { NDArray } = window.pyappPluginsModule;
      await window.pyapp.ready;
      const plugins = window.pyapp.plugins;
      const info = await plugins.load(source, { filename: "model_runner.py" });
      const x = new NDArray(new Float32Array(values), shape, "float32");
      const r = await plugins.call("Model runner", "predict", ["smooth2d", x]);
      const out = r.outputs[0].data;
      const config = { model: "smooth2d", image: "models/smooth2d/test_input.npy" };
      const ran = await plugins.call("Model runner", "run", [{ config }]);
      const windows = Object.values(plugins.windows).filter((w) => w.plugin === "Model runner")
        .map((w) => w.data.shape);
      return { info, ctor: out.constructor.name, shape: out.shape, dtype: out.dtype,
               sum: out.data.reduce((a, b) => a + b, 0), backend: r.backend, ran, windows };
    }""", [source, x.ravel().tolist(), list(x.shape)])
    assert result["info"]["name"] == "Model runner" and "predict" in result["info"]["interface"]
    assert result["ctor"] == "NDArray" and result["shape"] == list(expected.shape) and result["dtype"] == "float32"
    assert result["sum"] == pytest.approx(float(expected.sum()), abs=1e-2)
    assert result["ran"]["shape"] == list(expected.shape) and result["ran"]["model"] == "smooth2d"
    assert result["windows"] == [[64, 64]]
    print(f"\nModel runner: smooth2d on {result['backend']} in {result['ran']['ms']:.0f} ms")


def test_image_classifier_without_a_camera_says_so(page) -> None:
    source = (PLUGINS / "image_classifier.py").read_text()
    msg = page.evaluate("""async (source) => {
      const plugins = window.pyapp.plugins;
      await plugins.load(source, { filename: "image_classifier.py" });
      return plugins.call("Image classifier", "classify", []).then(() => null, (e) => e.message);
    }""", source)
    assert msg.startswith("RuntimeError: cannot classify a camera frame:"), msg
    assert "no camera classifier on this page" in msg and "\n" not in msg


def test_64mb_ndarray_round_trip_through_two_plugins(page, uis) -> None:
    """64 MB of float32: page → UI A → UI B → UI A → page, equal; timed against one structuredClone copy."""
    result = page.evaluate("""async () => {
      const { NDArray } = window.pyappPluginsModule;
      const n = 16 * 1024 * 1024, shape = [4096, 4096];
      const make = () => {
        const a = new Float32Array(n);
        for (let i = 0; i < n; i++) a[i] = (i % 65521) * 0.5;
        return a;
      };
      const expected = make();
      const data = make();
      const t0 = performance.now();
      const r = await window.pyapp.plugins.call("UI A", "through", ["UI B", new NDArray(data, shape, "float32")]);
      const ms = performance.now() - t0;
      let equal = r.y.data.length === n;
      for (let i = 0; equal && i < n; i++) equal = r.y.data[i] === expected[i];
      const c0 = performance.now();
      const copy = structuredClone(expected);
      const cloneMs = performance.now() - c0;
      return { ms, cloneMs, equal, same: r.same, transferred: data.byteLength === 0, shape: r.y.shape,
               dtype: r.y.dtype, copyLen: copy.length };
    }""")
    print(f"\n64 MB float32 page → A → B → A → page: {result['ms']:.0f} ms; one structuredClone copy: "
          f"{result['cloneMs']:.1f} ms")
    assert result["same"] is True and result["equal"] is True and result["transferred"] is True
    assert result["shape"] == [4096, 4096] and result["dtype"] == "float32"


def test_no_page_errors(page) -> None:
    assert page.errors == []
