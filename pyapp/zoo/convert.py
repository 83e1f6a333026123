"""``pyapp convert MODEL --to onnx -o OUT``: add ONNX weights, exported from a package's PyTorch weights.

The browser runs ONNX only; most zoo models carry ``torchscript`` or ``pytorch_state_dict`` weights. This
module loads those with torch (a ``pytorch_state_dict`` needs its architecture's source file inside the
package: that code is executed), exports the network with ``torch.onnx.export`` (TorchScript exporter), and
checks the export: both run on the model's test inputs through pyapp's runner and their outputs must agree
within the tolerance ``pyapp test`` uses. The new package is the old one plus ``weights.onnx`` (its
``parent`` is the PyTorch entry); nothing is written unless the check passes.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import types
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ConvertError", "ConvertReport", "add_convert", "convert_to_onnx"]

#: The opset written by the export (supported by onnxruntime-web and torch's TorchScript exporter).
OPSET = 17
#: PyTorch weights formats this converter reads, in the order it prefers them.
SOURCES = ("torchscript", "pytorch_state_dict")


class ConvertError(ValueError):
    """A model cannot be converted (no PyTorch weights, missing architecture, export or check failed)."""


@dataclass(frozen=True)
class ConvertReport:
    """What :func:`convert_to_onnx` did: the weights it read and how close ONNX came to PyTorch per output."""

    source_format: str
    dest: Path
    max_abs_diff: dict[str, float]
    messages: tuple[str, ...]


class TorchBackend:
    """Runs a torch module as a pyapp backend; remembers the first block's inputs (the export's example)."""

    def __init__(self, module: Any, input_ids: list[str], output_ids: list[str], fmt: str):
        self.module, self.input_ids, self.output_ids = module, input_ids, output_ids
        self.name = f"torch {fmt}"
        self.example: dict[str, np.ndarray] | None = None

    async def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        if self.example is None:
            self.example = {k: np.array(v, dtype=np.float32) for k, v in inputs.items()}
        with torch.no_grad():
            out = self.module(*[torch.from_numpy(np.ascontiguousarray(inputs[t])) for t in self.input_ids])
        outs = out if isinstance(out, list | tuple) else [out]
        return {t: o.detach().cpu().numpy() for t, o in zip(self.output_ids, outs, strict=True)}


def _architecture(model: Any, entry: Any) -> Any:
    """The network of a ``pytorch_state_dict`` entry, built from the package's source file."""
    arch = entry.extra.get("architecture") or {}
    if "source" not in arch:
        raise ConvertError(f"weights.pytorch_state_dict.architecture: the architecture "
                           f"({arch.get('import_from', '?')}.{arch.get('callable', '?')}) is not a source file in the "
                           "package; pyapp converts only self-contained packages")
    from ..spec import SourceError, is_url

    source = arch["source"]
    if is_url(source):
        raise ConvertError(f"weights.pytorch_state_dict.architecture.source: {source!r} is remote; put the file "
                           "into the package")
    try:
        code = model.root.read(source)
    except (SourceError, OSError) as err:
        raise ConvertError(f"weights.pytorch_state_dict.architecture.source: cannot read {source!r}: {err}") from None
    if arch.get("sha256") and hashlib.sha256(code).hexdigest() != arch["sha256"]:
        raise ConvertError(f"weights.pytorch_state_dict.architecture.source: {source!r} does not match its sha256")
    module = types.ModuleType(Path(source).stem)
    exec(compile(code, source, "exec"), module.__dict__)  # the user's own package, on their request
    factory = getattr(module, str(arch.get("callable")), None)
    if factory is None:
        raise ConvertError(f"weights.pytorch_state_dict.architecture.callable: {source} has no "
                           f"{arch.get('callable')!r}")
    return factory(**(arch.get("kwargs") or {}))


def load_torch(model: Any) -> tuple[str, Any]:
    """(format, eval-mode torch module) from the first PyTorch weights of ``model``.

    Raises
    ------
    ConvertError
        When the model has no PyTorch weights or they cannot be loaded.
    """
    import torch

    from ..runtime import BackendError, read_weights

    fmt = next((f for f in SOURCES if f in model.weights), None)
    if fmt is None:
        raise ConvertError(f"weights: no torchscript or pytorch_state_dict weights to convert (it has "
                           f"{', '.join(model.weights) or 'none'})")
    try:
        data = read_weights(model, model.weights[fmt])
    except BackendError as err:
        raise ConvertError(str(err)) from None
    try:
        if fmt == "torchscript":
            net = torch.jit.load(io.BytesIO(data), map_location="cpu")
        else:
            net = _architecture(model, model.weights[fmt])
            net.load_state_dict(torch.load(io.BytesIO(data), map_location="cpu", weights_only=True))
    except (RuntimeError, ValueError, TypeError, KeyError, AttributeError, OSError) as err:
        raise ConvertError(f"weights.{fmt}: cannot load with torch {torch.__version__}: "
                           f"{str(err).splitlines()[0][:200]}") from None
    return fmt, net.eval()


