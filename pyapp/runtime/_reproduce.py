"""Reproduce a model's test outputs from its test inputs with bioimage.io's tolerance rules.

Format 0.5: an element mismatches when ``|out - expected| > atol + rtol * |expected|`` (rtol = atol = 1e-3 by
default, or the first matching ``config.bioimageio.reproducibility_tolerance`` entry), and at most
``mismatched_elements_per_million`` (default 100) may mismatch. Format 0.4: the decimal rule,
``|out - expected| < 1.5 * 10**-decimal`` for every element (decimal 4 unless
``config.bioimageio.test_kwargs.<format>.decimal`` says otherwise), as bioimageio.core applies it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..spec.model import ModelDescr, Tensor
from ._runner import ModelRunner


@dataclass(frozen=True)
class Tolerance:
    rtol: float = 1e-3
    atol: float = 1e-3
    mismatched_per_million: float = 100.0


@dataclass(frozen=True)
class OutputCheck:
    """How one output compares with its test tensor."""

    output_id: str
    passed: bool
    mismatched: int
    size: int
    max_abs_diff: float
    tolerance: Tolerance
    message: str


@dataclass(frozen=True)
class TestReport:
    """The outcome of :func:`test_model`; ``passed`` when every output matched (and nothing failed)."""

    __test__ = False  # not a pytest class

    model: str
    backend: str
    checks: tuple[OutputCheck, ...] = ()
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.error is None and all(c.passed for c in self.checks)


def tolerance_for(model: ModelDescr, output_id: str, weights_format: str) -> Tolerance:
    """The tolerance the spec gives ``output_id`` for ``weights_format`` (see the module docstring)."""
    bio = model.config.get("bioimageio") if isinstance(model.config.get("bioimageio"), dict) else {}
    if model.original_format_version.startswith("0.4"):
        kwargs = (bio.get("test_kwargs") or {}).get(weights_format) or {}
        decimal = kwargs.get("decimal", 4)
        return Tolerance(rtol=0.0, atol=1.5 * 10 ** (-decimal), mismatched_per_million=0.0)
    for entry in bio.get("reproducibility_tolerance") or []:
        if not isinstance(entry, dict):
            continue
        if entry.get("weights_formats") and weights_format not in entry["weights_formats"]:
            continue
        if entry.get("output_ids") and output_id not in entry["output_ids"]:
            continue
        return Tolerance(float(entry.get("relative_tolerance", 1e-3)), float(entry.get("absolute_tolerance", 1e-3)),
                         float(entry.get("mismatched_elements_per_million", 100)))
    return Tolerance()


def compare(output_id: str, actual: np.ndarray, expected: np.ndarray, tol: Tolerance) -> OutputCheck:
    """Check ``actual`` against ``expected`` with ``tol``; the message gives the mismatch statistics."""
    if actual.shape != expected.shape:
        message = f"output {output_id!r}: shape {actual.shape} differs from the test tensor's {expected.shape}"
        return OutputCheck(output_id, False, expected.size, expected.size, float("inf"), tol, message)
    a = actual.astype(np.float32, copy=False)
    e = expected.astype(np.float32, copy=False)
    diff = np.abs(a - e)
    bad = diff > tol.atol + tol.rtol * np.abs(e)
    if tol.mismatched_per_million == 0 and tol.rtol == 0:
        bad = ~(diff < tol.atol)
    mismatched = int(bad.sum())
    allowed = tol.mismatched_per_million * e.size / 1e6
    passed = mismatched <= allowed
    max_abs = float(diff.max()) if diff.size else 0.0
    ppm = mismatched / max(e.size, 1) * 1e6
    message = (f"output {output_id!r}: {mismatched} of {e.size} elements mismatch ({ppm:.1f} ppm, allowed "
               f"{tol.mismatched_per_million:g} ppm); max abs diff {max_abs:.3g} "
               f"(rtol {tol.rtol:g}, atol {tol.atol:g})")
    return OutputCheck(output_id, passed, mismatched, int(e.size), max_abs, tol, message)


def _load_tensor(model: ModelDescr, t: Tensor) -> np.ndarray:
    if t.test_tensor is None:
        raise ValueError(f"tensor {t.id!r} has no test_tensor")
    from ..io import load_npy

    source = t.test_tensor.source
    return load_npy(model.root.read(source), label=source)  # root: the package containment check


async def test_model(
    model: ModelDescr, runner: ModelRunner | None = None, *, weights_format: str = "onnx",
) -> TestReport:
    """Run the model on its test inputs and compare with its test outputs (never raises for a bad model)."""
    from ._backend import BackendError

    try:
        runner = runner or ModelRunner(model)
        inputs = {t.id: _load_tensor(model, t) for t in model.inputs}
        expected = {t.id: _load_tensor(model, t) for t in model.outputs}
        outputs = await runner.predict(inputs)
    except (BackendError, ValueError, OSError) as err:
        name = runner.backend.name if runner is not None else "none"
        return TestReport(model.name, name, error=str(err))
    checks = tuple(compare(tid, outputs[tid], exp, tolerance_for(model, tid, weights_format))
                   for tid, exp in expected.items())
    return TestReport(model.name, runner.backend.name, checks)
