"""pyapp.plugins.runtime in CPython: the api object and the message protocol over an in-memory transport.

``FakeHost`` plays the part of ``web/pyapp/plugins.js``: it routes ``call`` messages to the runtime whose session
owns the target id, answers ``api`` requests (get_plugin, events, config) and delivers every message on a later
loop turn with copied buffers, as ``postMessage`` does.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pyapp.plugins import PluginError, imjoy_shim
from pyapp.plugins.runtime import DotDict, PluginRuntime
from pyapp.rpc import Interface, RemoteError, pack, unpack

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "data" / "plugins"


def ref(fid: str, name: str) -> Any:
    """A make_proxy for the host's bookkeeping: a callable that only remembers the remote id."""

    def remote(*args: Any) -> Any:
        raise AssertionError("the fake host never calls a remote function directly")

    remote.fid = fid  # type: ignore[attr-defined]
    return remote


class FakeHost:
    """Routes messages between runtimes in one process, like the page's plugin host."""

    def __init__(self) -> None:
        self.runtimes: dict[str, PluginRuntime] = {}
        self.by_name: dict[str, PluginRuntime] = {}
        self.exports: dict[str, bytes] = {}
        self.events: list[tuple[str, str, list[Any]]] = []
        self.configs: dict[str, dict[str, Any]] = {}
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.seq = 0
        self.messages: list[tuple[str, dict[str, Any]]] = []

    def runtime(self) -> PluginRuntime:
        session = f"p{len(self.runtimes) + 1}"
        runtime = PluginRuntime(lambda meta, header, buffers: self._from_worker(session, meta, header, buffers),
                                session=session)
        self.runtimes[session] = runtime
        return runtime

    async def load(self, source: str, filename: str, tag: str | None = None) -> dict[str, Any]:
        runtime = self.runtime()
        info = await runtime.start(source, filename, tag)
        self.by_name[info["name"]] = runtime
        return info

    # ---- the page's side ------------------------------------------------------------------------------------

    async def call(self, name: str, fn: str, *args: Any) -> Any:
        """Call an exported function of a plugin, as ``pyapp.plugins.call(name, fn, args)`` does."""
        runtime = self.by_name[name]
        exported = unpack(self.exports[runtime.session], make_proxy=ref)
        header, buffers = pack(list(args))
        ok, header, buffers = await self._route(exported[fn].fid, header, buffers)
        value = unpack(header, buffers)
        if not ok:
            raise value
        return value

    async def _route(self, target: str, header: bytes, buffers: list[Any]) -> tuple[bool, bytes, list[Any]]:
        session = target.split("/", 1)[0]
        runtime = self.runtimes[session]
        self.seq += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[self.seq] = future
        self._deliver(runtime, {"type": "call", "id": self.seq, "target": target}, header, buffers)
        return await future

    def _deliver(self, runtime: PluginRuntime, meta: dict[str, Any], header: bytes, buffers: list[Any]) -> None:
        copies = [bytearray(memoryview(b).cast("B")) for b in buffers]  # what arrives is a separate buffer
        asyncio.get_running_loop().call_soon(runtime.receive, meta, header, copies)

    # ---- messages from workers ------------------------------------------------------------------------------

    def _from_worker(self, session: str, meta: dict[str, Any], header: bytes, buffers: list[Any]) -> None:
        runtime = self.runtimes[session]
        self.messages.append((session, meta))
        kind = meta["type"]
        if kind == "export":
            self.exports[session] = header
        elif kind == "reply":
            self.pending.pop(meta["id"]).set_result((meta["ok"], header, [bytes(b) for b in buffers]))
        elif kind == "call":
            async def forward() -> None:
                ok, h, b = await self._route(meta["target"], header, buffers)
                self._deliver(runtime, {"type": "reply", "id": meta["id"], "ok": ok}, h, b)

            asyncio.get_running_loop().create_task(forward())
        elif kind == "api":
            name = runtime.plugin.manifest.name if runtime.plugin else session
            args = unpack(header, buffers, make_proxy=ref)
            try:
                result = self._api(name, meta["fn"], args)
                ok = True
            except Exception as exc:
                result, ok = exc, False
            if isinstance(result, bytes):  # get_plugin: the exported interface, as it came
                reply_header, reply_buffers = result, []
            else:
                reply_header, reply_buffers = pack(result)
            self._deliver(runtime, {"type": "reply", "id": meta["id"], "ok": ok}, reply_header, reply_buffers)

    def _api(self, name: str, fn: str, args: list[Any]) -> Any:
        if fn == "get_plugin":
            other = self.by_name.get(args[0])
            if other is None:
                raise LookupError(f"no plugin named {args[0]!r} is loaded")
            return self.exports[other.session]
        if fn == "get_config":
            config = self.configs.get(name, {})
            return dict(config) if args[0] is None else config.get(args[0], args[1])
        if fn == "set_config":
            self.configs.setdefault(name, {})[args[0]] = args[1]
            return None
        self.events.append((name, fn, args))
        return None


