"""Plan the blocks a model runs on: block sizes, block positions with halo, read/pad/crop/write slices."""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pyapp.spec.model import ModelDescr

from ._axes import BATCH, AxisGraph, AxisKey, TilingError, as_shape, check_inputs

#: Bytes the network needs per byte of a block's inputs and outputs (float32): activations of a typical
#: U-Net are about 8-32 times the size of its input; 16 is a middle guess used by ``memory_budget``.
ACTIVATION_FACTOR = 16
_PAD_MODES = frozenset({"constant", "edge", "linear_ramp", "maximum", "mean", "median", "minimum", "reflect",
                        "symmetric", "wrap", "empty"})
Slices = tuple[slice, ...]
Pads = tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Block:
    """One model run: where to read each input and where each output block goes.

    Attributes
    ----------
    index : int
        Position of the block in ``TilePlan.blocks``.
    read : dict of str to tuple of slice
        Per input: the part of the whole (preprocessed) input this block reads.
    pad : dict of str to tuple of (int, int) or None
        Per input: padding (before, after) per axis that brings the read part to the block shape, or None.
    crop : dict of str to tuple of slice
        Per output: the part of the model's output block that is kept (halo removed).
    write : dict of str to tuple of slice
        Per output: where the kept part goes in the whole output.
    """

    index: int
    read: dict[str, Slices]
    pad: dict[str, Pads | None]
    crop: dict[str, Slices]
    write: dict[str, Slices]


@dataclass(frozen=True)
class TilePlan:
    """The blocks to run a model on for given input shapes. ``len(plan)`` is the number of blocks.

    Shapes are tuples in the tensor's axis order (``input_axes`` / ``output_axes``); ``block_shapes`` are the
    shapes the model gets per block, ``output_block_shapes`` those it must return.
    """

    input_axes: dict[str, tuple[str, ...]]
    output_axes: dict[str, tuple[str, ...]]
    input_shapes: dict[str, tuple[int, ...]]
    output_shapes: dict[str, tuple[int, ...]]
    block_shapes: dict[str, tuple[int, ...]]
    output_block_shapes: dict[str, tuple[int, ...]]
    pad_modes: dict[str, str]
    grid: dict[str, int]
    blocks: tuple[Block, ...] = field(repr=False)

    def __len__(self) -> int:
        return len(self.blocks)


