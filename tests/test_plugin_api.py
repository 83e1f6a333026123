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
        self.windows: dict[str, Any] = {}
        self.services: dict[str, Any] = {}
        self.answers: list[Any] = []
        self.files: list[dict[str, Any]] = []

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
                reply_header, reply_buffers = pack(result, register=lambda f: f.fid)  # proxies go on to their owner
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
        return self._ui_api(fn, args)

    def _ui_api(self, fn: str, args: list[Any]) -> Any:
        """Dialogs, windows, files and services, answered from the lists the test fills."""
        if fn in ("create_window", "show_dialog"):
            wid = f"w{len(self.windows) + 1}"
            self.windows[wid] = args[0]
            return {"id": wid, "result": None}
        if fn == "close_window":
            return self.windows.pop(args[0], None) is not None
        if fn == "prompt":
            return self.answers.pop(0)
        if fn == "confirm":
            return bool(self.answers.pop(0))
        if fn == "show_file_dialog":
            if not self.files:
                raise RuntimeError("api.show_file_dialog: this page has no file picker for plugins")
            return self.files.pop(0)
        if fn == "register_service":
            self.services[args[0]["id"]] = args[0]
            return args[0]["id"]
        if fn == "get_service":
            if args[0] not in self.services:
                raise LookupError(f"no service {args[0]!r} is registered")
            return self.services[args[0]]
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


def test_remote_function_passed_on_keeps_its_id() -> None:
    """A hands B's own function to B: B gets its id back (no wrapper in A); an export wraps it as A's own."""
    body = ECHO.replace("    async def ctx_sum", """    async def hand_on(self, other, x):
        peer = await api.get_plugin(other)
        return await peer.apply(peer.double, x)

    async def ctx_sum""")

    async def main() -> None:
        host = FakeHost()
        await host.load(plugin_source("A", body), "a.py")
        await host.load(plugin_source("B", body), "b.py")
        assert await host.call("A", "hand_on", "B", 21) == 42
        targets = [m["target"] for s, m in host.messages if m["type"] == "call"]
        assert not any(t.startswith("p1/") for t in targets), targets  # B called its own double, not A
        runtime_a = host.by_name["A"]
        b = unpack(host.exports["p2"], make_proxy=ref)
        runtime_a.export({"twice": runtime_a.make_proxy(b["double"].fid, "double")})
        exported = unpack(host.exports["p1"], make_proxy=ref)
        assert exported["twice"].fid.startswith("p1/")
        assert await host.call("A", "twice", 4) == 8

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


UI = """
import numpy as np


class Plugin:
    async def dialogs(self):
        name = await api.prompt("Your name?", "nobody")
        sure = await api.confirm(f"Greet {name}?")
        return [name, sure]

    async def windows(self):
        image = await api.create_window({"type": "imageviewer", "name": "ramp",
                                         "data": np.arange(12, dtype=np.float32).reshape(3, 4)})
        plot = await api.createWindow(type="plot", data={"x": [1, 2], "y": [3, 4]})
        text = await api.show_dialog({"type": "markdown", "data": "# hi"})
        closed = await image.close()
        return [image.id, image.type, image.name, plot.id, plot.name, text.id, closed]

    async def bad_window(self, spec):
        return await api.create_window(spec)

    async def open_file(self):
        f = await api.showFileDialog({"accept": ".txt"})
        return [f.name, f.bytes.decode()]

    async def offer(self):
        return await api.register_service({"id": "greeter", "greet": lambda who: f"hello {who}", "lang": "en"})

    async def use(self):
        svc = await api.getService("greeter")
        return [svc.lang, await svc.greet("B")]

    async def missing(self):
        return await api.get_service({"id": "nope"})


api.export(Plugin())
"""


def test_prompt_and_confirm_reach_the_host() -> None:
    async def main() -> None:
        host = FakeHost()
        await host.load(plugin_source("UI", UI, '["numpy"]'), "ui.py")
        host.answers = ["Ada", True]
        assert await host.call("UI", "dialogs") == ["Ada", True]
        assert host.events == [("UI", "prompt", ["Your name?", "nobody"]), ("UI", "confirm", ["Greet Ada?"])]

    run(main())


