"""The Python side of a plugin worker: the ``api`` object, the call registry and the message loop.

One :class:`PluginRuntime` lives in each plugin's Pyodide worker (``web/pyapp/plugin-worker.js``). It talks to
the host (``web/pyapp/plugins.js``) through a *transport*: ``send(meta, header, buffers)`` where ``meta`` is a
small JSON-able dict that routes the message and ``header``/``buffers`` are what :func:`pyapp.rpc.pack` made.
The host calls :meth:`PluginRuntime.receive` with the same three parts. Nothing here imports Pyodide, so the
whole protocol runs in CPython with an in-memory transport (``tests/test_plugin_api.py``);
:func:`pyapp.plugins.transport.pyodide_transport` is the browser glue.

Messages (``meta["type"]``)::

    worker → host  call    {id, target}          call the remote function ``target`` (id "<session>/f<n>" or
                                                 "host/f<n>"); value: the list of arguments
    worker → host  api     {id, fn}              an api request to the host (get_plugin, show_message, ...);
                                                 value: the list of arguments
    worker → host  export  {}                    value: the exported :class:`~pyapp.rpc.Interface`
    host → worker  call    {id, target}          call one of this worker's registered functions
    both ways      reply   {id, ok}              value: the result, or an ``error`` when ``ok`` is false

Every function a plugin sends (exported members, callbacks) is registered under an id that starts with the
worker's session name, so the host routes a call to the worker that owns the function. A remote function it
received and passes on keeps its id (the receiver calls the owner directly; the host grants the id only when
the sender may call it), except in ``api.export``, where it is wrapped as the plugin's own.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import sys
import traceback
import types
from collections.abc import Awaitable, Callable
from typing import Any

from ..rpc import Interface, RemoteError, pack, unpack
from . import imjoy_shim
from .manifest import Plugin, load_plugin
from .transport import pyodide_transport
from .windows import Window, event_loop, then, window_spec

__all__ = ["Api", "DotDict", "PluginRuntime", "Window", "pyodide_transport"]

Send = Callable[[dict[str, Any], bytes, list[memoryview]], None]
"""``send(meta, header, buffers)``: hands one message to the host."""


class DotDict(dict):
    """A dict whose keys read as attributes (``ctx.config.a``), as ImJoy's Python api gives them."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no key {name!r}; keys: {sorted(self)}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