def plugin_source(name: str, body: str, deps: str = "[]") -> str:
    return (f'# /// script\n# dependencies = {deps}\n#\n# [tool.pyapp]\n# name = "{name}"\n# ///\n'
            f"from imjoy import api\n{body}")


ECHO = '''
import asyncio
import numpy as np


class Plugin:
    async def setup(self):
        await api.show_status("set up")

    def echo(self, x):
        return x

    async def double(self, x):
        return np.asarray(x) * 2

    async def through(self, other, x):
        peer = await api.get_plugin(other)
        return await peer.double(x)

    def fail(self):
        raise ValueError("bad value in the plugin")

    async def relay_fail(self, other):
        peer = await api.getPlugin(other)
        return await peer.fail()

    async def apply(self, fn, x):
        return await fn(x)

    async def ctx_sum(self, ctx):
        return ctx.config.a + ctx.config.b

    async def api_calls(self):
        await api.log("a", 1)
        await api.error("oops")
        await api.show_message("hello")
        await api.showMessage("hello again", 3)
        await api.showStatus("busy")
        await api.show_progress(50)
        await api.showProgress(0.5)
        await api.alert("careful")
        await api.set_config("k", [1, 2])
        await api.setConfig("j", {"x": 1})
        return await api.get_config("k"), await api.getConfig("missing", "dflt"), await api.get_config()


api.export(Plugin())
'''


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_load_export_and_setup() -> None:
    async def main() -> None:
        host = FakeHost()
        info = await host.load(plugin_source("Echo", ECHO, '["numpy"]'), "echo.py")
        assert info["name"] == "Echo" and info["format"] == "pep723" and info["dependencies"] == ["numpy"]
        assert {"echo", "double", "setup", "through"} <= set(info["interface"])
        assert host.events == [("Echo", "show_status", ["set up"])]
        exported = unpack(host.exports["p1"], make_proxy=ref)
        assert isinstance(exported, Interface) and exported["echo"].fid.startswith("p1/f")
        assert await host.call("Echo", "echo", {"a": [1, 2.5, None, "x"]}) == {"a": [1, 2.5, None, "x"]}

    run(main())


def test_ctx_reads_as_attributes_and_api_events() -> None:
    async def main() -> None:
        host = FakeHost()
        await host.load(plugin_source("Echo", ECHO), "echo.py")
        assert await host.call("Echo", "ctx_sum", {"config": {"a": 40, "b": 2}}) == 42
        got = await host.call("Echo", "api_calls")
        assert got == [[1, 2], "dflt", {"k": [1, 2], "j": {"x": 1}}]
        assert host.events[1:] == [
            ("Echo", "log", ["a 1"]), ("Echo", "error", ["oops"]), ("Echo", "show_message", ["hello", None]),
            ("Echo", "show_message", ["hello again", 3]), ("Echo", "show_status", ["busy"]),
            ("Echo", "show_progress", [50.0]), ("Echo", "show_progress", [0.5]), ("Echo", "alert", ["careful"])]

    run(main())


def test_cross_plugin_call_with_ndarray() -> None:
    async def main() -> None:
        host = FakeHost()
        await host.load(plugin_source("A", ECHO), "a.py")
        await host.load(plugin_source("B", ECHO), "b.py")
        x = np.arange(12, dtype=np.float32).reshape(3, 4)
        y = await host.call("A", "through", "B", x)
        assert y.dtype == np.float32 and y.shape == (3, 4) and np.array_equal(y, x * 2)
        # the call went A → host → B and back: B received a call whose target is one of its own ids
        assert any(s == "p2" and m["type"] == "reply" for s, m in host.messages)

    run(main())


