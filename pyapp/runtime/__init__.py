"""Run bioimage.io models: the Backend protocol, ONNX Runtime, the ModelRunner and test reproduction.

Backends are imported lazily: ``onnxruntime`` only when a CPython backend is created, the browser's
``onnxruntime-web`` adapter only inside Pyodide.
"""

from ._backend import Backend, BackendError, create_backend, read_weights
from ._layout import LayoutError, from_model_layout, to_model_layout
from ._reproduce import OutputCheck, TestReport, Tolerance, compare, test_model, tolerance_for
from ._runner import ModelRunner, Progress, RunError, run_sync

__all__ = [
    "Backend", "BackendError", "LayoutError", "ModelRunner", "OutputCheck", "Progress", "RunError", "TestReport",
    "Tolerance", "compare", "create_backend", "from_model_layout", "read_weights", "run_sync", "test_model",
    "to_model_layout", "tolerance_for",
]
