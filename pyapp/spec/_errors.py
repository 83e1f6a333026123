"""The errors of reading a description's source and files (shared by the loaders and the limits), and
:func:`one_line`, how any error is shown to a user."""

from __future__ import annotations


class SourceError(ValueError):
    """A description source could not be read (missing, not a package, network needed)."""


class LimitError(SourceError):
    """A file or description is larger than a limit allows; the message names the limit's variable."""


def one_line(err: BaseException) -> str:
    """``err`` as one non-empty line: its first line of text, else its type name."""
    text = " ".join(str(err).split("\n", 1)[0].split())
    if isinstance(err, MemoryError):
        return "out of memory" + (f" ({text})" if text else "")
    if isinstance(err, RecursionError):
        return "nested too deep"
    return text or type(err).__name__
