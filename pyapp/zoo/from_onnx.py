"""Build a bioimage.io 0.5 model package from an ONNX network, its axes and a sample image.

``build_from_onnx`` reads the network's input/output names and shapes with onnxruntime, describes the tensors
from the axes the user gives (sizes fixed or ``min + n*step``, halo, pre/post-processing), crops the sample to
a valid test input, computes the test output with pyapp's own runner, draws a cover image, writes a README and
checks the result with ``pyapp.spec.validate`` before anything is written. Extra weights (e.g. the torchscript
a trainer exported the ONNX from) and extra metadata can be added, so training code can reuse it.

>>> from pyapp.zoo.from_onnx import build_from_onnx  # doctest: +SKIP
>>> build_from_onnx("unet.onnx", "unet.zip", input_axes="bcyx", output_axes="bcyx", sample=image,
...                 sample_axes="yx", name="My UNet", authors=["Ada"], license="MIT")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._describe import (
    AXIS_KINDS,
    Network,
    OnnxInfo,
    cover_png,
    open_onnxruntime,
    processing_steps,
    readme,
    tensor_id_for,
    tiff_bytes,
)
from .package import file_ref, npy_bytes, write_package

__all__ = ["DEFAULT_CITE", "ExtraWeights", "Network", "PackageError", "build_from_onnx", "package_files", "parse_sizes",
           "write_output"]

#: Cited when the user names no publication: the BioImage Model Zoo paper (the format the package follows).
DEFAULT_CITE = {"text": "Ouyang et al. BioImage Model Zoo: a community-driven resource for accessible deep "
                        "learning in bioimage analysis (2022)", "doi": "10.1101/2022.06.07.495102"}
#: Largest test input per space axis (the sample is cropped around its centre): keeps packages small.
MAX_TEST_SIZE = 256
#: Default size rule of a space axis the network leaves free: ``16 + n * 16`` fits most U-Nets.
DEFAULT_FREE_SIZE = (16, 16)


class PackageError(ValueError):
    """Inconsistent input for a package; the message is one line and names the option or argument."""


@dataclass(frozen=True)
class ExtraWeights:
    """Another weights format to put in the package next to the ONNX weights.

    Parameters
    ----------
    format : str
        A bioimage.io weights format, e.g. ``"torchscript"`` or ``"pytorch_state_dict"``.
    filename : str
        Its file name inside the package.
    data : bytes
        The file's content.
    fields : Mapping
        The entry's other fields (``pytorch_version``, ``architecture``, ``parent``...).
    files : Mapping
        More files the entry needs (e.g. an architecture source), by name.
    """

    format: str
    filename: str
    data: bytes
    fields: Mapping[str, Any] = field(default_factory=dict)
    files: Mapping[str, bytes] = field(default_factory=dict)


def parse_sizes(text: str | None, letters: str) -> dict[str, int | tuple[int, int]]:
    """``"256"``, ``"64:16"`` or ``"y=64:16,x=64:16"`` as space letter -> fixed size or ``(min, step)``.

    Raises
    ------
    PackageError
        Naming ``--size`` when the text does not parse or names an axis that is not a space axis.
    """
    if not text:
        return {}
    space = [a for a in letters if AXIS_KINDS.get(a) == "space"]
    parts = text.split(",") if "=" in text else [f"{a}={text}" for a in space]
    sizes: dict[str, int | tuple[int, int]] = {}
    for part in parts:
        key, _, value = part.partition("=")
        key = key.strip()
        match = re.fullmatch(r"\s*(\d+)\s*(?::\s*(\d+)\s*)?", value)
        if key not in space or match is None:
            raise PackageError(f"--size: {part!r} is not 'AXIS=SIZE' or 'AXIS=MIN:STEP' for a space axis "
                               f"of {letters!r}")
        low, step = int(match.group(1)), int(match.group(2) or 0)
        if low < 1:
            raise PackageError(f"--size: {part!r}: sizes start at 1")
        sizes[key] = (low, step) if step else low
    return sizes


def _axes_checked(letters: str, option: str, rank: int | None) -> str:
    letters = letters.strip().lower()
    bad = [a for a in letters if a not in AXIS_KINDS]
    if not letters or bad or len(set(letters)) != len(letters):
        raise PackageError(f"{option}: {letters!r} must be distinct letters from 'bctzyxi' (e.g. bcyx)")
    if rank is not None and rank != len(letters):
        raise PackageError(f"{option}: {letters!r} has {len(letters)} axes but the ONNX tensor has {rank}")
    return letters


def _input_axes(letters: str, info: OnnxInfo, sizes: Mapping[str, int | tuple[int, int]], channels: int,
                channel_names: Sequence[str] | None) -> list[dict[str, Any]]:
    axes: list[dict[str, Any]] = []
    for i, letter in enumerate(letters):
        kind, static = AXIS_KINDS[letter], info.input_shape[i]
        if kind == "batch":
            axes.append({"type": "batch"})
        elif kind == "channel":
            names = list(channel_names or [f"channel{k}" for k in range(channels)])
            axes.append({"type": "channel", "channel_names": names})
        else:
            size = sizes.get(letter)
            if static is not None and size is not None and size != static:
                raise PackageError(f"--size: the network fixes axis {letter!r} to {static}, not {size}")
            size = static if static is not None else size if size is not None else DEFAULT_FREE_SIZE
            spec = {"min": size[0], "step": size[1]} if isinstance(size, tuple) else size
            axes.append({"type": kind, "id": _axis_id(letter), "size": spec})
    return axes


def _axis_id(letter: str) -> str:
    return {"c": "channel", "t": "time", "i": "index"}.get(letter, letter)


def _valid_size(have: int, size: Any, letter: str) -> int:
    """The largest valid size <= min(have, MAX_TEST_SIZE) for an axis size rule, or PackageError."""
    if isinstance(size, int):
        if have < size:
            raise PackageError(f"--sample: axis {letter!r} has {have} pixels, the model needs {size}")
        return size
    low, step = size["min"], size["step"]
    if have < low:
        raise PackageError(f"--sample: axis {letter!r} has {have} pixels, the model needs at least {low}")
    return low + (min(have, max(MAX_TEST_SIZE, low)) - low) // step * step


def _crop(x: np.ndarray, axes: list[dict[str, Any]]) -> np.ndarray:
    """The centre of ``x`` with every space/time axis cut to a valid size (at most MAX_TEST_SIZE)."""
    index = []
    for n, axis in zip(x.shape, axes, strict=True):
        if axis["type"] in ("batch", "channel") or "size" not in axis:
            index.append(slice(0, 1) if axis["type"] == "batch" else slice(None))
            continue
        want = _valid_size(n, axis["size"], axis["id"])
        start = (n - want) // 2
        index.append(slice(start, start + want))
    return np.ascontiguousarray(x[tuple(index)])


def _output_axes(letters: str, in_letters: str, in_id: str, in_shape: tuple[int, ...], out_shape: tuple[int, ...],
                 info: OnnxInfo, halo: int, channel_names: Sequence[str] | None) -> list[dict[str, Any]]:
    axes: list[dict[str, Any]] = []
    for i, letter in enumerate(letters):
        kind, n = AXIS_KINDS[letter], out_shape[i]
        if kind == "batch":
            axes.append({"type": "batch"})
        elif kind == "channel":
            names = list(channel_names or [f"channel{k}" for k in range(n)])
            if len(names) != n:
                raise PackageError(f"--output-channels: {len(names)} names for {n} output channels")
            axes.append({"type": "channel", "channel_names": names})
        elif letter in in_letters and (info.output_shape[i] is None or n == in_shape[in_letters.index(letter)]):
            ref = in_shape[in_letters.index(letter)]
            if ref != n:
                raise PackageError(f"--output-axes: output axis {letter!r} has {n} pixels for an input of {ref}; "
                                   "pyapp package describes outputs of the input's size or of a fixed size")
            axis = {"type": kind, "id": _axis_id(letter), "size": {"tensor_id": in_id, "axis_id": _axis_id(letter)}}
            if halo and kind == "space":
                axis["halo"] = halo
            axes.append(axis)
        else:
            axes.append({"type": kind, "id": _axis_id(letter), "size": n})
    if halo and not any("halo" in a for a in axes):
        raise PackageError(f"--halo: no space axis of the output {letters!r} is sized like the input; a halo "
                           "needs one")
    return axes


def _check_halo(halo: int, in_axes: list[dict[str, Any]]) -> None:
    if halo < 0:
        raise PackageError(f"--halo: must be >= 0, got {halo}")
    for axis in in_axes:
        size = axis.get("size")
        low = size["min"] if isinstance(size, dict) else size
        if axis["type"] == "space" and isinstance(low, int) and 2 * halo >= low:
            raise PackageError(f"--halo: {halo} leaves nothing of the smallest tile ({low} pixels on axis "
                               f"{axis['id']!r}); use a halo below {low // 2} or a larger --size")


def _provisional(rdf: dict[str, Any], files: dict[str, bytes]):
    """Load ``rdf`` (files in memory) with pyapp.spec; PackageError with the first error."""
    import yaml

    from ..spec import MemoryRoot, SpecError, load

    try:
        model = load(yaml.safe_dump(rdf, sort_keys=False).encode())
    except SpecError as err:
        raise PackageError(str(err).removeprefix("<bytes>: ")) from None
    return dataclasses.replace(model, root=MemoryRoot(dict(files)))


def build_from_onnx(
    onnx: str | os.PathLike[str] | bytes, dest: str | os.PathLike[str], *, input_axes: str, output_axes: str,
    sample: np.ndarray, sample_axes: str, name: str, authors: Sequence[str | Mapping[str, Any]], license: str,
    description: str = "", sizes: Mapping[str, int | tuple[int, int]] | None = None, halo: int = 0,
    preprocess: Sequence[str | Mapping[str, Any]] = (), postprocess: Sequence[str | Mapping[str, Any]] = (),
    input_channels: Sequence[str] | None = None, output_channels: Sequence[str] | None = None,
    cite: Sequence[Mapping[str, Any]] = (), tags: Sequence[str] = (), documentation: str | None = None,
    extra_weights: Sequence[ExtraWeights] = (), onnx_parent: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write a bioimage.io 0.5 package for an ONNX network: a folder, or a zip when ``dest`` ends in ``.zip``.

    Parameters
    ----------
    onnx : path or bytes
        The network (one input, one output; float32).
    dest : path
        Where to write; an existing package there is replaced only when the new one is complete and valid.
    input_axes, output_axes : str
        Letters of the network's input/output axes in order: ``b`` batch, ``c`` channel, ``zyx`` space,
        ``t`` time, ``i`` index (e.g. ``"bcyx"``).
    sample : numpy.ndarray
        An example image; its centre (at most 256 pixels per axis, cut to a valid size) is the test input.
    sample_axes : str
        The letters of ``sample`` (e.g. ``"yx"``); missing batch/channel axes of size 1 are added.
    name, authors, license : str, list, str
        Required metadata: model name, author names (or ``{name, affiliation, ...}``), SPDX license id.
    description : str
        One sentence; defaults to the name and the ONNX file.
    sizes : mapping, optional
        Space letter -> fixed size or ``(min, step)`` for axes the network leaves free (default 16 + n*16).
    halo : int
        Pixels to cut from each side of an output tile when tiling (on output axes sized like the input).
    preprocess, postprocess : sequence
        Processing steps: ids (``"zero_mean_unit_variance"``, ``"scale_range"``, ``"sigmoid"``, ``"softmax"``...)
        or full ``{id, kwargs}`` mappings.
    input_channels, output_channels : list of str, optional
        Channel names (default ``channel0..``).
    cite, tags, documentation : optional
        Citations (default :data:`DEFAULT_CITE`), tags, README text (default: generated).
    extra_weights : sequence of ExtraWeights
        More weights formats (e.g. the torchscript the ONNX was exported from).
    onnx_parent : str, optional
        The weights format the ONNX weights were converted from (one of ``extra_weights``).
    metadata : mapping, optional
        More top-level fields (``training_data``, ``git_repo``, ``version``...); ``config`` is merged.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    PackageError
        For inconsistent input (message names the option), or when the network fails on the sample.
    """
    data = Path(onnx).read_bytes() if not isinstance(onnx, bytes | bytearray) else bytes(onnx)
    label = Path(onnx).name if not isinstance(onnx, bytes | bytearray) else "model.onnx"
    from ..runtime import run_sync

    rdf, files = run_sync(package_files(
        data, label, open_onnxruntime(data, label), input_axes=input_axes, output_axes=output_axes, sample=sample,
        sample_axes=sample_axes, name=name, authors=authors, license=license, description=description, sizes=sizes,
        halo=halo, preprocess=preprocess, postprocess=postprocess, input_channels=input_channels,
        output_channels=output_channels, cite=cite, tags=tags, documentation=documentation,
        extra_weights=extra_weights, onnx_parent=onnx_parent, metadata=metadata))
    return write_output(Path(dest), rdf, files)


