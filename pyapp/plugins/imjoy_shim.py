"""Stand-in for ImJoy's ``imjoy`` module, so ``from imjoy import api`` keeps working in converted plugins.

The plugin runtime installs this module as ``sys.modules["imjoy"]`` and connects :data:`api` to the real
api object before the plugin's code runs; until then every attribute access raises ``RuntimeError``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["api"]


class _Api:
    """Forwards attribute access to the api object the runtime connects with ``_connect``."""

    _target: Any = None

    def _connect(self, target: Any) -> None:
        object.__setattr__(self, "_target", target)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # introspection (doctest, copy, inspect) must see a plain object
            raise AttributeError(name)
        if self._target is None:
            raise RuntimeError(f"imjoy.api.{name}: the plugin runtime has not connected the api yet")
        return getattr(self._target, name)


api = _Api()
"""The ``api`` object plugins import; filled by the runtime."""
