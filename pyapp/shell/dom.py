"""The shell's bridge to the page: elements, events, JavaScript values and promises (PyScript, browser only).

Written for PyScript's MicroPython (1.26.0-preview-293), with three rules that come from MicroPython in the
browser:

- never ``await`` a JavaScript promise directly: PyScript imports ``asyncio``, and from then on MicroPython
  waits on a promise through ``asyncio.core.ThenableEvent`` and wakes the waiting coroutine through
  ``asyncio.core.TopLevelCoro``, which holds one pending resume for the whole interpreter. Two coroutines awaiting
  at once (two event handlers, or a click while a run awaits the model worker) overwrite each other's: one is
  woken with the other's (missing) answer, the other is never woken. And a rejection is never delivered (the
  event only listens to fulfilment), so the coroutine hangs. :func:`wait` and :func:`sleep` instead *yield* the
  promise (:func:`_answer`), which MicroPython hands to the JavaScript code driving that coroutine: each
  coroutine is resumed with its own promise's outcome;
- the promise yielded is ``pyapp.bridge.settle(promise)``, which always resolves (to ``{ok, value | error}``):
  :func:`wait` raises :class:`JsError` with the rejection's one line;
- no ``asyncio`` (its sleeps break later JavaScript awaits): :func:`sleep` waits on a JavaScript timer.

JavaScript objects become Python data through JSON (:func:`py`).
"""
import json

from pyscript import document, window  # type: ignore[import-not-found]
from pyscript.ffi import create_proxy, to_js  # type: ignore[import-not-found]


class JsError(Exception):
    """A JavaScript call failed; the message is the one line of its ``Error``."""


def el(name: str) -> object:
    """The element with id ``name``."""
    return document.getElementById(name)


def js(value: object) -> object:
    """A Python dict/list (functions and JavaScript objects inside are kept) as a JavaScript object/array."""
    return to_js(value)


def py(value: object) -> object:
    """Plain JavaScript data (objects, arrays, strings, numbers) as Python dicts, lists and scalars."""
    return json.loads(window.JSON.stringify(value))


def _answer(promise: object) -> object:
    """Awaitable: the value ``promise`` resolves to, for this coroutine alone (a generator, so that the promise
    itself goes up to the JavaScript that resumes this coroutine, never through ``asyncio``: see above)."""
    value = yield promise
    return value


async def wait(promise: object) -> object:
    """The value of a JavaScript promise; :class:`JsError` with its message when it rejects."""
    outcome = await _answer(window.pyapp.bridge.settle(promise))
    if not outcome.ok:
        raise JsError(outcome.error)
    return outcome.value


async def sleep(ms: int) -> None:
    """Let the page run for ``ms`` milliseconds."""
    await _answer(window.pyapp.bridge.sleep(ms))


def clock() -> str:
    """The local time as ``HH:MM:SS`` (for log lines)."""
    now = window.Date.new()
    return ":".join(("0" + str(v))[-2:] for v in (now.getHours(), now.getMinutes(), now.getSeconds()))


def mark(name: str) -> None:
    """A ``performance`` mark (``pyapp:<name>``): the start-up benchmark reads these."""
    window.performance.mark("pyapp:" + name)


_HANDLERS = []  # proxies of the event handlers: they live as long as the page


def listen(name: str, event: str, handler: object, on_error: object) -> None:
    """Call ``handler(event)`` (a function or a coroutine function) on ``event`` of element ``name``; any
    exception it raises goes to ``on_error`` instead of the console, so every failure ends as one visible line."""
    async def guarded(evt: object) -> None:
        try:
            result = handler(evt)
            if hasattr(result, "send"):  # a coroutine (a generator on MicroPython)
                await result
        except Exception as err:  # the shell shows every failure and stays usable
            on_error(err)

    proxy = create_proxy(guarded)
    _HANDLERS.append(proxy)
    el(name).addEventListener(event, proxy)

