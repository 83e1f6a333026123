"""Run bioimage.io models: the Backend protocol, ONNX Runtime, the ModelRunner and test reproduction.

The names below load on first use (module ``__getattr__``), so importing a submodule that needs no numpy, such
as :mod:`.worker_describe` (the model worker's boot), imports no numpy. Backends are imported lazily too:
``onnxruntime`` only when a CPython backend is created, the browser's ``onnxruntime-web`` adapter only inside
Pyodide.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._backend import Backend, BackendError, create_backend, read_weights  # noqa: F401
    from ._layout import LayoutError, from_model_layout, to_model_layout  # noqa: F401
    from ._reproduce import OutputCheck, TestReport, Tolerance, compare, test_model, tolerance_for  # noqa: F401
    from ._runner import ModelRunner, Progress, RunError, run_sync  # noqa: F401

# Each public name and the submodule that defines it.
_EXPORTS = {
    "._backend": ("Backend", "BackendError", "create_backend", "read_weights"),
    "._layout": ("LayoutError", "from_model_layout", "to_model_layout"),
    "._reproduce": ("OutputCheck", "TestReport", "Tolerance", "compare", "test_model", "tolerance_for"),
    "._runner": ("ModelRunner", "Progress", "RunError", "run_sync"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
