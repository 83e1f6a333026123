"""The browser glue of a plugin worker: buffers between the JavaScript worker and the Pyodide heap.

``web/pyapp/plugin-worker.js`` builds the runtime's transport with :func:`pyodide_transport`. Each buffer of a
message is copied once out of the wasm heap and once into it; nothing else (the rpc header is JSON, the arrays
are numpy views of the heap copy). Only :func:`pyodide_transport` needs Pyodide; :class:`Spares` runs anywhere.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runtime import PluginRuntime, Send

__all__ = ["SPARE_BYTES", "SPARE_SECONDS", "Spares", "pyodide_transport"]

SPARE_SECONDS = 1.0
"""How long a received buffer is kept to be reused for an outgoing one of the same size."""
SPARE_BYTES = 512 * 1024 * 1024
"""At most this many bytes of received buffers are kept for reuse."""


class Spares:
    """Buffers that arrived (already copied into the heap), kept a short while so that an outgoing buffer of the
    same size is copied into memory that is already mapped rather than into a fresh allocation (64 MB: ~10 ms
    instead of ~50 ms in Chromium). A spare leaves only overwritten entirely, and it only ever held what this
    worker itself received: nothing of another plugin can leak through it.

    Parameters
    ----------
    now
        The clock, in seconds.
    """

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._kept: list[tuple[float, int, Any]] = []

    def keep(self, buffer: Any) -> bool:
        """Keep ``buffer`` (anything with ``byteLength``) for reuse; False when it is not kept (empty, too large,
        or kept already: one buffer must never serve two outgoing ones)."""
        size = buffer.byteLength
        if not size or size > SPARE_BYTES or any(kept is buffer or kept == buffer for _, _, kept in self._kept):
            return False
        self._kept.append((self._now(), size, buffer))
        self.expire()
        while sum(entry[1] for entry in self._kept) > SPARE_BYTES:
            self._kept.pop(0)
        return True

    def take(self, size: int) -> Any | None:
        """A kept buffer of exactly ``size`` bytes (no longer kept), or None."""
        self.expire()
        for i, (_, kept, buffer) in enumerate(self._kept):
            if kept == size and buffer.byteLength == size:
                del self._kept[i]
                return buffer
        return None

    def expire(self) -> None:
        """Let go of the buffers kept longer than :data:`SPARE_SECONDS`."""
        limit = self._now() - SPARE_SECONDS
        self._kept = [entry for entry in self._kept if entry[0] >= limit]

    def __len__(self) -> int:
        return len(self._kept)


def pyodide_transport(post: Any) -> tuple[Send, Callable[[PluginRuntime], Callable[[str, str, Any], None]]]:
    """Browser glue (Pyodide only). ``post(meta_json, header_text, js_array_of_uint8arrays)`` is the worker's
    JS function that calls ``postMessage`` with the buffers as transferables. Returns ``(send, receiver)``:
    ``send`` is the runtime's transport, ``receiver(runtime)`` gives the function the worker calls with each
    message from the host, ``receive(meta_json, header_text, js_array_of_arraybuffers)``.

    Each buffer is copied once out of the wasm heap (into a spare buffer of its size that arrived within the
    last second, else a new one) and once into it; numpy arrays are views of the heap copy."""
    import numpy as np
    from js import Uint8Array, setTimeout  # type: ignore[import-not-found]
    from pyodide.ffi import create_once_callable, to_js  # type: ignore[import-not-found]

    spares = Spares()

    def send(meta: dict[str, Any], header: bytes, buffers: list[memoryview]) -> None:
        arrays = []
        for view in buffers:
            spare = spares.take(view.nbytes)
            array = Uint8Array.new(spare if spare is not None else view.nbytes)  # the one copy out of the heap
            if view.nbytes:
                array.assign(view if view.format == "B" and view.ndim == 1 else view.cast("B"))
            arrays.append(array)
        post(json.dumps(meta), header.decode(), to_js(arrays))

    def receiver(runtime: PluginRuntime) -> Callable[[str, str, Any], None]:
        def receive(meta_json: str, header: str, js_buffers: Any) -> None:
            buffers = []
            for buffer in js_buffers:
                out = np.empty(buffer.byteLength, np.uint8)  # the one copy into the wasm heap
                if buffer.byteLength:
                    Uint8Array.new(buffer).assign_to(out)
                buffers.append(memoryview(out))
                if spares.keep(buffer):  # an idle worker lets go of its spares too
                    setTimeout(create_once_callable(spares.expire), int(SPARE_SECONDS * 1000) + 50)
            runtime.receive(json.loads(meta_json), header.encode(), buffers)

        return receive

    return send, receiver
