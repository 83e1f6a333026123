"""Frozen dataclasses for bioimage.io descriptions, always in the format 0.5 view.

Older model descriptions (0.4.x) are converted to this view when they are loaded, so code downstream
(ops, tiling, runtime) never branches on the format version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

AxisType = Literal["batch", "channel", "index", "time", "space"]
Severity = Literal["error", "warning"]

#: Weight formats known to bioimage.io 0.5, in the order a runner prefers them.
WEIGHT_FORMATS = (
    "onnx",
    "torchscript",
    "pytorch_state_dict",
    "tensorflow_saved_model_bundle",
    "keras_hdf5",
    "keras_v3",
    "tensorflow_js",
)


@dataclass(frozen=True)
class Issue:
    """One finding of the validator: where (a field path such as ``inputs[0].axes[2].size``), what, how bad."""

    path: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.severity}: {self.path}: {self.message}" if self.path else f"{self.severity}: {self.message}"


@dataclass(frozen=True)
class FileRef:
    """A file named by a description: a path relative to the description's root, or an absolute URL."""

    source: str
    sha256: str | None = None


@dataclass(frozen=True)
class ParameterizedSize:
    """An input axis size that may be ``min + n * step`` for any ``n >= 0``."""

    min: int
    step: int

    def get_size(self, n: int) -> int:
        return self.min + n * self.step


@dataclass(frozen=True)
class SizeReference:
    """An axis size taken from another tensor's axis: ``ref_size * ref_scale / scale + offset``."""

    tensor_id: str
    axis_id: str
    offset: int = 0


@dataclass(frozen=True)
class DataDependentSize:
    """An output axis size known only after the model ran (``min``..``max``)."""

    min: int = 1
    max: int | None = None


AxisSize = int | ParameterizedSize | SizeReference | DataDependentSize | None


@dataclass(frozen=True)
class Axis:
    """One tensor axis. ``size`` is None for batch axes (any batch size) and channel axes (len(channel_names))."""

    id: str
    type: AxisType
    size: AxisSize = None
    channel_names: tuple[str, ...] = ()
    halo: int = 0
    scale: float = 1.0
    unit: str | None = None
    concatenable: bool = False
    description: str = ""

    @property
    def fixed_size(self) -> int | None:
        """The size when it is fixed (an int, or the number of channels), else None."""
        if self.type == "channel":
            return len(self.channel_names)
        return self.size if isinstance(self.size, int) else None


@dataclass(frozen=True)
class Processing:
    """A pre- or post-processing step: an op id from the 0.5 spec and its keyword arguments.

    ``kwargs`` holds the 0.5 names (``axes`` as axis ids, ``eps``...), with 0.4 modes already mapped.
    """

    id: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TensorData:
    """What the values of a tensor are: the dtype, an optional value range, unit, or nominal values."""

    type: str = "float32"
    range: tuple[float | None, float | None] = (None, None)
    unit: str | None = None
    values: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class Tensor:
    """An input or output tensor of a model. Inputs carry ``preprocessing``, outputs ``postprocessing``."""

    id: str
    axes: tuple[Axis, ...]
    description: str = ""
    test_tensor: FileRef | None = None
    sample_tensor: FileRef | None = None
    data: TensorData = field(default_factory=TensorData)
    preprocessing: tuple[Processing, ...] = ()
    postprocessing: tuple[Processing, ...] = ()
    optional: bool = False
    pad: str | None = None

    @property
    def axis_ids(self) -> tuple[str, ...]:
        return tuple(a.id for a in self.axes)

    def axis(self, axis_id: str) -> Axis:
        """The axis named ``axis_id``; KeyError if there is none."""
        for a in self.axes:
            if a.id == axis_id:
                return a
        raise KeyError(f"tensor {self.id!r} has no axis {axis_id!r} (axes: {self.axis_ids})")


@dataclass(frozen=True)
class WeightsEntry:
    """One weights format of a model. ``extra`` keeps format-specific fields (opset_version, architecture...)."""

    format: str
    source: FileRef
    parent: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelDescr:
    """A bioimage.io model description in the 0.5 view.

    ``root`` resolves relative file sources (a folder, a zip package or a URL; see ``pyapp.spec.Root``),
    ``original_format_version`` is the version the file was written in.
    """

    name: str
    description: str
    format_version: str
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    weights: dict[str, WeightsEntry]
    authors: tuple[dict[str, Any], ...] = ()
    cite: tuple[dict[str, Any], ...] = ()
    license: str | None = None
    tags: tuple[str, ...] = ()
    covers: tuple[FileRef, ...] = ()
    documentation: FileRef | None = None
    attachments: tuple[FileRef, ...] = ()
    version: str | None = None
    timestamp: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    other: dict[str, Any] = field(default_factory=dict)
    type: str = "model"
    original_format_version: str = field(default="", compare=False)
    root: Any = field(default=None, compare=False, repr=False)

    def tensor(self, tensor_id: str) -> Tensor:
        """The input or output tensor named ``tensor_id``; KeyError if there is none."""
        for t in (*self.inputs, *self.outputs):
            if t.id == tensor_id:
                return t
        raise KeyError(f"model has no tensor {tensor_id!r}")


@dataclass(frozen=True)
class GenericDescr:
    """A dataset, application, notebook or collection description: generic fields only, the rest in ``other``."""

    type: str
    name: str
    description: str
    format_version: str
    authors: tuple[dict[str, Any], ...] = ()
    cite: tuple[dict[str, Any], ...] = ()
    license: str | None = None
    tags: tuple[str, ...] = ()
    covers: tuple[FileRef, ...] = ()
    documentation: FileRef | None = None
    attachments: tuple[FileRef, ...] = ()
    version: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    other: dict[str, Any] = field(default_factory=dict)
    original_format_version: str = field(default="", compare=False)
    root: Any = field(default=None, compare=False, repr=False)


Descr = ModelDescr | GenericDescr
