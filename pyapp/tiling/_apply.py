"""Shapes for a model, and per-block work: cut input tiles, allocate outputs, stitch output blocks."""

from __future__ import annotations

import math
import os
import tempfile
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from pyapp.spec.model import ModelDescr

from ._axes import TilingError
from ._plan import Block, TilePlan, _output_sizes, _prepare


def output_shapes(model: ModelDescr, input_shapes: Mapping[str, Mapping[str, int] | Sequence[int]]
                  ) -> dict[str, dict[str, int]]:
    """The shapes of the model's outputs for inputs of ``input_shapes`` (no tiling involved).

    Parameters
    ----------
    model : ModelDescr
        The model description (0.5 view).
    input_shapes : mapping of str to (mapping of str to int, or sequence of int)
        Per input tensor id: its shape, as axis id -> size or as a tuple in the tensor's axis order.

    Returns
    -------
    dict of str to dict of str to int
        Per output tensor id: axis id -> size. A size reference gives
        ``floor(ref_size * ref_scale / scale) + offset``; batch axes follow the inputs' batch size (1 if no
        input has one); channel axes have ``len(channel_names)``.

    Raises
    ------
    TilingError
        The input shapes do not fit the model (see `plan_tiles`), or an output size depends on the data.

    Examples
    --------
    >>> from pyapp.spec.model import Axis, ModelDescr, SizeReference, Tensor
    >>> ipt = Tensor("raw", (Axis("batch", "batch"), Axis("x", "space", 64)))
    >>> half = Axis("x", "space", SizeReference("raw", "x"), scale=2.0)
    >>> out = Tensor("out", (Axis("batch", "batch"), half))
    >>> output_shapes(ModelDescr("m", "", "0.5.4", (ipt,), (out,), {}), {"raw": (3, 100)})
    {'out': {'batch': 3, 'x': 50}}
    """
    graph, _, root_sizes = _prepare(model, input_shapes)
    sizes = _output_sizes(graph, root_sizes)
    return {tid: {a: sizes[(tid, a)] for a in t.axis_ids} for tid, t in graph.outputs.items()}


def valid_input_shape(model: ModelDescr, input_shapes: Mapping[str, Mapping[str, int] | Sequence[int]]
                      ) -> dict[str, dict[str, int]]:
    """The allowed input shapes nearest to ``input_shapes`` from above.

    Parameters
    ----------
    model : ModelDescr
        The model description (0.5 view).
    input_shapes : mapping of str to (mapping of str to int, or sequence of int)
        Per input tensor id: the requested shape (axis id -> size, or a tuple in the tensor's axis order).

    Returns
    -------
    dict of str to dict of str to int
        Per input: axis id -> size. Parameterized axes get the smallest ``min + n*step >= size`` (that also
        gives whole sizes to the axes referring to them), fixed axes their fixed size, batch axes the
        requested size (or the fixed one), and axes with size references the size their reference gives.

    Raises
    ------
    TilingError
        The shapes do not fit the model (wrong dimensions, channel counts, reference mismatches).

    Examples
    --------
    >>> from pyapp.spec.model import Axis, ModelDescr, ParameterizedSize, Tensor
    >>> ipt = Tensor("raw", (Axis("y", "space", ParameterizedSize(32, 16)), Axis("x", "space", 64)))
    >>> valid_input_shape(ModelDescr("m", "", "0.5.4", (ipt,), (), {}), {"raw": (50, 10)})
    {'raw': {'y': 64, 'x': 64}}
    """
    graph, _, root_sizes = _prepare(model, input_shapes)
    valid = {}
    for rkey, root in graph.roots.items():
        if root.type == "batch":
            valid[rkey] = root.size if isinstance(root.size, int) else root_sizes[rkey]
        else:
            valid[rkey] = graph.round_up(rkey, root_sizes[rkey])
    sizes = graph.sizes(valid)
    return {tid: {a: sizes[(tid, a)] for a in t.axis_ids} for tid, t in graph.inputs.items()}


#: ``process(tensor_id, part, region)``: what to make of the part of a tensor at ``region`` (one slice per axis of
#: the whole tensor) before it is padded (``extract``) or stored (``stitch``); e.g. blockwise processing.
BlockProcess = Callable[[str, np.ndarray, tuple[slice, ...]], np.ndarray]


