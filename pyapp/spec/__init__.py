"""Read, validate, normalise and write bioimage.io descriptions (model 0.4/0.5; dataset, application,
notebook and collection minimally), offline and in pure Python.

>>> from pyapp.spec import validate
>>> [str(i) for i in validate(b"type: model\\nformat_version: 0.5.4\\n")][:1]
['error: name: field required']
"""

from ._dump import dump, save, to_dict
from ._iocheck import file_refs
from ._load import SpecError, load, load_with_issues, validate
from ._source import MemoryRoot, Root, SourceError, is_url
from .model import (
    Axis,
    DataDependentSize,
    Descr,
    FileRef,
    GenericDescr,
    Issue,
    ModelDescr,
    ParameterizedSize,
    Processing,
    SizeReference,
    Tensor,
    TensorData,
    WeightsEntry,
)

__all__ = [
    "Axis",
    "DataDependentSize",
    "Descr",
    "FileRef",
    "GenericDescr",
    "Issue",
    "MemoryRoot",
    "ModelDescr",
    "ParameterizedSize",
    "Processing",
    "Root",
    "SizeReference",
    "SourceError",
    "SpecError",
    "Tensor",
    "TensorData",
    "WeightsEntry",
    "dump",
    "file_refs",
    "is_url",
    "load",
    "load_with_issues",
    "save",
    "to_dict",
    "validate",
]
