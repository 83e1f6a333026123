"""Arrays between plugins in headless Chromium: bit-identical through two plugins, buffers between plugins skip
the page; a plugin cannot send its buffers to another plugin than the one its message goes to, and cannot hand
on a function id it may not call (now that plugins pass remote functions on by their ids).

A host of the test's own (``createPluginHost``) runs on the real sandbox (``sandbox.js``), wrapped so that it
counts the buffer bytes of every message that crosses the page. The speed of this path is measured by
``benchmarks/plugin_arrays.py``, not here. Synchronisation waits on promises only.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from app_fixtures import Site, launch, playwright, serve_built, watch  # noqa: F401

BLANK = "plugin-arrays-test.html"
MB = 8

PLUGIN = '''# /// script
# dependencies = ["numpy"]
#
# [tool.pyapp]
# name = "{name}"
# ///
import asyncio
import hashlib

import js
import numpy as np
from imjoy import api
from pyapp.rpc import pack
from pyodide.ffi import create_proxy, to_js

SECRET = []


def secret(*args):
    SECRET.append(args)


async def hand_made(forged):
    """Post a message made by hand to the host; the header of the reply to its id."""
    answer = asyncio.get_running_loop().create_future()

    def listen(event):
        data = event.data
        if getattr(data, "type", None) == "reply" and data.id == forged["id"] and not answer.done():
            answer.set_result(str(data.header))

    handler = create_proxy(listen)
    js.addEventListener("message", handler)
    js.postMessage(to_js(forged, dict_converter=js.Object.fromEntries))
    try:
        return await answer
    finally:
        js.removeEventListener("message", handler)
        handler.destroy()


class Plugin:
    def internal(self):
        """The id of an internal function (registered, never exported)."""
        return api._runtime.register(secret)

    def secret_calls(self):
        return len(SECRET)

    async def confused(self, other, forged_id):
        """Ask other.give to call a function id this plugin guessed: the host's answer."""
        peer = await api.get_plugin(other)
        header, _ = pack([secret, 1], register=lambda f: forged_id, root="args")
        return await hand_made({"type": "call", "id": 999_998, "target": peer.give._rpc_id,
                                "header": header.decode(), "buffers": []})

    async def hand(self, other, x, sink):
        """page → this plugin → other → page: the other plugin gives x to the page's sink."""
        before = hashlib.sha256(x.tobytes()).hexdigest()
        peer = await api.get_plugin(other)
        await peer.give(sink, x)
        return {"kept": hashlib.sha256(x.tobytes()).hexdigest() == before, "sha256": before}

    async def give(self, sink, x):
        await sink(x)

    def echo(self, x):
        return x

    def flip(self, x):
        return np.ascontiguousarray(x.ravel()[::-1]).reshape(x.shape)

    async def through(self, other, x):
        peer = await api.get_plugin(other)
        y = await peer.echo(x)
        return {"y": y, "same": bool(np.array_equal(x.view(np.uint32), y.view(np.uint32)))}

    async def misroute(self, other, wrong):
        """A forged call to other's echo whose buffers claim to have gone to `wrong`: the host's answer."""
        peer = await api.get_plugin(other)
        header, _ = pack([np.zeros(4, np.float32)], root="args")
        return await hand_made({"type": "call", "id": 999_999, "target": peer.echo._rpc_id, "header": header.decode(),
                                "buffers": [], "ticket": 1, "to": wrong})