def test_errors_carry_the_remote_traceback() -> None:
    async def main() -> None:
        host = FakeHost()
        await host.load(plugin_source("A", ECHO), "a.py")
        await host.load(plugin_source("B", ECHO), "b.py")
        with pytest.raises(RemoteError) as info:
            await host.call("A", "fail")
        assert info.value.type_name == "ValueError" and info.value.message == "bad value in the plugin"
        assert 'File "a.py"' in info.value.remote_traceback and "in fail" in info.value.remote_traceback
        # B's error reaches A as a RemoteError, and A's caller gets it with B's traceback
        with pytest.raises(RemoteError) as info:
            await host.call("A", "relay_fail", "B")
        assert info.value.type_name == "ValueError" and 'File "b.py"' in info.value.remote_traceback
        # an unknown plugin: get_plugin fails in the plugin, with the host's message
        with pytest.raises(RemoteError, match="no plugin named 'C' is loaded"):
            await host.call("A", "through", "C", 1)

    run(main())


def test_callbacks_go_both_ways() -> None:
    async def main() -> None:
        host = FakeHost()
        await host.load(plugin_source("A", ECHO), "a.py")
        await host.load(plugin_source("B", ECHO), "b.py")
        # A gets B's `double` as a function argument and calls it: a callback across plugins
        b = unpack(host.exports["p2"], make_proxy=ref)
        runtime_a = host.by_name["A"]
        proxy = runtime_a.make_proxy(b["double"].fid, "double")
        assert proxy.__name__ == "double"
        assert await runtime_a.exported["apply"](proxy, 21) == 42

    run(main())


def test_imjoy_html_fixture_runs_unmodified() -> None:
    async def main() -> None:
        host = FakeHost()
        calc = await host.load((FIXTURES / "calculator.imjoy.html").read_text(), "calculator.imjoy.html")
        caller = await host.load((FIXTURES / "caller.imjoy.html").read_text(), "caller.imjoy.html")
        assert calc["format"] == "imjoy" and calc["tag"] == "stable"
        assert await host.call(caller["name"], "run", {"config": {"x": 40}}) == 42
        assert ("Calculator caller", "show_message", ["Calculator says 42", None]) in host.events
        assert ("Calculator", "log", ["Calculator (stable) ready"]) in host.events
        # after start, `import imjoy` gives the shim, connected to the last runtime
        assert sys.modules["imjoy"] is imjoy_shim

    run(main())


def test_builtin_plugins() -> None:
    async def main() -> None:
        host = FakeHost()
        await host.load((ROOT / "plugins" / "calculator.py").read_text(), "calculator.py")
        await host.load((ROOT / "plugins" / "caller.py").read_text(), "caller.py")
        assert await host.call("Calculator caller", "run", {"config": {"a": 40, "b": 2}}) == 42
        assert await host.call("Calculator", "run", {"config": {"a": 6, "b": 7, "op": "mul"}}) == 42
        with pytest.raises(RemoteError, match="ZeroDivisionError: cannot divide 1 by zero"):
            await host.call("Calculator", "div", 1, 0)

    run(main())


def test_start_failures() -> None:
    async def main() -> None:
        host = FakeHost()
        with pytest.raises(PluginError, match=r"bad.py: tool.pyapp.tags\[0\]"):
            await host.load('# /// script\n# [tool.pyapp]\n# name = "X"\n# tags = [3]\n# ///\n', "bad.py")
        with pytest.raises(RuntimeError, match=r"never called api\.export"):
            await host.load(plugin_source("Quiet", "x = 1\n"), "quiet.py")
        with pytest.raises(ZeroDivisionError):
            await host.load(plugin_source("Boom", "1 / 0\n"), "boom.py")
        failing_setup = "class P:\n    async def setup(self):\n        raise OSError('no disk')\napi.export(P())\n"
        with pytest.raises(OSError, match="no disk"):
            await host.load(plugin_source("Setup", failing_setup), "setup.py")
        # top-level await runs
        info = await host.load(plugin_source("Top", "await api.log('top')\napi.export({'f': lambda: 1})\n"), "top.py")
        assert info["interface"] == ["f"] and ("Top", "log", ["top"]) in host.events

    run(main())


def test_unknown_target_and_undecodable_result() -> None:
    async def main() -> None:
        host = FakeHost()
        await host.load(plugin_source("A", "api.export({'obj': lambda: object()})\n"), "a.py")
        ok, header, buffers = await host._route("p1/nope", *pack([]))
        err = unpack(header, buffers)
        assert not ok and err.type_name == "LookupError" and "p1/nope" in err.message
        with pytest.raises(RemoteError, match="cannot encode a value of type object"):
            await host.call("A", "obj")

    run(main())


def test_dotdict() -> None:
    d = DotDict(a=1)
    d.b = 2
    assert d.a == 1 and d["b"] == 2
    with pytest.raises(AttributeError, match="no key 'c'"):
        _ = d.c
