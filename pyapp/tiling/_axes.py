"""How the axis sizes of a model's tensors hang together: roots, size references, valid block sizes.

Every input axis whose size is not a reference is a *root* (one shared root for all batch axes). Every other
axis follows exactly one root through a chain of size references, ``size = floor(a * root_size) + b`` with
``a = ref_scale / scale`` (a fraction) composed along the chain, or has a fixed size (channels, fixed output
sizes). Block positions follow the same map without the offset: block element ``k`` of an axis that follows
a root block starting at root position ``p`` is element ``a * p + k`` of the whole tensor.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from pyapp.spec.model import Axis, DataDependentSize, ModelDescr, ParameterizedSize, SizeReference, Tensor

AxisKey = tuple[str, str]
#: Root key of the batch axis that all tensors share.
BATCH: AxisKey = ("", "batch")
#: Axis types a model can be tiled along (with halo); other axes are read whole, padded to a valid size.
TILED_TYPES = ("space", "time")
_MAX_SEARCH = 100_000


class TilingError(ValueError):
    """A model, image shape or tile request that cannot be tiled; the message names the tensor and axis."""


@dataclass(frozen=True, slots=True)
class Link:
    """How the size of one axis follows its root (``root`` None: a fixed size ``fixed``)."""

    root: AxisKey | None
    a: Fraction = Fraction(1)
    b: Fraction = Fraction(0)
    fixed: int | None = None
    parent: AxisKey | None = None
    a_direct: Fraction = Fraction(1)
    offset: int = 0
    data_dependent: bool = False


@dataclass(frozen=True, slots=True)
class Root:
    """An independent axis: an input axis whose size is given by the image (or the shared batch axis)."""

    key: AxisKey
    type: str
    size: int | ParameterizedSize | None
    dependents: tuple[AxisKey, ...]
    #: Whether blocks may split this axis (every output follows it; for space/time axes, with halo).
    tileable: bool


def _frac(x: float) -> Fraction:
    return Fraction(x).limit_denominator(1_000_000)


class AxisGraph:
    """The roots and links of the axes of ``model`` (inputs limited to ``present`` when given)."""

    def __init__(self, model: ModelDescr, present: Sequence[str] | None = None) -> None:
        self.inputs = {t.id: t for t in model.inputs if present is None or t.id in present}
        self.outputs = {t.id: t for t in model.outputs}
        self.links: dict[AxisKey, Link] = {}
        self.order: list[AxisKey] = []
        for t in (*self.inputs.values(), *self.outputs.values()):
            for ax in t.axes:
                self._visit((t.id, ax.id), ())
        self.roots = self._roots()

    def tensor(self, tid: str) -> Tensor:
        t = self.inputs.get(tid) or self.outputs.get(tid)
        if t is None:
            raise TilingError(f"no tensor {tid!r} among the model's (given) inputs and outputs")
        return t

    def _kind(self, tid: str) -> str:
        return "input" if tid in self.inputs else "output"

    def _visit(self, key: AxisKey, stack: tuple[AxisKey, ...]) -> Link:
        if key in self.links:
            return self.links[key]
        if key in stack:
            raise TilingError(f"size references form a cycle: {' -> '.join(map(str, (*stack, key)))}")
        t = self.tensor(key[0])
        try:
            ax = t.axis(key[1])
        except KeyError as e:
            raise TilingError(e.args[0]) from None
        link = self._link(key, t, ax, (*stack, key))
        self.links[key] = link
        self.order.append(key)
        return link

    def _link(self, key: AxisKey, t: Tensor, ax: Axis, stack: tuple[AxisKey, ...]) -> Link:
        size = ax.size
        channels = len(ax.channel_names) or (size if isinstance(size, int) else 0)
        if ax.type == "channel" and channels:
            return Link(None, fixed=channels)
        if ax.type == "batch" and not isinstance(size, SizeReference):
            return Link(BATCH)
        if isinstance(size, DataDependentSize):
            return Link(None, data_dependent=True)
        if isinstance(size, SizeReference):
            where = f"{self._kind(t.id)} {t.id!r} axis {ax.id!r}"
            ref_t = self.inputs.get(size.tensor_id) or self.outputs.get(size.tensor_id)
            if ref_t is None or size.axis_id not in ref_t.axis_ids:
                raise TilingError(f"{where}: size refers to axis {size.axis_id!r} of tensor "
                                  f"{size.tensor_id!r}, which is not given")
            ref_ax = ref_t.axis(size.axis_id)
            if not (ref_ax.scale > 0 and ax.scale > 0):
                raise TilingError(f"{where}: scales must be > 0, got {ax.scale} (referenced: {ref_ax.scale})")
            parent = self._visit((size.tensor_id, size.axis_id), stack)
            a_dir = _frac(ref_ax.scale) / _frac(ax.scale)
            pkey = (size.tensor_id, size.axis_id)
            if parent.data_dependent:
                return Link(None, data_dependent=True)
            if parent.root is None:
                return Link(None, fixed=math.floor(parent.fixed * a_dir) + size.offset)
            return Link(parent.root, parent.a * a_dir, parent.b * a_dir + size.offset, None, pkey, a_dir,
                        size.offset)
        if key[0] in self.inputs:
            return Link(key)
        if isinstance(size, int):
            return Link(None, fixed=size)
        raise TilingError(f"output {t.id!r} axis {ax.id!r}: size {size!r} is not supported")

    def _roots(self) -> dict[AxisKey, Root]:
        deps: dict[AxisKey, list[AxisKey]] = {}
        for key in self.order:
            root = self.links[key].root
            if root is not None:
                deps.setdefault(root, []).append(key)
        data_dependent = any(lk.data_dependent for lk in self.links.values())
        roots = {}
        for rkey, dep in deps.items():
            splittable = not data_dependent and {k[0] for k in dep if k[0] in self.outputs} == set(self.outputs)
            if rkey == BATCH:
                sizes = [self.tensor(k[0]).axis(k[1]).size for k in dep if k[0] in self.inputs]
                fixed = [s for s in sizes if isinstance(s, int)]
                roots[rkey] = Root(rkey, "batch", fixed[0] if fixed else None, tuple(dep), splittable)
                continue
            ax = self.tensor(rkey[0]).axis(rkey[1])
            size = ax.size if isinstance(ax.size, int | ParameterizedSize) else None
            if isinstance(size, ParameterizedSize) and size.step <= 0:
                size = size.min
            tileable = ax.type in TILED_TYPES and splittable and bool(self.outputs)
            roots[rkey] = Root(rkey, ax.type, size, tuple(dep), tileable)
        return roots

    def halo(self, key: AxisKey) -> int:
        """Declared halo of an output axis (0 for inputs)."""
        if key[0] not in self.outputs:
            return 0
        return int(self.outputs[key[0]].axis(key[1]).halo or 0)

    def sizes(self, root_sizes: Mapping[AxisKey, int]) -> dict[AxisKey, int]:
        """Sizes of all axes (inputs and outputs, and the roots) when the roots have ``root_sizes``."""
        out: dict[AxisKey, int] = dict(root_sizes)
        for key in self.order:
            lk = self.links[key]
            if lk.root is None:
                out[key] = -1 if lk.fixed is None else lk.fixed
            elif lk.parent is None:
                out[key] = root_sizes[lk.root]
            else:
                out[key] = math.floor(out[lk.parent] * lk.a_direct) + lk.offset
        return out

    def alignment(self, rkey: AxisKey) -> int:
        """Block starts along root ``rkey`` are multiples of this, so all dependents start on a pixel."""
        q = 1
        for key in self.roots[rkey].dependents:
            q = math.lcm(q, self.links[key].a.denominator)
        return q

    def size_ok(self, rkey: AxisKey, size: int) -> bool:
        """Whether a block of ``size`` along root ``rkey`` gives whole, positive sizes to its dependents."""
        sizes = {rkey: Fraction(size)}
        for key in self.roots[rkey].dependents:
            lk = self.links[key]
            if lk.parent is None:
                continue
            s = sizes[lk.parent] * lk.a_direct + lk.offset
            if s.denominator != 1 or s < 1:
                return False
            sizes[key] = s
        return True

    def valid_sizes(self, rkey: AxisKey, at_least: int) -> Iterator[int]:
        """Allowed block sizes along root ``rkey`` that are ``>= at_least``, increasing (fixed: just one)."""
        root = self.roots[rkey]
        size = root.size
        if isinstance(size, int):
            if self.size_ok(rkey, size):
                yield size
            return
        lo, step = (size.min, size.step) if isinstance(size, ParameterizedSize) else (1, 1)
        n = max(0, -(-(at_least - lo) // step))
        for i in range(n, n + _MAX_SEARCH):
            if self.size_ok(rkey, lo + i * step):
                yield lo + i * step

    def valid_below(self, rkey: AxisKey, at_most: int) -> int | None:
        """The largest allowed block size ``<= at_most`` along root ``rkey``, or None."""
        size = self.roots[rkey].size
        if isinstance(size, int):
            return size if size <= at_most and self.size_ok(rkey, size) else None
        lo, step = (size.min, size.step) if isinstance(size, ParameterizedSize) else (1, 1)
        for s in range(lo + ((at_most - lo) // step) * step, lo - 1, -step):
            if self.size_ok(rkey, s):
                return s
        return None

    def round_up(self, rkey: AxisKey, at_least: int) -> int:
        """The smallest allowed block size ``>= at_least`` (fixed sizes: the fixed size, whatever it is)."""
        size = self.roots[rkey].size
        for s in self.valid_sizes(rkey, at_least):
            return s
        raise TilingError(
            f"input {rkey[0]!r} axis {rkey[1]!r}: no allowed size (size {size!r}) gives whole sizes to the "
            "axes that refer to it; check the scales and offsets of those size references"
        )

    def describe(self, key: AxisKey) -> str:
        if key == BATCH:
            return "the batch axis"
        return f"{self._kind(key[0])} {key[0]!r} axis {key[1]!r}"


def as_shape(t: Tensor, shape: Mapping[str, int] | Sequence[int]) -> tuple[int, ...]:
    """``shape`` (axis id -> size, or sizes in axis order) as a tuple in the tensor's axis order."""
    ids = t.axis_ids
    if isinstance(shape, Mapping):
        missing = [a for a in ids if a not in shape]
        extra = [a for a in shape if a not in ids]
        if missing or extra:
            raise TilingError(
                f"input {t.id!r}: shape {dict(shape)!r} does not match the axes {ids}"
                f" (missing {missing}, unknown {extra})"
            )
        values = tuple(shape[a] for a in ids)
    else:
        values = tuple(shape)
        if len(values) != len(ids):
            raise TilingError(
                f"input {t.id!r}: expected {len(ids)} dimensions {ids}, got {len(values)} (shape {values})"
            )
    for a, v in zip(ids, values, strict=True):
        if int(v) != v or v < 1:
            raise TilingError(f"input {t.id!r} axis {a!r}: size must be a whole number >= 1, got {v!r}")
    return tuple(int(v) for v in values)


