"""Windows a plugin opens through the host (image viewer, plot, markdown, dialogs): their checks and handle.

:meth:`pyapp.plugins.runtime.Api.create_window` checks the config here, in the plugin, so a mistake fails where
it was made; the host opens the window and answers with its id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runtime import Api


def event_loop() -> asyncio.AbstractEventLoop:
    """The running loop; in Pyodide, calls from JavaScript run outside a task and get the webloop."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.get_event_loop()



WINDOW_TYPES = ("imageviewer", "plot", "markdown")


def window_spec(config: dict[str, Any] | None, fields: dict[str, Any]) -> dict[str, Any]:
    """Check a create_window config; the built-in types' data is checked here so mistakes fail in the plugin."""
    spec = {**(config or {}), **fields}
    kind = spec.get("type")
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"create_window needs a 'type' ({', '.join(WINDOW_TYPES)}); got {kind!r}")
    data = spec.get("data")
    if kind == "imageviewer":
        import numpy as np

        if not isinstance(data, np.ndarray) or data.ndim not in (2, 3):
            got = f"an ndarray of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
            raise ValueError(f"an 'imageviewer' window needs data: a 2-d or 3-d ndarray, got {got}")
    elif kind == "plot":
        if not isinstance(data, dict) or "x" not in data or "y" not in data:
            raise ValueError("a 'plot' window needs data: {'x': [...], 'y': [...]}")
        if len(data["x"]) != len(data["y"]):
            raise ValueError(f"a 'plot' window needs x and y of one length, got {len(data['x'])} and {len(data['y'])}")
    elif kind == "markdown" and not isinstance(data, str):
        raise ValueError(f"a 'markdown' window needs data: the text, got {type(data).__name__}")
    return spec


def then(future: asyncio.Future[Any], fn: Callable[[Any], Any]) -> asyncio.Future[Any]:
    """A future of ``fn(result)`` (the request is already sent, so the call works with or without await)."""
    out: asyncio.Future[Any] = event_loop().create_future()

    def done(f: asyncio.Future[Any]) -> None:
        if out.cancelled():
            return
        if f.cancelled():
            out.cancel()
        elif f.exception() is not None:
            out.set_exception(f.exception())  # type: ignore[arg-type]
        else:
            try:
                out.set_result(fn(f.result()))
            except Exception as exc:
                out.set_exception(exc)

    future.add_done_callback(done)
    return out


class Window:
    """A window the host opened (:meth:`Api.create_window`): ``id``, ``type``, ``name`` and ``close()``."""

    def __init__(self, api: Api, reply: Any, spec: dict[str, Any]):
        self._api = api
        self.id: str = reply["id"] if isinstance(reply, dict) else str(reply)
        self.type: str = spec["type"]
        self.name: str = spec.get("name") or self.type
        self.result = reply.get("result") if isinstance(reply, dict) else None

    def close(self) -> asyncio.Future[Any]:
        """Close the window."""
        return self._api._host("close_window", self.id)

    def __repr__(self) -> str:
        return f"Window(id={self.id!r}, type={self.type!r}, name={self.name!r})"
