"""The Backend protocol and the factory that picks one for a model.

Backends are imported inside the factory, in a declared priority order; when none works the reasons are
reported together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable

import numpy as np

from ..spec.model import ModelDescr, WeightsEntry


class BackendError(RuntimeError):
    """A model cannot be run by any available backend; the message lists why for each one."""


@runtime_checkable
class Backend(Protocol):
    """Runs a model's network on one block of inputs (model axis order, model dtypes)."""

    #: What ran, e.g. ``"onnxruntime (CPUExecutionProvider)"`` or ``"onnxruntime-web (wasm)"``.
    name: str

    async def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...


def match_names(graph_names: list[str], tensor_ids: list[str], kind: str) -> dict[str, str]:
    """Tensor id -> the network's input/output name: by equal names, else by position when the counts agree."""
    if set(tensor_ids) <= set(graph_names):
        return {t: t for t in tensor_ids}
    if len(graph_names) == len(tensor_ids):
        return dict(zip(tensor_ids, graph_names, strict=True))
    raise BackendError(f"the ONNX graph has {kind}s {graph_names} but the model describes {tensor_ids}")


def read_weights(model: ModelDescr, entry: WeightsEntry) -> bytes:
    """The bytes of a weights file from the model's package, checked against its sha256.

    Raises
    ------
    BackendError
        When the file is missing, remote, or altered.
    """
    from ..spec import SourceError

    source = entry.source.source
    try:
        data = model.root.read(source)
    except (SourceError, OSError) as err:
        raise BackendError(f"weights.{entry.format}.source: cannot read {source!r}: {err}") from err
    if entry.source.sha256 and hashlib.sha256(data).hexdigest() != entry.source.sha256:
        raise BackendError(f"weights.{entry.format}.source: {source!r} does not match its sha256 (altered file?)")
    return data


def _onnx(model: ModelDescr, entry: WeightsEntry, providers: list[str] | None, *, low_memory: bool = False
          ) -> Backend:
    from ._ort import OrtBackend

    return OrtBackend(read_weights(model, entry), model, providers=providers, memory_arena=not low_memory)


#: Weights format -> backend factory, in the order they are tried (called with ``low_memory=`` as a keyword).
FACTORIES: dict[str, Callable[..., Backend]] = {"onnx": _onnx}


def create_backend(
    model: ModelDescr, *, weights_format: str | None = None, providers: list[str] | None = None,
    low_memory: bool = False,
) -> Backend:
    """A backend for ``model``: the first weights format (or ``weights_format``) that a backend here runs.

    ``low_memory`` trades speed for memory where a backend can (onnxruntime: no memory arena, see
    :class:`~pyapp.runtime._ort.OrtBackend`).

    Raises
    ------
    BackendError
        Listing, per format, why it could not be used.
    """
    formats = [weights_format] if weights_format else list(FACTORIES)
    reasons = []
    for fmt in formats:
        entry = model.weights.get(fmt)
        factory = FACTORIES.get(fmt)
        if factory is None:
            reasons.append(f"{fmt}: no backend for this format here (pyapp runs {', '.join(FACTORIES)})")
        elif entry is None:
            hint = " (convert its PyTorch weights: pyapp convert MODEL --to onnx -o OUT)" if fmt == "onnx" and {
                "torchscript", "pytorch_state_dict"} & set(model.weights) else ""
            reasons.append(f"{fmt}: the model has no {fmt} weights{hint}")
        else:
            try:
                return factory(model, entry, providers, low_memory=low_memory)
            except (BackendError, ImportError, RuntimeError, ValueError, OSError) as err:
                reasons.append(f"{fmt}: {err}")
    have = ", ".join(model.weights) or "none"
    raise BackendError(f"model {model.name!r} cannot run (its weights: {have}): " + "; ".join(reasons))