def check_inputs(graph: AxisGraph, shapes: Mapping[str, tuple[int, ...]]) -> dict[AxisKey, int]:
    """Check the image shapes of the inputs against the model; returns the sizes of the roots."""
    root_sizes: dict[AxisKey, int] = {}
    for tid, shape in shapes.items():
        for ax, s in zip(graph.inputs[tid].axes, shape, strict=True):
            lk = graph.links[(tid, ax.id)]
            if lk.root is None and lk.fixed is not None and s != lk.fixed:
                what = "channels" if ax.type == "channel" else "elements"
                raise TilingError(f"input {tid!r} axis {ax.id!r}: expected {lk.fixed} {what}, got {s}")
            if lk.root == BATCH and lk.parent is None:
                if root_sizes.setdefault(BATCH, s) != s:
                    raise TilingError(
                        f"input {tid!r} axis {ax.id!r}: batch size {s} differs from another input's "
                        f"batch size {root_sizes[BATCH]}"
                    )
            elif lk.root == (tid, ax.id):
                root_sizes[lk.root] = s
    expected = graph.sizes({**{r: 1 for r in graph.roots}, **root_sizes})
    for tid, shape in shapes.items():
        for ax, s in zip(graph.inputs[tid].axes, shape, strict=True):
            lk = graph.links[(tid, ax.id)]
            if lk.parent is not None and expected[(tid, ax.id)] != s:
                raise TilingError(
                    f"input {tid!r} axis {ax.id!r}: size {s} does not match its size reference to "
                    f"{lk.parent[0]!r} axis {lk.parent[1]!r}, which asks for {expected[(tid, ax.id)]}"
                )
    for r in graph.roots:
        root_sizes.setdefault(r, 1)
    return root_sizes