api.export(Plugin())
'''

# a host of its own whose sandboxes count the buffer bytes crossing the page, both ways; window.arrays.rewrite
# (sandbox name, message) -> message stands for a worker that posts what it likes
HOST_JS = """async (sources) => {
  const { createPluginHost } = await import("./pyapp/plugins.js");
  const { createSandboxedWorker } = await import("./pyapp/sandbox.js");
  const crossed = { toPlugins: 0, fromPlugins: 0 };
  const arrays = { crossed, rewrite: (name, msg) => msg };
  const bytes = (m) => (m && Array.isArray(m.buffers) ? m.buffers.reduce((n, b) => n + (b.byteLength || 0), 0) : 0);
  const counted = async (options) => {
    const worker = await createSandboxedWorker(options);
    const post = worker.postMessage.bind(worker);
    worker.postMessage = (msg, transfer) => { crossed.toPlugins += bytes(msg); post(msg, transfer); };
    let handler = null;
    Object.defineProperty(worker, "onmessage", {
      set(fn) { handler = fn; },
      get() {
        return handler && ((event) => {
          crossed.fromPlugins += bytes(event.data);
          handler({ data: arrays.rewrite(options.name, event.data) });
        });
      },
    });
    return worker;
  };
  arrays.host = createPluginHost({ sandbox: counted });
  window.arrays = arrays;
  const host = arrays.host;
  return Promise.all(sources.map(([s, f]) => host.load(s, { filename: f }).then((info) => info.session)));
}"""

# random float32 bits (NaN payloads, infinities, subnormals included) of MB MiB, and a bit-exact comparison
MAKE_JS = """
  const { NDArray } = await import("./pyapp/rpc-codec.js");
  const n = %MB% * 1024 * 1024 / 4, shape = [%MB% * 256, 1024];
  const bits = new Uint32Array(n);
  for (let i = 0; i < n; i += 16384) crypto.getRandomValues(bits.subarray(i, i + 16384));
  const fresh = () => new NDArray(new Float32Array(bits.slice().buffer), shape, "float32");
  const identical = (a) => a instanceof NDArray && a.dtype === "float32"
    && JSON.stringify(a.shape) === JSON.stringify(shape)
    && new Uint32Array(a.data.buffer, a.data.byteOffset, a.data.length).every((v, i) => v === bits[i]);
  const { host, crossed } = window.arrays;
  const reset = () => { crossed.toPlugins = 0; crossed.fromPlugins = 0; };
  const hex = async (a) => Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", a)),
                                      (b) => b.toString(16).padStart(2, "0")).join("");
""".replace("%MB%", str(MB))


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    yield from serve_built("pyapp/plugin-worker.js", "pyapp/sandbox.js")


@pytest.fixture(scope="module")
def page(playwright, site):  # noqa: F811
    browser = launch(playwright)
    context = browser.new_context()
    page = watch(context.new_page())
    page.route(site.url + BLANK, lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>arrays</title><body></body>"))
    page.goto(site.url + BLANK)
    sources = [[PLUGIN.replace("{name}", n), f"{n[-1].lower()}.py"] for n in ("Arrays A", "Arrays B")]
    page.sessions = page.evaluate(HOST_JS, sources)
    yield page
    context.close()
    browser.close()


def test_chain_through_two_plugins_is_bit_identical(page) -> None:
    """page → A → B → page: the page's sink gets the exact bits; only page→A and B→page cross the page."""
    result = page.evaluate("""async () => {
      %MAKE%
      const sent = fresh();
      const sentBuffer = sent.data.buffer;
      let got = null;
      reset();
      const info = await host.call("Arrays A", "hand", ["Arrays B", sent, (x) => { got = x; return null; }]);
      return { ok: identical(got), detached: sentBuffer.byteLength === 0, crossed: { ...crossed }, info,
               expected: await hex(bits) };
    }""".replace("%MAKE%", MAKE_JS))
    nbytes = MB * 1024 * 1024
    assert result["ok"] is True
    assert result["detached"] is True  # the page's buffer was transferred to the sandbox, not copied
    assert result["info"] == {"kept": True, "sha256": result["expected"]}  # A's array is intact after sending
    # the bytes crossed the page twice (into A, out of B); A → B went straight between the two plugins
    assert result["crossed"] == {"toPlugins": nbytes, "fromPlugins": nbytes}


def test_round_trip_through_two_plugins(page) -> None:
    """page → A → B → A → page: identical both in A (B's echo) and in the page; A ↔ B skips the page."""
    result = page.evaluate("""async () => {
      %MAKE%
      reset();
      const r = await host.call("Arrays A", "through", ["Arrays B", fresh()]);
      return { ok: identical(r.y), same: r.same, crossed: { ...crossed } };
    }""".replace("%MAKE%", MAKE_JS))
    nbytes = MB * 1024 * 1024
    assert result["ok"] is True and result["same"] is True
    assert result["crossed"] == {"toPlugins": nbytes, "fromPlugins": nbytes}


def test_a_reused_buffer_leaves_with_the_new_bytes_only(page) -> None:
    """A answers each array with another of the same size, copied out into the buffer that brought the question
    (a spare): what arrives is exactly the answer, every time."""
    result = page.evaluate("""async () => {
      %MAKE%
      const flipped = bits.slice().reverse();
      const oks = [];
      for (let i = 0; i < 3; i++) {
        const r = await host.call("Arrays A", "flip", [fresh()]);
        const got = new Uint32Array(r.data.buffer, r.data.byteOffset, r.data.length);
        oks.push(got.length === flipped.length && got.every((v, j) => v === flipped[j]));
      }
      return oks;
    }""".replace("%MAKE%", MAKE_JS))
    assert result == [True, True, True]


def test_buffers_sent_elsewhere_are_refused(page) -> None:
    """A message whose buffers claim another receiver than the owner of its target is refused by the host."""
    session_a, _ = page.sessions
    for wrong in (session_a, "host", "p999"):
        header = page.evaluate("([wrong]) => window.arrays.host.call('Arrays A', 'misroute', ['Arrays B', wrong])",
                               [wrong])
        assert "CodecError" in header and "not to the owner of" in header, (wrong, header)
    # both plugins still serve calls with arrays
    assert page.evaluate("""async () => {
      %MAKE%
      const r = await host.call("Arrays A", "through", ["Arrays B", fresh()]);
      return identical(r.y) && r.same;
    }""".replace("%MAKE%", MAKE_JS)) is True


def test_replies_whose_buffers_went_elsewhere_are_refused(page) -> None:
    """B's replies claim their buffers went straight to someone else than the caller: the caller gets an error."""
    result = page.evaluate("""async () => {
      const { host } = window.arrays;
      const { NDArray } = await import("./pyapp/rpc-codec.js");
      const arg = () => new NDArray(new Float32Array(4).fill(1), [4], "float32");
      const error = (p) => p.then(() => "no error", (e) => e.message);
      const elsewhere = (to) => (name, msg) => (name === "plugin b.py" && msg.type === "reply"
        ? { ...msg, buffers: [], ticket: 7, to } : msg);
      try {
        window.arrays.rewrite = elsewhere("host");              // to the page, which takes buffers only inline
        const toPage = await error(host.call("Arrays B", "echo", [arg()]));
        window.arrays.rewrite = elsewhere("p999");              // A called, the buffers went to nobody
        const toA = await error(host.call("Arrays A", "through", ["Arrays B", arg()]));
        return { toPage, toA };
      } finally {
        window.arrays.rewrite = (name, msg) => msg;
      }
    }""")
    assert "CodecError" in result["toPage"] and "not to the caller" in result["toPage"], result
    assert "CodecError" in result["toA"] and "not to the caller" in result["toA"], result


def test_guessed_function_ids_are_not_handed_on(page) -> None:
    """A puts C's internal function id (never exported, never given to A) into a call to B, whose give() calls
    it: the host did not grant B that id, so the call fails and C's function never runs."""
    result = page.evaluate("""async (source) => {
      const { host } = window.arrays;
      await host.load(source, { filename: "c.py" });
      const internal = await host.call("Arrays C", "internal", []);
      const header = await host.call("Arrays A", "confused", ["Arrays B", internal]);
      return { internal, header, calls: await host.call("Arrays C", "secret_calls", []) };
    }""", PLUGIN.replace("{name}", "Arrays C"))
    assert "PermissionError" in result["header"] and result["internal"] in result["header"], result
    assert result["calls"] == 0


def test_no_page_errors(page) -> None:
    assert page.errors == []