async def package_files(
    data: bytes, label: str, network: Network, *, input_axes: str, output_axes: str,
    sample: np.ndarray, sample_axes: str, name: str, authors: Sequence[str | Mapping[str, Any]], license: str,
    description: str = "", sizes: Mapping[str, int | tuple[int, int]] | None = None, halo: int = 0,
    preprocess: Sequence[str | Mapping[str, Any]] = (), postprocess: Sequence[str | Mapping[str, Any]] = (),
    input_channels: Sequence[str] | None = None, output_channels: Sequence[str] | None = None,
    cite: Sequence[Mapping[str, Any]] = (), tags: Sequence[str] = (), documentation: str | None = None,
    extra_weights: Sequence[ExtraWeights] = (), onnx_parent: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The description and files of the package :func:`build_from_onnx` writes, for the network ``data``
    (named ``label``) opened as ``network``; CPython and the page's model worker both build packages here.

    The other parameters are :func:`build_from_onnx`'s.

    Raises
    ------
    PackageError
        For inconsistent input (message names the option), or when the network fails on the sample.
    """
    info = network.info
    in_letters = _axes_checked(input_axes, "--input-axes", len(info.input_shape))
    out_letters = _axes_checked(output_axes, "--output-axes", len(info.output_shape))
    if not 5 <= len(name.strip()) <= 128:
        raise PackageError(f"--name: {name!r}: a model name has 5 to 128 characters")
    if not authors:
        raise PackageError("--author: name at least one author")
    if not license.strip():
        raise PackageError("--license: give an SPDX license id such as MIT or CC-BY-4.0")
    in_id, out_id = tensor_id_for(info.input_name, "input"), tensor_id_for(info.output_name, "output")
    if out_id == in_id:
        out_id = "output"
    sample = np.asarray(sample)
    s_letters = _axes_checked(sample_axes, "--sample-axes", sample.ndim)
    static_c = info.input_shape[in_letters.index("c")] if "c" in in_letters else None
    channels = static_c or (sample.shape[s_letters.index("c")] if "c" in s_letters else 1)
    if input_channels is not None and len(input_channels) != channels:
        raise PackageError(f"--input-channels: {len(input_channels)} names for {channels} input channels")
    in_axes = _input_axes(in_letters, info, sizes or {}, channels, input_channels)
    _check_halo(halo, in_axes)
    pre = processing_steps(preprocess, in_letters, "--preprocess")
    post = processing_steps(postprocess, out_letters, "--postprocess")
    stub = {"source": "test.npy"}
    rdf: dict[str, Any] = {
        "type": "model", "format_version": "0.5.4", "name": name.strip(),
        "description": description.strip() or f"{name.strip()}, packaged from {label} with pyapp.",
        "authors": [{"name": a} if isinstance(a, str) else dict(a) for a in authors],
        "cite": [dict(c) for c in cite] or [DEFAULT_CITE], "license": license.strip(),
        "tags": list(tags) or ["onnx", f"{sum(AXIS_KINDS[a] == 'space' for a in in_letters)}d"],
        "documentation": "README.md",
        "inputs": [{"id": in_id, "axes": in_axes, "test_tensor": stub, "data": {"type": "float32"},
                    **({"preprocessing": pre} if pre else {})}],
        "outputs": [{"id": out_id, "axes": [{"type": "batch"}], "test_tensor": stub, "data": {"type": "float32"}}],
        "weights": {"onnx": {"source": "weights.onnx", "opset_version": info.opset}},
    }
    from ..runtime import LayoutError, RunError, to_model_layout

    try:
        x = to_model_layout(sample, s_letters, _provisional(rdf, {}).inputs[0])
    except LayoutError as err:
        raise PackageError(f"--sample: {str(err).replace('pass --axes', 'pass --sample-axes')}") from None
    x = _crop(x, in_axes).astype(np.float32)
    files = {"weights.onnx": data}
    backend = network.backend(_provisional(rdf, files))
    try:
        out_shape = tuple((await backend.run({in_id: x}))[out_id].shape)
    except Exception as err:  # onnxruntime (-web) raises its own untyped errors for bad inputs
        raise PackageError(f"--sample: the network fails on an input of shape {x.shape}: "
                           f"{str(err).splitlines()[0][:200]}") from None
    rdf["outputs"][0]["axes"] = _output_axes(out_letters, in_letters, in_id, x.shape, out_shape, info, halo,
                                             output_channels)
    if post:
        rdf["outputs"][0]["postprocessing"] = post
    from ..runtime import BackendError, ModelRunner

    try:
        y = (await ModelRunner(_provisional(rdf, files), backend).predict({in_id: x}))[out_id].astype(np.float32)
    except (BackendError, RunError, ValueError) as err:
        raise PackageError(f"{label}: the network fails on the sample: {err}") from None
    files |= {"test_input.npy": npy_bytes(x), "test_output.npy": npy_bytes(y), "cover.png": cover_png(x, y),
              "sample_input.tif": tiff_bytes(x, in_letters), "sample_output.tif": tiff_bytes(y, out_letters)}
    for extra in extra_weights:
        files |= {extra.filename: extra.data, **extra.files}
    rdf["inputs"][0] |= {"test_tensor": file_ref("test_input.npy", files),
                         "sample_tensor": file_ref("sample_input.tif", files)}
    rdf["outputs"][0] |= {"test_tensor": file_ref("test_output.npy", files),
                          "sample_tensor": file_ref("sample_output.tif", files)}
    rdf["covers"] = ["cover.png"]
    rdf["weights"]["onnx"] |= file_ref("weights.onnx", files)
    if onnx_parent:
        rdf["weights"]["onnx"]["parent"] = onnx_parent
    for extra in extra_weights:
        rdf["weights"][extra.format] = {**file_ref(extra.filename, files), **extra.fields}
    extra_meta = dict(metadata or {})
    config = {**extra_meta.pop("config", {})}
    config["pyapp"] = {**config.get("pyapp", {}), "sample": "sample_input.tif"}
    rdf |= extra_meta | {"config": config}
    files["README.md"] = (documentation or readme(rdf, label, x.shape, y.shape)).encode()
    return rdf, files


def write_output(dest: Path, rdf: dict[str, Any], files: dict[str, bytes]) -> Path:
    """Write a checked package folder, or a zip of it (assembled next to ``dest``, then renamed into place).

    Raises
    ------
    PackageError
        When ``pyapp.spec.validate`` finds an error in the assembled package (nothing is written then).
    """
    if dest.suffix.lower() != ".zip":
        try:
            write_package(dest, rdf, files)
        except ValueError as err:
            raise PackageError(str(err)) from None
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".pyapp-package-") as tmp:
        try:
            folder = write_package(Path(tmp) / "package", rdf, files).parent
        except ValueError as err:
            raise PackageError(str(err)) from None
        part = Path(tmp) / "package.zip"
        with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(folder.iterdir()):
                zf.write(path, path.name)
        shutil.move(part, dest)
    return dest
