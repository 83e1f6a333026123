"""The plugin worker's spare buffers (pyapp.plugins.transport.Spares): what is reused, and when it is let go.

In the browser the buffers are JavaScript ArrayBuffers (tests/browser/test_plugin_arrays.py sends arrays through
the real transport); here any object with a ``byteLength`` stands in for one.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyapp.plugins.transport import SPARE_BYTES, SPARE_SECONDS, Spares


@dataclass(eq=False)
class Buffer:
    byteLength: int  # the JavaScript name


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_spare_serves_one_outgoing_buffer_of_its_exact_size() -> None:
    spares = Spares(Clock())
    a, b = Buffer(64), Buffer(32)
    assert spares.keep(a) and spares.keep(b)
    assert spares.take(48) is None
    assert spares.take(64) is a
    assert spares.take(64) is None  # taken once only
    assert spares.take(32) is b and len(spares) == 0


def test_the_same_buffer_is_kept_once_and_empty_or_huge_ones_not_at_all() -> None:
    spares = Spares(Clock())
    a = Buffer(8)
    assert spares.keep(a) is True and spares.keep(a) is False
    assert spares.keep(Buffer(0)) is False and spares.keep(Buffer(SPARE_BYTES + 1)) is False
    assert spares.take(8) is a and spares.take(8) is None


def test_spares_expire_and_stay_under_the_byte_cap() -> None:
    clock = Clock()
    spares = Spares(clock)
    spares.keep(Buffer(16))
    clock.t += SPARE_SECONDS + 0.01
    spares.expire()
    assert len(spares) == 0 and spares.take(16) is None
    half = SPARE_BYTES // 2
    first, second, third = Buffer(half), Buffer(half), Buffer(half)
    for buffer in (first, second, third):
        spares.keep(buffer)
    assert len(spares) == 2 and spares.take(half) is second  # the oldest went first