def extract(plan: TilePlan, block: Block, inputs: Mapping[str, np.ndarray], process: BlockProcess | None = None
            ) -> dict[str, np.ndarray]:
    """The model inputs of one block: views into ``inputs``, padded copies where the block leaves the image.

    Parameters
    ----------
    plan : TilePlan
        The plan ``block`` belongs to.
    block : Block
        One of ``plan.blocks``.
    inputs : mapping of str to ndarray
        The whole (preprocessed) inputs, in the model's axis order, with ``plan.input_shapes``.
    process : callable, optional
        Applied to the part read from each input before it is padded (``process(tensor_id, part, region)``),
        e.g. preprocessing block by block; ``inputs`` are then the unprocessed tensors.

    Returns
    -------
    dict of str to ndarray
        Per input: an array of ``plan.block_shapes[id]``; padding uses the tensor's pad mode
        (``plan.pad_modes``, default "symmetric").

    Raises
    ------
    TilingError
        An input is missing or its shape is not the planned one.
    """
    tiles = {}
    for tid, region in block.read.items():
        arr = inputs.get(tid)
        if arr is None or arr.shape != plan.input_shapes[tid]:
            got = "nothing" if arr is None else f"shape {arr.shape}"
            raise TilingError(f"input {tid!r}: the plan is for shape {plan.input_shapes[tid]}, got {got}")
        part = arr[region] if process is None else process(tid, arr[region], region)
        widths = block.pad[tid]
        tiles[tid] = part if widths is None else np.pad(part, widths, mode=plan.pad_modes[tid])
    return tiles


def stitch(plan: TilePlan, block: Block, block_outputs: Mapping[str, np.ndarray], outputs: Mapping[str, Any],
           process: BlockProcess | None = None) -> None:
    """Write the halo-cropped model outputs of one block into the whole outputs (in place).

    Parameters
    ----------
    plan : TilePlan
        The plan ``block`` belongs to.
    block : Block
        The block the model ran on.
    block_outputs : mapping of str to ndarray
        What the model returned for the block: per output, an array of ``plan.output_block_shapes[id]``.
    outputs : mapping of str to ndarray
        The whole outputs (see `allocate_outputs`), written in place: anything that takes
        ``outputs[id][slices] = part`` (a numpy array, a memmap, a file or JavaScript array writer).
    process : callable, optional
        Applied to each kept part before it is stored (``process(tensor_id, part, region)``, ``region`` being
        where it goes in the whole output), e.g. postprocessing block by block.

    Raises
    ------
    TilingError
        A model output is missing or does not have the planned block shape.
    """
    for tid, crop in block.crop.items():
        out = block_outputs.get(tid)
        if out is None or out.shape != plan.output_block_shapes[tid]:
            got = "nothing" if out is None else f"shape {out.shape}"
            raise TilingError(
                f"output {tid!r}: the model should return shape {plan.output_block_shapes[tid]} for this "
                f"block, got {got}"
            )
        kept = out[crop] if process is None else process(tid, out[crop], block.write[tid])
        outputs[tid][block.write[tid]] = kept


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def allocate_outputs(plan: TilePlan, *, dtype: npt.DTypeLike = np.float32, memory_budget: int | None = None,
                     tmpdir: str | os.PathLike[str] | None = None) -> dict[str, np.ndarray]:
    """Uninitialised arrays for the whole outputs of ``plan`` (every element is written by `stitch`).

    Parameters
    ----------
    plan : TilePlan
        The plan.
    dtype : dtype, optional
        Element type of the outputs (float32).
    memory_budget : int, optional
        An output larger than this many bytes is a `numpy.memmap` on a temporary file in ``tmpdir``
        (removed when the array is released; at once where the system allows).
    tmpdir : path, optional
        Folder for memory-mapped outputs (default: the system's temporary folder).

    Returns
    -------
    dict of str to ndarray
        Per output tensor id: an array of ``plan.output_shapes[id]``.
    """
    return {tid: allocate_output(shape, dtype, memory_budget=memory_budget, tmpdir=tmpdir, name=tid)
            for tid, shape in plan.output_shapes.items()}


def allocate_output(shape: Sequence[int], dtype: npt.DTypeLike = np.float32, *, memory_budget: int | None = None,
                    tmpdir: str | os.PathLike[str] | None = None, name: str = "output") -> np.ndarray:
    """One uninitialised output array: in memory, or a `numpy.memmap` above ``memory_budget`` bytes.

    See `allocate_outputs`; ``name`` goes into the temporary file's name.
    """
    dtype = np.dtype(dtype)
    shape = tuple(shape)
    if memory_budget is None or math.prod(shape) * dtype.itemsize <= memory_budget:
        return np.empty(shape, dtype)
    fd, path = tempfile.mkstemp(prefix=f"pyapp-{name}-", suffix=".dat", dir=tmpdir)
    os.close(fd)
    arr = np.memmap(path, dtype=dtype, mode="w+", shape=shape)
    weakref.finalize(arr, _remove, path)
    return arr

