"""The errors of reading a description's source and files (shared by the loaders and the limits)."""

from __future__ import annotations


class SourceError(ValueError):
    """A description source could not be read (missing, not a package, network needed)."""


class LimitError(SourceError):
    """A file or description is larger than a limit allows; the message names the limit's variable."""