def export_onnx(net: Any, example: Mapping[str, np.ndarray], model: Any) -> bytes:
    """ONNX bytes of ``net`` for ``example`` inputs; batch and non-fixed axes are dynamic."""
    import torch

    def dynamic(tensor: Any) -> dict[int, str]:
        return {i: f"{tensor.id}_{a.id}" for i, a in enumerate(tensor.axes) if a.fixed_size is None}

    ins, outs = [t.id for t in model.inputs], [t.id for t in model.outputs]
    args = tuple(torch.from_numpy(example[t]) for t in ins)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # legacy-exporter deprecation and tracing notices
        torch.onnx.export(net, args, buf, dynamo=False, opset_version=OPSET, input_names=ins, output_names=outs,
                          dynamic_axes={t.id: dynamic(t) for t in (*model.inputs, *model.outputs)})
    return buf.getvalue()


def _test_inputs(model: Any) -> dict[str, np.ndarray]:
    from ..spec import SourceError

    out = {}
    for t in model.inputs:
        if t.test_tensor is None:
            raise ConvertError(f"inputs: tensor {t.id!r} has no test_tensor to check the export with")
        try:
            out[t.id] = np.load(io.BytesIO(model.root.read(t.test_tensor.source)), allow_pickle=False)
        except (SourceError, OSError, ValueError) as err:
            raise ConvertError(f"{t.id}.test_tensor: cannot read {t.test_tensor.source!r}: {err}") from None
    return out


def _package_files(src: str, model: Any) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The raw description and every local file it names."""
    from ..spec import file_refs, is_url
    from ..spec._load import parse_yaml
    from ..spec._source import open_source

    text, _ = open_source(src)
    raw = parse_yaml(text, src)
    files = {ref.source: model.root.read(ref.source) for _, ref in file_refs(model) if not is_url(ref.source)}
    return raw, files


def convert_to_onnx(src: str, dest: str | Path, *, log: Any = print) -> ConvertReport:
    """Write ``dest`` (folder, or zip when it ends in ``.zip``): the package ``src`` plus checked ONNX weights.

    Raises
    ------
    ConvertError
        When there is nothing to convert, loading or exporting fails, or ONNX and PyTorch disagree.
    """
    from ..runtime import ModelRunner, compare, tolerance_for
    from ..runtime._ort import OrtBackend
    from ..spec import ModelDescr, SpecError, load

    try:
        model = load(src, io_checks=True)
    except SpecError as err:
        raise ConvertError(str(err)) from None
    if not isinstance(model, ModelDescr):
        raise ConvertError(f"{src}: a {model.type} description, not a model")
    if "onnx" in model.weights:
        raise ConvertError(f"{src}: weights.onnx: the model has ONNX weights already")
    fmt, net = load_torch(model)
    inputs = _test_inputs(model)
    torch_backend = TorchBackend(net, [t.id for t in model.inputs], [t.id for t in model.outputs], fmt)
    try:
        expected = ModelRunner(model, backend=torch_backend).predict_sync(inputs)
        onnx = export_onnx(net, torch_backend.example or {}, model)
        got = ModelRunner(model, backend=OrtBackend(onnx, model)).predict_sync(inputs)
    except (RuntimeError, ValueError, TypeError) as err:
        raise ConvertError(f"weights.{fmt}: export to ONNX failed: {str(err).splitlines()[0][:200]}") from None
    diffs, messages = {}, []
    for t in model.outputs:
        check = compare(t.id, got[t.id], expected[t.id], tolerance_for(model, t.id, "onnx"))
        diffs[t.id] = check.max_abs_diff
        messages.append(f"{'ok' if check.passed else 'MISMATCH'}: onnx vs {fmt}: {check.message}")
        log(messages[-1])
        if not check.passed:
            raise ConvertError(f"weights.{fmt}: the ONNX export disagrees with PyTorch: {check.message}")
    raw, files = _package_files(src, model)
    name = "weights.onnx" if "weights.onnx" not in files else "weights_converted.onnx"
    files[name] = onnx
    weights = dict(raw.get("weights") or {})
    weights["onnx"] = {"source": name, "sha256": hashlib.sha256(onnx).hexdigest(), "opset_version": OPSET,
                       "parent": fmt}
    raw["weights"] = weights
    from .from_onnx import PackageError, write_output

    try:
        out = write_output(Path(dest), raw, files)
    except PackageError as err:
        raise ConvertError(str(err)) from None
    return ConvertReport(fmt, out, diffs, tuple(messages))


def _cmd_convert(args: argparse.Namespace) -> int:
    try:
        report = convert_to_onnx(args.model, args.out, log=lambda m: print(f"{args.model}: {m}"))
    except ConvertError as err:
        print(f"pyapp convert: {err}")
        return 1
    worst = max(report.max_abs_diff.values(), default=0.0)
    print(f"wrote     {report.dest} (ONNX opset {OPSET} from {report.source_format}; max abs diff {worst:.3g})")
    return 0


def add_convert(sub: argparse._SubParsersAction) -> None:
    """Add ``pyapp convert MODEL --to onnx -o OUT`` to the CLI."""
    p = sub.add_parser("convert", help="add ONNX weights to a PyTorch model package (needs torch)",
                       description=__doc__.splitlines()[0])
    p.add_argument("model", help="model description (file, folder, zip) with torchscript or pytorch_state_dict "
                   "weights (a state dict's architecture code in the package is executed)")
    p.add_argument("--to", choices=["onnx"], default="onnx", help="target weights format (onnx)")
    p.add_argument("-o", "--out", required=True, help="the new package: OUT.zip or a folder OUT")
    p.set_defaults(func=_cmd_convert)