def test_windows_with_ndarray_plot_and_markdown() -> None:
    async def main() -> None:
        host = FakeHost()
        await host.load(plugin_source("UI", UI, '["numpy"]'), "ui.py")
        got = await host.call("UI", "windows")
        assert got == ["w1", "imageviewer", "ramp", "w2", "plot", "w3", True]
        assert sorted(host.windows) == ["w2", "w3"]  # w1 was closed
        image = next(a[0] for n, fn, a in host.events if fn == "create_window" and a[0]["type"] == "imageviewer")
        assert image["data"].dtype == np.float32 and image["data"].shape == (3, 4)
        assert np.array_equal(image["data"], np.arange(12, dtype=np.float32).reshape(3, 4))
        assert [fn for _, fn, _ in host.events] == ["create_window", "create_window", "show_dialog", "close_window"]
        for spec, message in [({"data": 1}, "needs a 'type'"),
                              ({"type": "imageviewer", "data": [1, 2]}, "2-d or 3-d ndarray, got list"),
                              ({"type": "plot", "data": {"x": [1]}}, "needs data: {'x'"),
                              ({"type": "plot", "data": {"x": [1], "y": [1, 2]}}, "x and y of one length"),
                              ({"type": "markdown", "data": 3}, "needs data: the text, got int")]:
            with pytest.raises(RemoteError, match=message) as info:
                await host.call("UI", "bad_window", spec)
            assert info.value.type_name == "ValueError"

    run(main())


def test_file_dialog() -> None:
    async def main() -> None:
        host = FakeHost()
        await host.load(plugin_source("UI", UI, '["numpy"]'), "ui.py")
        with pytest.raises(RemoteError, match="no file picker"):
            await host.call("UI", "open_file")
        host.files = [{"name": "notes.txt", "bytes": b"some text", "size": 9, "type": "text/plain"}]
        assert await host.call("UI", "open_file") == ["notes.txt", "some text"]
        assert ("UI", "show_file_dialog", [{"accept": ".txt"}]) in host.events

    run(main())


def test_services_across_plugins() -> None:
    async def main() -> None:
        host = FakeHost()
        await host.load(plugin_source("A", UI, '["numpy"]'), "a.py")
        await host.load(plugin_source("B", UI, '["numpy"]'), "b.py")
        with pytest.raises(RemoteError, match="no service 'greeter'"):
            await host.call("B", "use")
        assert await host.call("A", "offer") == "greeter"
        # B calls A's function: the proxy's id belongs to A's session, so the host routes the call to A
        assert await host.call("B", "use") == ["en", "hello B"]
        with pytest.raises(RemoteError, match="no service 'nope'"):
            await host.call("B", "missing")
        runtime = host.by_name["A"]
        with pytest.raises(ValueError, match="non-empty string 'id'"):
            runtime.api.register_service({"greet": print})
        with pytest.raises(TypeError, match="needs a dict"):
            runtime.api.registerService(["x"])

    run(main())


def test_builtin_model_plugins_use_the_models_service() -> None:
    """Model runner and Image classifier call the page's "pyapp.models" service (here: a fake one)."""

    async def main() -> None:
        host = FakeHost()
        await host.load((ROOT / "plugins" / "model_runner.py").read_text(), "model_runner.py")
        await host.load((ROOT / "plugins" / "image_classifier.py").read_text(), "image_classifier.py")
        with pytest.raises(RemoteError, match="needs the app's page"):
            await host.call("Model runner", "predict", "smooth2d", np.zeros((1, 1, 8, 8), np.float32))
        with pytest.raises(RemoteError, match="Image classifier needs the app's page"):
            await host.call("Image classifier", "classify")
        # a third plugin plays the page's service
        service = """
import numpy as np


def predict(model, image, options):
    return {"backend": "fake", "ms": 1.5, "outputs": [{"id": "out", "data": np.asarray(image) + 1}]}


def classify(options):
    return [{"label": "tabby", "p": 0.9}][: options["k"]]


api.register_service({"id": "pyapp.models", "predict": predict, "classify": classify})
api.export({"noop": lambda: None})
"""
        await host.load(plugin_source("Fake page", service, '["numpy"]'), "fake.py")
        await asyncio.sleep(0.01)  # let the registration arrive (it is sent at import, not awaited)
        x = np.ones((1, 1, 8, 8), np.float32)
        result = await host.call("Model runner", "predict", "smooth2d", x, {})
        assert result["backend"] == "fake" and np.array_equal(result["outputs"][0]["data"], x + 1)
        info = await host.call("Model runner", "run", {"config": {"model": "m", "image": x}})
        assert info["shape"] == [1, 1, 8, 8] and info["dtype"] == "float32"
        assert any(fn == "create_window" and a[0]["type"] == "imageviewer" for _, fn, a in host.events)
        assert await host.call("Image classifier", "classify", 1) == [{"label": "tabby", "p": 0.9}]

    run(main())
