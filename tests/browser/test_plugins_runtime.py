"""Plugins in headless Chromium: one Pyodide worker per plugin, the api, cross-plugin calls, errors, kill.

``web/pyapp/plugins.js`` is imported into a blank page of the built site (same origin, no shell, no service
worker), which installs ``window.pyapp.plugins``. Servers bind 127.0.0.1; Chromium resolves no other host.
Synchronisation waits on promises and JS conditions only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from app_fixtures import ROOT, Site, launch, open_app, playwright, serve_built, watch  # noqa: F401

PLUGINS = ROOT / "plugins"
DATA = ROOT / "tests" / "data"
BLANK = "plugins-test.html"
BOOT_MS = 120_000

IMPORT_JS = """async () => {
  const mod = await import("./pyapp/plugins.js");
  window.pyappPluginsModule = mod;
  return typeof window.pyapp.plugins.load;
}"""


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    yield from serve_built("pyapp/plugin-worker.js")


@pytest.fixture(scope="module")
def page(playwright, site):  # noqa: F811
    browser = launch(playwright)
    context = browser.new_context()
    page = context.new_page()
    watch(page)
    # a blank page of the site's origin: the plugin host needs no shell
    page.route(site.url + BLANK, lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>plugins</title><body></body>"))
    page.goto(site.url + BLANK)
    assert page.evaluate(IMPORT_JS) == "function"
    yield page
    context.close()
    browser.close()


def load(page, source: str, filename: str) -> dict:
    return page.evaluate("([s, f]) => window.pyapp.plugins.load(s, {filename: f})", [source, filename],)


@pytest.fixture(scope="module")
def calculators(page) -> dict:
    """Calculator and its caller from plugins/, loaded concurrently (the caller's get_plugin waits)."""
    sources = [(p.read_text(), p.name) for p in (PLUGINS / "calculator.py", PLUGINS / "caller.py")]
    infos = page.evaluate("""async (sources) => Promise.all(
        sources.map(([s, f]) => window.pyapp.plugins.load(s, {filename: f})))""", sources)
    return {info["name"]: info for info in infos}


def test_codec_matches_shared_vectors(page) -> None:
    """The JS encode/decode gives the exact headers and buffers of tests/data/rpc_vectors.json."""
    vectors = json.loads((DATA / "rpc_vectors.json").read_text())["vectors"]
    result = page.evaluate("""(vectors) => {
      const { pack, unpack, NDArray, RemoteError } = window.pyappPluginsModule;
      const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
      const unhex = (s) => new Uint8Array((s.match(/../g) || []).map((h) => parseInt(h, 16))).buffer;
      const out = {};
      for (const v of vectors) {
        const buffers = v.buffers.map(unhex);
        const value = unpack(v.header, buffers, { makeProxy: (id, name) => {
          const f = () => id; Object.defineProperty(f, "name", { value: name }); f.rpcId = id; return f; } });
        // re-encode what was decoded; functions get the ids they came with
        const again = pack(value, { register: (fn) => fn.rpcId });
        let kind = typeof value;
        if (value instanceof NDArray) {
          kind = `ndarray ${value.dtype} ${JSON.stringify(value.shape)} ${value.data.constructor.name}`;
        } else if (value instanceof RemoteError) {
          kind = `error ${value.message} | ${value.remoteTraceback.split("\\n")[0]}`;
        }
        out[v.name] = { header: again.header, buffers: again.buffers.map(hex), kind };
      }
      return out;
    }""", vectors)
    for v in vectors:
        got = result[v["name"]]
        assert got["header"] == v["header"], v["name"]
        assert got["buffers"] == v["buffers"], v["name"]
    assert result["ndarray_float32_2x3"]["kind"] == "ndarray float32 [2,3] Float32Array"
    assert result["ndarray_uint16_transposed"]["kind"] == "ndarray uint16 [3,2] Uint16Array"
    assert result["error"]["kind"].startswith("error ValueError: bad tile size | Traceback")
    # JS values that the vectors do not start from: typed arrays, NaN, big ints, escaped dicts
    encoded = page.evaluate("""() => {
      const { pack } = window.pyappPluginsModule;
      return [pack(new Float32Array([0, 1, 2, 3, 4, 5])).header, pack([2n ** 60n, Infinity, -Infinity]).header,
              pack({ _rtype: "not a tag" }).header, pack(new Uint8Array([0, 1, 254, 255]).buffer).header];
    }""")
    assert encoded[0] == '{"v":1,"n":1,"data":{"_rtype":"ndarray","_rvalue":0,"_rshape":[6],"_rdtype":"float32"}}'
    assert encoded[1] == next(v["header"] for v in vectors if v["name"] == "special_numbers")
    assert encoded[2] == next(v["header"] for v in vectors if v["name"] == "escaped_dict")
    assert encoded[3] == next(v["header"] for v in vectors if v["name"] == "bytes")


def test_caller_gets_calculator_result(page, calculators) -> None:
    """The ImJoy paper's example: the caller's run() asks the Calculator through api.get_plugin."""
    assert set(calculators) == {"Calculator", "Calculator caller"}
    calc = calculators["Calculator"]
    assert calc["status"] == "ready" and {"add", "run", "setup"} <= set(calc["interface"])
    print(f"plugin boot: {calc['bootMs']:.0f} ms, start (boot + code + setup): {calc['startMs']:.0f} ms")
    total = page.evaluate("""() => window.pyapp.plugins.call("Calculator caller", "run", [{config: {a: 40, b: 2}}])""")
    assert total == 42
    events = page.evaluate("window.pyapp.plugins.events")
    assert {"plugin": "Calculator caller", "type": "show_message", "args": ["Calculator says 40 + 2 = 42", None]} in [
        {k: e[k] for k in ("plugin", "type", "args")} for e in events]
    assert any(e["plugin"] == "Calculator" and e["type"] == "log" and e["args"] == ["Calculator ready"] for e in events)
    # the host calls exported functions directly too, and run(ctx) with the form's values
    assert page.evaluate("window.pyapp.plugins.call('Calculator', 'mul', [6, 7])") == 42
    assert page.evaluate("window.pyapp.plugins.call('Calculator', 'run', [{config: {a: 9, b: 3, op: 'div'}}])") == 3
    names = page.evaluate("window.pyapp.plugins.list().map((p) => [p.name, p.status])")
    assert ["Calculator", "ready"] in names and ["Calculator caller", "ready"] in names
    # the DOM event fires for each api event
    detail = page.evaluate("""() => new Promise((resolve) => {
      window.addEventListener("pyapp-plugin-event", (e) => resolve(e.detail), { once: true });
      window.pyapp.plugins.call("Calculator", "run", [{config: {a: 1, b: 2}}]);
    })""")
    assert detail["plugin"] == "Calculator" and detail["type"] == "show_status" and detail["args"] == ["1 add 2 = 3"]


ECHO = '''# /// script
# dependencies = ["numpy"]
#
# [tool.pyapp]
# name = "{name}"
# ///
import asyncio
import numpy as np
from imjoy import api


class Plugin:
    async def setup(self):
        await api.set_config("greeting", "hello")

    def echo(self, x):
        return x

    async def through(self, other, x):
        peer = await api.get_plugin(other)
        y = await peer.echo(x)
        return {{"same": bool(np.array_equal(x, y)), "y": y, "dtype": str(y.dtype), "shape": list(y.shape)}}

    async def fail(self, n):
        def inner(m):
            raise ValueError(f"bad value {{m}} in {name}")
        inner(n)

    async def fail_remote(self, other):
        peer = await api.get_plugin(other)
        return await peer.fail(7)

    async def slow(self):
        await api.show_status("sleeping")
        await asyncio.sleep(3600)
        return "woke up"

    async def relay(self, other, fn):
        peer = await api.get_plugin(other)
        return await getattr(peer, fn)()

    async def config(self):
        return await api.get_config("greeting"), await api.getConfig()

    async def apply(self, fn, x):
        return await fn(x, 1)


api.export(Plugin())
'''


@pytest.fixture(scope="module")
def echoes(page) -> list[str]:
    names = ["Echo A", "Echo B"]
    page.evaluate("""async (sources) => Promise.all(
        sources.map((s, i) => window.pyapp.plugins.load(s, {filename: `echo${i}.py`})))""",
                  [ECHO.replace("{name}", n).replace("{{", "{").replace("}}", "}") for n in names])
    return names


def test_ndarray_round_trip_through_two_plugins(page, echoes) -> None:
    """8 MB of float32 from the page → Echo A → Echo B → Echo A → the page, equal; timed vs structuredClone."""
    result = page.evaluate("""async () => {
      const { NDArray } = window.pyappPluginsModule;
      const n = 2 * 1024 * 1024, shape = [2048, 1024];
      const make = () => {
        const a = new Float32Array(n);
        for (let i = 0; i < n; i++) a[i] = Math.sin(i) * i;
        return a;
      };
      const expected = make();
      const data = make();
      const t0 = performance.now();
      const r = await window.pyapp.plugins.call("Echo A", "through", ["Echo B", new NDArray(data, shape, "float32")]);
      const ms = performance.now() - t0;
      const transferred = data.byteLength === 0;   // the page's buffer went to the worker, not a copy
      let equal = r.y.data.length === n;
      for (let i = 0; equal && i < n; i++) equal = r.y.data[i] === expected[i];
      const c0 = performance.now();
      const copy = structuredClone(expected);
      const cloneMs = performance.now() - c0;
      return { ms, cloneMs, equal, same: r.same, dtype: r.dtype, shape: r.shape, transferred,
               yShape: r.y.shape, yDtype: r.y.dtype, ctor: r.y.data.constructor.name, copyLen: copy.length };
    }""")
    print(f"\n8 MB float32 page → A → B → A → page: {result['ms']:.1f} ms; one structuredClone copy of it: "
          f"{result['cloneMs']:.1f} ms")
    assert result["same"] is True and result["equal"] is True and result["transferred"] is True
    assert result["dtype"] == "float32" and result["shape"] == [2048, 1024]
    assert result["yShape"] == [2048, 1024] and result["yDtype"] == "float32" and result["ctor"] == "Float32Array"


def test_error_reaches_caller_with_traceback(page, echoes) -> None:
    err = page.evaluate("""async () => {
      try { await window.pyapp.plugins.call("Echo A", "fail", [3]); return null; }
      catch (e) { return { message: e.message, tb: e.remoteTraceback, type: e.typeName }; }
    }""")
    assert err["message"] == "ValueError: bad value 3 in Echo A"
    assert err["tb"].startswith("Traceback (most recent call last):")
    assert "in inner" in err["tb"] and err["tb"].rstrip().endswith("ValueError: bad value 3 in Echo A")
    # through a second plugin: B's error, with B's traceback, reaches the page via A
    err = page.evaluate("""async () => {
      try { await window.pyapp.plugins.call("Echo A", "fail_remote", ["Echo B"]); return null; }
      catch (e) { return { message: e.message, tb: e.remoteTraceback }; }
    }""")
    assert err["message"] == "ValueError: bad value 7 in Echo B" and "in inner" in err["tb"]
    # unknown function and unknown plugin: one-line errors
    msg = page.evaluate("window.pyapp.plugins.call('Echo A', 'nope', []).catch((e) => e.message)")
    assert "has no function \"nope\"" in msg and "echo" in msg
    msg = page.evaluate("window.pyapp.plugins.call('Nobody', 'run', []).catch((e) => e.message)")
    assert msg.startswith('no plugin named "Nobody" is loaded')


def test_config_and_callbacks(page, echoes) -> None:
    assert page.evaluate("window.pyapp.plugins.call('Echo A', 'config', [])") == ["hello", {"greeting": "hello"}]
    assert page.evaluate("window.pyapp.plugins.getConfig('Echo B')") == {"greeting": "hello"}
    # a page function passed as an argument is called back from Python
    assert page.evaluate("window.pyapp.plugins.call('Echo A', 'apply', [(x, y) => x * 10 + y, 4])") == 41


def test_kill_mid_call_rejects_at_once(page, echoes) -> None:
    source = ECHO.replace("{name}", "Sleeper").replace("{{", "{").replace("}}", "}")
    load(page, source, "sleeper.py")
    result = page.evaluate("""async () => {
      const plugins = window.pyapp.plugins;
      let sleeping = 0;
      const started = new Promise((resolve) => window.addEventListener("pyapp-plugin-event", (e) => {
        if (e.detail.plugin === "Sleeper" && e.detail.args[0] === "sleeping" && ++sleeping === 2) resolve();
      }));
      const direct = plugins.call("Sleeper", "slow", []);
      const viaOther = plugins.call("Echo A", "relay", ["Sleeper", "slow"]);  // A's call into Sleeper waits too
      await started;
      const t0 = performance.now();
      const killed = plugins.kill("Sleeper");
      const outcome = async (p) => p.then((v) => ({ value: v }), (e) => ({ error: e.message }));
      const [a, b] = await Promise.all([outcome(direct), outcome(viaOther)]);
      const ms = performance.now() - t0;
      const status = plugins.list().find((p) => p.name === "Sleeper").status;
      const again = await outcome(plugins.call("Sleeper", "echo", [1]));
      return { killed, a, b, ms, status, again, stillAlive: await plugins.call("Echo A", "echo", [5]) };
    }""")
    print(f"\nkill → rejection in {result['ms']:.1f} ms")
    assert result["killed"] is True and result["status"] == "killed"
    assert result["a"] == {"error": 'PluginGone: plugin "Sleeper" was killed'}
    assert result["b"] == {"error": 'PluginGone: plugin "Sleeper" was killed'}
    assert "killed" in result["again"]["error"] and result["stillAlive"] == 5


def test_crash_rejects_pending_calls(page, echoes) -> None:
    """A worker that dies (here: closes itself from Python) fails its pending calls at once."""
    source = '''# /// script
# [tool.pyapp]
# name = "Crasher"
# ///
import asyncio
import js
from imjoy import api
from pyodide.ffi import create_once_callable

def boom():
    raise RuntimeError("boom from the worker")

class Plugin:
    async def crash(self):
        js.setTimeout(create_once_callable(boom), 0)   # (js.eval is refused by the sandbox's CSP)
        await asyncio.sleep(3600)

api.export(Plugin())
'''
    load(page, source, "crasher.py")
    result = page.evaluate("""async () => {
      const plugins = window.pyapp.plugins;
      const error = await plugins.call("Crasher", "crash", []).then(() => null, (e) => e.message);
      return { error, status: plugins.list().find((p) => p.name === "Crasher").status };
    }""")
    assert result["status"] == "crashed"
    assert result["error"].startswith('PluginGone: plugin "Crasher" crashed')
    assert "boom from the worker" in result["error"]


def test_imjoy_html_plugin_runs_unmodified(page) -> None:
    """tests/data/plugins/*.imjoy.html (ImJoy's documented format, `from imjoy import api`) load and run."""
    calc = (DATA / "plugins" / "calculator.imjoy.html").read_text()
    caller = (DATA / "plugins" / "caller.imjoy.html").read_text()
    infos = page.evaluate("""async ([calc, caller]) => {
      const p = window.pyapp.plugins;
      const a = await p.load(calc, {filename: "calculator.imjoy.html"});   // replaces the PEP 723 Calculator
      const b = await p.load(caller, {filename: "caller.imjoy.html"});
      const total = await p.call(b.name, "run", [{config: {x: 40}}]);
      return { a, b, total, list: p.list().map((x) => [x.name, x.status, x.format]) };
    }""", [calc, caller])
    assert infos["a"]["format"] == "imjoy" and infos["a"]["tag"] == "stable"
    assert infos["total"] == 42
    assert ["Calculator", "ready", "imjoy"] in infos["list"]
    assert ["Calculator caller", "ready", "imjoy"] in infos["list"]
    events = page.evaluate("window.pyapp.plugins.events.filter((e) => e.type === 'show_message').map((e) => e.args[0])")
    assert "Calculator says 42" in events


def test_load_by_url_and_bad_plugin(page, site) -> None:
    # a URL of the site: the worker script itself is not a plugin; a bad plugin reports the field
    bad = '# /// script\n# [tool.pyapp]\n# name = "Bad"\n# tags = ["a", 3]\n# ///\n'
    msg = page.evaluate("(s) => window.pyapp.plugins.load(s, {filename: 'bad.py'}).catch((e) => e.message)", bad)
    assert msg == "pyapp.plugins.manifest.PluginError: bad.py: tool.pyapp.tags[1]: expected a string, got 3" or \
        msg.endswith("bad.py: tool.pyapp.tags[1]: expected a string, got 3"), msg
    page.route(site.url + "shared/hello.py", lambda route: route.fulfill(
        status=200, content_type="text/x-python",
        body='# /// script\n# [tool.pyapp]\n# name = "Hello"\n# ///\nfrom imjoy import api\n'
             'class P:\n    def hi(self, who):\n        return f"hello {who}"\napi.export(P())\n'))
    info = page.evaluate("window.pyapp.plugins.load('./shared/hello.py')")
    assert info["name"] == "Hello" and info["filename"] == "hello.py"
    assert page.evaluate("window.pyapp.plugins.call('Hello', 'hi', ['you'])") == "hello you"


def test_no_page_errors(page) -> None:
    assert page.errors == []




def test_opt_in_on_the_shell_page(playwright, site) -> None:  # noqa: F811
    """Added to the app's own page (shell + model worker), plugins.js joins window.pyapp without disturbing it."""
    browser = launch(playwright)
    context, shell = open_app(browser, site.url)
    try:
        shell.add_script_tag(url=site.url + "pyapp/plugins.js", type="module")
        shell.wait_for_function("window.pyapp && window.pyapp.plugins && typeof window.pyapp.predict === 'function'")
        info = shell.evaluate("(s) => window.pyapp.plugins.load(s, {filename: 'calculator.py'})",
                              (PLUGINS / "calculator.py").read_text())
        assert info["name"] == "Calculator"
        assert shell.evaluate("window.pyapp.plugins.call('Calculator', 'add', [40, 2])") == 42
        assert shell.evaluate("window.pyapp.models().then((m) => m.length > 0)") is True
        assert shell.errors == []
    finally:
        context.close()
        browser.close()