def _own(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func``, or for a remote function a local one that calls it (an export holds only the plugin's own)."""
    if not isinstance(getattr(func, "_rpc_id", None), str):
        return func

    async def forward(*args: Any) -> Any:
        return await func(*args)

    forward.__name__ = getattr(func, "__name__", "remote")
    return forward


def _dotted(value: Any) -> Any:
    if isinstance(value, dict) and not isinstance(value, Interface):
        return DotDict({k: _dotted(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_dotted(v) for v in value]
    return value


class PluginRuntime:
    """One plugin's end of the connection: registry of local functions, pending requests, the api.

    Parameters
    ----------
    send
        The transport, ``send(meta, header, buffers)``.
    session
        The worker's name for routing (given by the host); every registered function id starts with it.
    """

    def __init__(self, send: Send, session: str = "p0"):
        self._send = send
        self.session = session
        self._functions: dict[str, Callable[..., Any]] = {}
        self._ids: dict[int, str] = {}
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._next = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self.exported: Interface | None = None
        self.plugin: Plugin | None = None
        self.api = Api(self)

    # ---- the codec's hooks -----------------------------------------------------------------------------------

    def register(self, func: Callable[..., Any]) -> str:
        """An id for ``func`` that the peer can call (the same function always gets the same id; a remote
        function keeps its own)."""
        remote_id = getattr(func, "_rpc_id", None)
        if isinstance(remote_id, str):
            return remote_id
        key = id(func)
        if key in self._ids and self._functions.get(self._ids[key]) is func:
            return self._ids[key]
        self._next += 1
        fid = f"{self.session}/f{self._next}"
        self._functions[fid] = func
        self._ids[key] = fid
        return fid

    def make_proxy(self, fid: str, name: str) -> Callable[..., Awaitable[Any]]:
        """An async stand-in for the remote function ``fid``: awaiting it calls the owner through the host."""

        async def remote(*args: Any) -> Any:
            return await self.request({"type": "call", "target": fid}, list(args))

        remote.__name__ = name or fid
        remote.__qualname__ = remote.__name__
        remote._rpc_id = fid  # type: ignore[attr-defined]
        return remote

    # ---- sending --------------------------------------------------------------------------------------------

    def post(self, meta: dict[str, Any], value: Any, *, root: str = "value") -> None:
        header, buffers = pack(value, register=self.register, root=root)
        self._send(meta, header, buffers)

    def request(self, meta: dict[str, Any], value: Any) -> asyncio.Future[Any]:
        """Send a message that expects a ``reply``; the future gets its value (or its RemoteError)."""
        self._next += 1
        rid = self._next
        future: asyncio.Future[Any] = event_loop().create_future()
        self._pending[rid] = future
        try:
            self.post({**meta, "id": rid}, value, root="args")
        except Exception:
            del self._pending[rid]
            raise
        return future

    # ---- receiving ------------------------------------------------------------------------------------------

    def receive(self, meta: dict[str, Any], header: bytes | str, buffers: list[Any]) -> None:
        """Handle one message from the host (replies resolve futures; calls run as tasks)."""
        if isinstance(header, str):
            header = header.encode()
        kind = meta.get("type")
        if kind == "reply":
            future = self._pending.pop(meta["id"], None)
            if future is None or future.done():
                return
            try:
                value = unpack(header, buffers, make_proxy=self.make_proxy)
            except Exception as exc:
                future.set_exception(exc)
                return
            if meta.get("ok"):
                future.set_result(_dotted(value))
            else:
                future.set_exception(value if isinstance(value, BaseException) else RemoteError(
                    "RemoteError", str(value)))
        elif kind == "call":
            task = event_loop().create_task(self._serve(meta, header, buffers))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            print(f"pyapp plugin runtime: ignored a message of type {kind!r}", file=sys.stderr)

    async def _serve(self, meta: dict[str, Any], header: bytes, buffers: list[Any]) -> None:
        rid = meta.get("id")
        try:
            target = meta.get("target")
            func = self._functions.get(target)
            if func is None:
                raise LookupError(f"no function {target!r} in this plugin (it may have been reloaded)")
            args = _dotted(unpack(header, buffers, make_proxy=self.make_proxy))
            if not isinstance(args, list):
                raise TypeError(f"call arguments must be a list, got {type(args).__name__}")
            result = func(*args)
            if inspect.isawaitable(result):
                result = await result
            self.post({"type": "reply", "id": rid, "ok": True}, result, root="result")
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            try:
                self.post({"type": "reply", "id": rid, "ok": False}, exc)
            except Exception as inner:  # an error that cannot be encoded: send its text
                self.post({"type": "reply", "id": rid, "ok": False},
                          RemoteError(type(inner).__name__, str(inner), traceback.format_exc()))

    # ---- lifecycle ------------------------------------------------------------------------------------------

    def export(self, obj: Any) -> None:
        """Register ``obj``'s public callables (or a dict of them) as the plugin's interface and send it."""
        if isinstance(obj, Interface):
            interface = obj
        elif isinstance(obj, dict):
            interface = Interface({k: v for k, v in obj.items() if callable(v) and not k.startswith("_")})
        else:
            interface = Interface.from_object(obj)
        interface = Interface({name: _own(member) for name, member in interface.items()})
        self.exported = interface
        self.post({"type": "export"}, interface, root="export")

    async def start(self, source: str, filename: str, tag: str | None = None) -> dict[str, Any]:
        """Load the plugin file, connect ``from imjoy import api``, run its code, then ``setup()``.

        Returns the manifest summary and the exported member names. Errors propagate (with the plugin's
        traceback) so the host can report a failed load.
        """
        self.plugin = plugin = load_plugin(source, filename=filename, tag=tag)
        imjoy_shim.api._connect(self.api)
        await self.run_code(plugin.code, plugin.filename)
        if self.exported is None:
            raise RuntimeError(f"{plugin.filename}: the plugin never called api.export(...)")
        if "setup" in self.exported:
            result = self.exported["setup"]()
            if inspect.isawaitable(result):
                await result
        m = plugin.manifest
        return {"name": m.name, "version": m.version, "description": m.description, "type": m.type,
                "tag": plugin.tag, "format": plugin.format, "icon": m.icon, "runnable": m.runnable,
                "dependencies": list(m.dependencies), "interface": sorted(self.exported)}

    async def run_code(self, code: str, filename: str) -> dict[str, Any]:
        """Run the plugin's module code in a fresh namespace (top-level ``await`` allowed)."""
        namespace: dict[str, Any] = {"__name__": "__plugin__", "__file__": filename}
        compiled = compile(code, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
        # While the module code runs, `imjoy` is a module of this runtime's own api, so that several runtimes
        # in one process (tests, a CPython host) each bind their own; afterwards the shim (connected to the
        # last started runtime: in a worker, the only one) serves later `import imjoy`.
        own = types.ModuleType("imjoy", "pyapp's stand-in for ImJoy's imjoy module")
        own.api = self.api  # type: ignore[attr-defined]
        saved = {name: sys.modules.get(name) for name in ("imjoy", "imjoy_rpc")}
        sys.modules["imjoy"] = sys.modules["imjoy_rpc"] = own
        try:
            result = eval(compiled, namespace)
            if inspect.isawaitable(result):
                await result
        finally:
            for name, module in saved.items():
                sys.modules[name] = module if module is not None else imjoy_shim
        return namespace


class Api:
    """What ``from imjoy import api`` gives a plugin. Calls are async; ImJoy's camelCase names work too."""

    def __init__(self, runtime: PluginRuntime):
        self._runtime = runtime

    def _host(self, fn: str, *args: Any) -> asyncio.Future[Any]:
        return self._runtime.request({"type": "api", "fn": fn}, list(args))

    def export(self, obj: Any) -> asyncio.Future[Any]:
        """Make ``obj``'s public methods callable by the host and other plugins (call once, at import)."""
        self._runtime.export(obj)
        done: asyncio.Future[Any] = event_loop().create_future()
        done.set_result(None)
        return done  # plugins call it without await, as in ImJoy; awaiting it works too

    def get_plugin(self, name: str) -> asyncio.Future[Any]:
        """The interface of another loaded plugin; its methods are async remote calls."""
        return self._host("get_plugin", name)

    def log(self, *args: Any) -> asyncio.Future[Any]:
        """A line in the plugin's log (also printed to the worker's console)."""
        text = " ".join(str(a) for a in args)
        print(text)
        return self._host("log", text)

    def error(self, *args: Any) -> asyncio.Future[Any]:
        """An error line in the plugin's log."""
        text = " ".join(str(a) for a in args)
        print(text, file=sys.stderr)
        return self._host("error", text)

    def show_message(self, message: str, duration: float | None = None) -> asyncio.Future[Any]:
        """A short message for the user (a snackbar in the shell)."""
        return self._host("show_message", str(message), duration)

    def show_status(self, status: str) -> asyncio.Future[Any]:
        """The plugin's one-line status."""
        return self._host("show_status", str(status))

    def show_progress(self, progress: float) -> asyncio.Future[Any]:
        """Progress, 0–100 (ImJoy also accepts 0–1)."""
        return self._host("show_progress", float(progress))

    def alert(self, message: str) -> asyncio.Future[Any]:
        """A message the user must acknowledge."""
        return self._host("alert", str(message))

    def get_config(self, key: str | None = None, default: Any = None) -> asyncio.Future[Any]:
        """A value stored with :meth:`set_config` (all of them when ``key`` is None)."""
        return self._host("get_config", key, default)

    def set_config(self, key: str, value: Any) -> asyncio.Future[Any]:
        """Store a JSON-like value for this plugin (in memory for now)."""
        return self._host("set_config", key, value)

    # ---- dialogs, windows, files ----------------------------------------------------------------------------

    def prompt(self, message: str, default: Any = None) -> asyncio.Future[Any]:
        """Ask the user for a line of text; resolves with the answer (None when cancelled)."""
        return self._host("prompt", str(message), default)

    def confirm(self, message: str) -> asyncio.Future[Any]:
        """Ask the user a yes/no question; resolves with True or False."""
        return self._host("confirm", str(message))

    def create_window(self, config: dict[str, Any] | None = None, **fields: Any) -> asyncio.Future[Any]:
        """Open a window: ``{"type": "imageviewer", "data": ndarray}``, ``{"type": "plot", "data": {"x": [...],
        "y": [...]}}`` or ``{"type": "markdown", "data": "# text"}`` (plus ``name``). Resolves with a
        :class:`Window` (``.id``, ``await window.close()``)."""
        spec = window_spec(config, fields)
        return then(self._host("create_window", spec), lambda reply: Window(self, reply, spec))

    def show_dialog(self, config: dict[str, Any] | None = None, **fields: Any) -> asyncio.Future[Any]:
        """Like :meth:`create_window`, shown as a dialog."""
        spec = window_spec(config, fields)
        return then(self._host("show_dialog", spec), lambda reply: Window(self, reply, spec))

    def show_file_dialog(self, config: dict[str, Any] | None = None, **fields: Any) -> asyncio.Future[Any]:
        """Ask the user for a file; resolves with ``{"name", "bytes", "size", "type"}`` of the chosen one."""
        return self._host("show_file_dialog", _dotted({**(config or {}), **fields}))

    # ---- services -------------------------------------------------------------------------------------------

    def register_service(self, service: dict[str, Any]) -> asyncio.Future[Any]:
        """Offer a dict of functions and values to every plugin (and the page) under ``service["id"]`` (or its
        ``name``); resolves with the id. Other plugins get it with :meth:`get_service`."""
        if not isinstance(service, dict):
            raise TypeError(f"register_service needs a dict with an 'id', got {type(service).__name__}")
        sid = service.get("id", service.get("name"))
        if not isinstance(sid, str) or not sid:
            raise ValueError(f"register_service needs a non-empty string 'id' (or 'name'); got keys {sorted(service)}")
        return self._host("register_service", {**service, "id": sid})

    def get_service(self, query: str | dict[str, Any]) -> asyncio.Future[Any]:
        """The service registered under ``query`` (an id, or ``{"id": ...}``); its functions are remote calls.
        The page offers ``"pyapp.models"`` (predict, models, describe, classify) where it has ``window.pyapp``."""
        sid = query.get("id", query.get("name")) if isinstance(query, dict) else query
        if not isinstance(sid, str) or not sid:
            raise ValueError(f"get_service needs a service id, got {query!r}")
        return self._host("get_service", sid)

    # ImJoy's camelCase spellings
    getPlugin = get_plugin
    showMessage = show_message
    showStatus = show_status
    showProgress = show_progress
    getConfig = get_config
    setConfig = set_config
    showDialog = show_dialog
    createWindow = create_window
    showFileDialog = show_file_dialog
    registerService = register_service
    getService = get_service