def _overlap(graph: AxisGraph, rkey: AxisKey, full: Mapping[AxisKey, int], block: int
             ) -> tuple[int, int, int]:
    """Left padding, largest step and smallest last start (root pixels) of a tiling with ``block``.

    Every output's valid region (its block minus the halo) must reach the output's start from the first
    block, the next block's valid region from each block, and the output's end from the last block.
    """
    q = graph.alignment(rkey)
    left, step, last = 0, block, full[rkey] - block
    for key in graph.roots[rkey].dependents:
        if key[0] not in graph.outputs:
            continue
        lk, h = graph.links[key], graph.halo(key)
        out_block = lk.a * block + lk.b
        left = max(left, math.ceil(h / lk.a))
        step = min(step, math.floor((out_block - 2 * h) / lk.a))
        last = max(last, math.ceil((full[key] - out_block + h) / lk.a))
    return -(-left // q) * q, step // q * q, -(-last // q) * q


def _starts(graph: AxisGraph, rkey: AxisKey, full: Mapping[AxisKey, int], block: int) -> tuple[int, ...]:
    """Block starts along one root axis (root pixels; negative where the block reads padding)."""
    image = full[rkey]
    q = graph.alignment(rkey)
    if image <= block:
        return (-((block - image) // 2 // q * q),)
    left, step, last = _overlap(graph, rkey, full, block)
    if step < q:
        raise TilingError(
            f"{graph.describe(rkey)}: a block of {block} leaves no valid interior after the halo; "
            f"use a larger tile (at least {_min_tiled(graph, rkey, full)})"
        )
    n = 1 + max(0, -(-(last + left) // step))
    return (*(-left + k * step for k in range(n - 1)), last)


def _min_tiled(graph: AxisGraph, rkey: AxisKey, full: Mapping[AxisKey, int]) -> int:
    """The smallest allowed block size along ``rkey`` that tiles with a valid interior."""
    q = graph.alignment(rkey)
    for size in graph.valid_sizes(rkey, 1):
        if _overlap(graph, rkey, full, size)[1] >= q:
            return size
    return graph.round_up(rkey, full[rkey])


def _estimate(graph: AxisGraph, blocks: Mapping[AxisKey, int]) -> int:
    """Bytes one block needs: inputs and outputs as float32, times ``ACTIVATION_FACTOR``."""
    sizes = graph.sizes(blocks)
    total = 0
    for t in (*graph.inputs.values(), *graph.outputs.values()):
        total += math.prod(max(sizes[(t.id, a.id)], 1) for a in t.axes)
    return 4 * ACTIVATION_FACTOR * total


def _shrink(graph: AxisGraph, blocks: dict[AxisKey, int], full: Mapping[AxisKey, int], budget: int,
            pinned: set[AxisKey]) -> None:
    """Make blocks smaller (batch first, then the largest tiled axis) until one fits in ``budget`` bytes."""
    batch = graph.roots.get(BATCH)
    if batch is not None and batch.size is None and BATCH not in pinned and _estimate(graph, blocks) > budget:
        blocks[BATCH] = 1
    free = [r for r, root in graph.roots.items() if root.tileable and r not in pinned]
    floors = {r: _min_tiled(graph, r, full) for r in free}
    while _estimate(graph, blocks) > budget:
        for r in sorted(free, key=lambda r: -blocks[r]):
            smaller = graph.valid_below(r, min(blocks[r] - 1, int(blocks[r] * 0.85)))
            if smaller is not None and smaller >= floors[r]:
                blocks[r] = smaller
                break
        else:
            return


def _choose(graph: AxisGraph, full: Mapping[AxisKey, int], tile: Mapping[str, int] | None,
            memory_budget: int | None) -> dict[AxisKey, int]:
    """Block size per root: ``tile``, else fitted to ``memory_budget``, else the whole image."""
    tile = dict(tile or {})
    known = {r[1] for r, root in graph.roots.items() if r != BATCH}
    known |= {k[1] for r, root in graph.roots.items() if r == BATCH for k in root.dependents}
    unknown = sorted(set(tile) - known)
    if unknown:
        raise TilingError(f"tile: unknown axes {unknown}; the model's input axes are {sorted(known)}")
    blocks: dict[AxisKey, int] = {}
    pinned: set[AxisKey] = set()
    for rkey, root in graph.roots.items():
        image = full[rkey]
        if rkey == BATCH:
            want = next((tile[k[1]] for k in root.dependents if k[1] in tile), None) if root.tileable else None
            blocks[rkey] = root.size if isinstance(root.size, int) else max(1, min(want or image, image))
            pinned |= {rkey} if want or not root.tileable else set()
            if blocks[rkey] < image and not root.tileable:
                raise TilingError(f"the batch axis: batch size {image} is larger than the model's fixed batch "
                                  f"size {blocks[rkey]}, and some outputs have no batch axis to stitch along")
            continue
        whole = graph.round_up(rkey, image)
        if not root.tileable and whole < image:
            raise TilingError(
                f"{graph.describe(rkey)}: size {image} is larger than the model's fixed size {whole}, and "
                "the model cannot be tiled along this axis (not every output follows it)"
            )
        blocks[rkey] = whole
        if root.tileable and rkey[1] in tile:
            want = tile[rkey[1]]
            if isinstance(want, bool) or not isinstance(want, numbers.Integral) or want < 1:
                raise TilingError(f"tile: the size for axis {rkey[1]!r} must be an int >= 1, got {want!r}")
            blocks[rkey] = min(graph.round_up(rkey, int(want)), whole) if whole >= image else whole
            pinned.add(rkey)
    if memory_budget is not None:
        _shrink(graph, blocks, full, memory_budget, pinned)
    return blocks


def _input_table(start: int, size: int, image: int) -> tuple[slice, tuple[int, int]]:
    lo, hi = max(0, start), min(image, start + size)
    return slice(lo, max(lo, hi)), (lo - start, start + size - max(lo, hi))


def _output_table(graph: AxisGraph, key: AxisKey, starts: Sequence[int], full: int,
                  size: int) -> list[tuple[slice, slice]]:
    """Per block along one root: (crop in the output block, destination in the whole output)."""
    lk, h = graph.links[key], graph.halo(key)
    pos = [int(lk.a * p) for p in starts]
    if len(pos) == 1:
        bounds = [0, full]
    else:
        # where blocks overlap more than their halos (the last block, shifted inward), the later block's
        # valid region wins, as in bioimageio.core, so tiled results agree with it
        seams = [p + h for p in pos[1:]]
        bounds = [0, *(min(max(m, 0), full) for m in seams), full]
    table = []
    for p, lo, hi in zip(pos, bounds, bounds[1:], strict=False):
        crop = slice(lo - p, hi - p)
        if crop.start < 0 or crop.stop > size or (len(pos) > 1 and lo < hi and (
                (lo > 0 and crop.start < h) or (hi < full and crop.stop > size - h))):
            raise TilingError(f"{graph.describe(key)}: internal error, blocks do not cover the output")
        table.append((crop, slice(lo, hi)))
    return table


def _tables(graph: AxisGraph, full: Mapping[AxisKey, int], blocks: Mapping[AxisKey, int],
            starts: Mapping[AxisKey, Sequence[int]]) -> dict[AxisKey, list]:
    """Per axis and block position along its root: (read, padding) for inputs, (crop, write) for outputs."""
    tab: dict[AxisKey, list] = {}
    for key in graph.order:
        lk = graph.links[key]
        if lk.root is None:
            n = full[key]
            tab[key] = [(slice(0, n), (0, 0) if key[0] in graph.inputs else slice(0, n))]
        elif key[0] in graph.inputs:
            tab[key] = [_input_table(int(lk.a * p), blocks[key], full[key]) for p in starts[lk.root]]
        else:
            tab[key] = _output_table(graph, key, starts[lk.root], full[key], blocks[key])
    return tab


def _assemble(graph: AxisGraph, tab: Mapping[AxisKey, list], starts: Mapping[AxisKey, Sequence[int]]
              ) -> tuple[Block, ...]:
    """All blocks, in raster order of the roots (batch first, the last image axis fastest)."""
    roots = list(starts)
    where = {r: i for i, r in enumerate(roots)}

    def spec(t_id: str, axes: Sequence[str]) -> list[tuple[int, list]]:
        return [(where.get(graph.links[(t_id, a)].root, -1), tab[(t_id, a)]) for a in axes]

    ins = {tid: spec(tid, t.axis_ids) for tid, t in graph.inputs.items()}
    outs = {tid: spec(tid, t.axis_ids) for tid, t in graph.outputs.items()}
    result = []
    for i, combo in enumerate(itertools.product(*(range(len(starts[r])) for r in roots))):
        read, pad, crop, write = {}, {}, {}, {}
        for tid, axes in ins.items():
            entries = [t[combo[r]] if r >= 0 else t[0] for r, t in axes]
            read[tid] = tuple(e[0] for e in entries)
            widths = tuple(e[1] for e in entries)
            pad[tid] = widths if any(lo or hi for lo, hi in widths) else None
        for tid, axes in outs.items():
            entries = [t[combo[r]] if r >= 0 else t[0] for r, t in axes]
            crop[tid] = tuple(e[0] for e in entries)
            write[tid] = tuple(e[1] for e in entries)
        result.append(Block(i, read, pad, crop, write))
    return tuple(result)


def _prepare(model: ModelDescr, input_shapes: Mapping[str, Mapping[str, int] | Sequence[int]]
             ) -> tuple[AxisGraph, dict[str, tuple[int, ...]], dict[AxisKey, int]]:
    """The axis graph, the input shapes as tuples and the root sizes, all checked."""
    ids = [t.id for t in model.inputs]
    unknown = [tid for tid in input_shapes if tid not in ids]
    if unknown:
        raise TilingError(f"unknown inputs {unknown}; the model's inputs are {ids}")
    missing = [t.id for t in model.inputs if t.id not in input_shapes and not t.optional]
    if missing:
        raise TilingError(f"inputs {missing} are missing (given: {list(input_shapes)})")
    graph = AxisGraph(model, present=list(input_shapes))
    shapes = {tid: as_shape(graph.inputs[tid], s) for tid, s in input_shapes.items()}
    return graph, shapes, check_inputs(graph, shapes)


def _output_sizes(graph: AxisGraph, root_sizes: Mapping[AxisKey, int]) -> dict[AxisKey, int]:
    """Sizes of all axes for ``root_sizes``; raises for data-dependent or empty outputs."""
    sizes = graph.sizes(root_sizes)
    for key, lk in graph.links.items():
        if lk.data_dependent:
            raise TilingError(
                f"{graph.describe(key)}: the size depends on the data, so the output cannot be planned; "
                "run the model on the whole input without tiling"
            )
        if key[0] in graph.outputs and sizes[key] < 1:
            raise TilingError(f"{graph.describe(key)}: the input is too small, this output would have size "
                              f"{sizes[key]}; use a larger input")
    return sizes


def plan_tiles(model: ModelDescr, input_shapes: Mapping[str, Mapping[str, int] | Sequence[int]], *,
               tile: Mapping[str, int] | None = None, memory_budget: int | None = None) -> TilePlan:
    """Plan the blocks to run ``model`` on inputs of ``input_shapes``.

    Parameters
    ----------
    model : ModelDescr
        The model description (0.5 view).
    input_shapes : mapping of str to (mapping of str to int, or sequence of int)
        Per input tensor id: its (preprocessed) shape, as axis id -> size or as a tuple in the tensor's axis
        order. Optional inputs may be left out.
    tile : mapping of str to int, optional
        Block size per axis id (root input axes, e.g. ``{"y": 256, "x": 256}``; the batch axis id sets the
        batch block size). Rounded up to an allowed size (``min + n*step``), capped at the allowed size that
        holds the whole image; fixed sizes stay fixed; axes the model cannot be tiled along are read whole.
    memory_budget : int, optional
        Bytes one block may use, estimated as ``ACTIVATION_FACTOR`` (16) times the float32 bytes of the
        block's inputs and outputs. The batch block shrinks to 1 first, then the largest tiled axis, down to
        the smallest block that still has a valid interior. Axes named in ``tile`` are not changed.

    Returns
    -------
    TilePlan
        Shapes, block shapes and the blocks; ``len(plan)`` is the number of model runs.

    Raises
    ------
    TilingError
        Unknown or missing inputs, a wrong number of dimensions, a channel count or size that does not
        match the model, a tile too small for the halo, an image too large for an axis that cannot be tiled,
        or outputs whose size depends on the data.

    Notes
    -----
    Without ``tile`` and ``memory_budget`` every axis gets the smallest allowed size that holds the whole
    image (one block, padded where needed). An image that fits in one block is padded about evenly on both
    sides and the model's own border handling applies there; otherwise blocks overlap by the halo (output
    halo mapped to input pixels), the first block starts one halo before the image (padding), the last one
    is shifted inward to end one halo after it, and each block writes up to the middle of its overlap with
    the next. Output block element ``k`` along an axis that follows a root axis with factor ``a`` (ratio of
    scales) is element ``a * p + k`` of the whole output, ``p`` being the block start in the root.

    Examples
    --------
    >>> from pyapp.spec.model import Axis, ModelDescr, ParameterizedSize, SizeReference, Tensor
    >>> ipt = Tensor("raw", (Axis("y", "space", ParameterizedSize(16, 16)),))
    >>> out = Tensor("out", (Axis("y", "space", SizeReference("raw", "y"), halo=4),))
    >>> model = ModelDescr("m", "", "0.5.4", (ipt,), (out,), {})
    >>> plan = plan_tiles(model, {"raw": (100,)}, tile={"y": 32})
    >>> len(plan), plan.block_shapes
    (5, {'raw': (32,)})
    """
    graph, shapes, root_sizes = _prepare(model, input_shapes)
    full = _output_sizes(graph, root_sizes)
    modes = {}
    for tid in shapes:
        modes[tid] = graph.inputs[tid].pad or "symmetric"
        if modes[tid] not in _PAD_MODES:
            raise TilingError(f"input {tid!r}: unknown pad mode {modes[tid]!r}; known: {sorted(_PAD_MODES)}")
    root_blocks = _choose(graph, full, tile, memory_budget)
    blocks = _output_sizes(graph, root_blocks)
    starts = {r: _starts(graph, r, full, root_blocks[r]) for r in graph.roots}
    blocks_ = _assemble(graph, _tables(graph, full, blocks, starts), starts)

    def shape_of(t_id: str, axes: Sequence[str], sizes: Mapping[AxisKey, int]) -> tuple[int, ...]:
        return tuple(sizes[(t_id, a)] for a in axes)

    ins, outs = graph.inputs, graph.outputs
    return TilePlan(
        input_axes={tid: t.axis_ids for tid, t in ins.items()},
        output_axes={tid: t.axis_ids for tid, t in outs.items()},
        input_shapes=shapes,
        output_shapes={tid: shape_of(tid, t.axis_ids, full) for tid, t in outs.items()},
        block_shapes={tid: shape_of(tid, t.axis_ids, blocks) for tid, t in ins.items()},
        output_block_shapes={tid: shape_of(tid, t.axis_ids, blocks) for tid, t in outs.items()},
        pad_modes=modes,
        grid={("batch" if r == BATCH else f"{r[0]}.{r[1]}"): len(s) for r, s in starts.items()},
        blocks=blocks_,
    )
