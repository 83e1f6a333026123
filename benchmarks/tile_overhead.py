"""Per-tile overhead of pyapp's ModelRunner (everything but backend.run) for small tiles.

Run: ``.venv/bin/python benchmarks/tile_overhead.py [--size 2048] [--tile 64] [--repeat 5]``.

The model is the shipped example ``pyapp/examples/smooth2d`` (input y/x ``min 16 step 8``, output halo 1,
whole-image zero_mean_unit_variance). ``ModelRunner.predict`` runs on a SIZE x SIZE float32 image (the
nuclei image mirrored) with ``tile={"y": TILE, "x": TILE}``, once with a trivial async backend that returns
a preallocated output block (backend cost ~ 0) and once with the real ``OrtBackend`` for context.

The time inside ``backend.run`` is measured and subtracted, and so are the one-off steps (statistics of the
whole image in ``plan_blockwise``, whole-image processing where a step needs it, ``plan_tiles``,
``allocate_output``), timed in place by wrapping the functions the runner calls. What is left, divided by the
number of tiles, is the per-tile overhead (``extract`` with the tile's preprocessing and padding at the borders,
``stitch`` with its postprocessing, the await, progress); goal: <= 300 us per tile. A micro-benchmark of
``extract`` and ``stitch`` alone breaks it down. Nothing is written into the repository.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

import pyapp.runtime._runner as runner_mod
from pyapp.runtime import ModelRunner, create_backend
from pyapp.spec import load
from pyapp.tiling import allocate_outputs, extract, plan_tiles, stitch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO / "pyapp/examples/smooth2d/bioimageio.yaml"
DEFAULT_IMAGE = REPO.parent / "shared/data/nuclei-dsb2018/img2d.tif"
GOAL_US = 300.0


class FastBackend:
    """Returns one preallocated, zero-filled output block per output (shape as the input block's y/x)."""

    name = "fast (preallocated outputs)"

    def __init__(self, output_ids: list[str]):
        self.output_ids = output_ids
        self._cache: dict[tuple[int, ...], np.ndarray] = {}

    async def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        shape = next(iter(inputs.values())).shape
        out = self._cache.get(shape)
        if out is None:
            out = self._cache[shape] = np.zeros(shape, np.float32)
        return dict.fromkeys(self.output_ids, out)


class TimedBackend:
    """Wraps a backend and sums the seconds spent in its ``run``."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.name = inner.name
        self.seconds = 0.0
        self.calls = 0

    async def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        start = time.perf_counter()
        result = await self.inner.run(inputs)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return result


class OneOffTimer:
    """Times the runner's one-off steps in place by wrapping the module-level functions it calls."""

    NAMES = ("apply_processing", "plan_blockwise", "plan_tiles", "allocate_output")

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(self.NAMES, 0.0)
        self._saved: dict[str, Callable[..., Any]] = {}

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start
        return timed

    def __enter__(self) -> OneOffTimer:
        for name in self.NAMES:
            self._saved[name] = getattr(runner_mod, name)
            setattr(runner_mod, name, self._wrap(name, self._saved[name]))
        return self

    def __exit__(self, *exc: object) -> None:
        for name, fn in self._saved.items():
            setattr(runner_mod, name, fn)


def measure(model: Any, backend: Any, x: np.ndarray, tile: int) -> dict[str, float]:
    """One ``predict`` run: total, backend and one-off seconds, number of tiles."""
    timed = TimedBackend(backend)
    runner = ModelRunner(model, backend=timed)
    tid = model.inputs[0].id
    done = []
    with OneOffTimer() as t:
        start = time.perf_counter()
        runner.predict_sync({tid: x}, tile={"y": tile, "x": tile}, progress=lambda i, n, m: done.append(i))
        total = time.perf_counter() - start
    one_off = sum(t.seconds.values())
    return {"total": total, "backend": timed.seconds, "one_off": one_off,
            "pre_post": t.seconds["apply_processing"] + t.seconds["plan_blockwise"],
            "plan_alloc": t.seconds["plan_tiles"] + t.seconds["allocate_output"], "tiles": timed.calls,
            "per_tile_us": (total - timed.seconds - one_off) / timed.calls * 1e6,
            "backend_us": timed.seconds / timed.calls * 1e6}


def micro(model: Any, x: np.ndarray, tile: int) -> dict[str, float]:
    """Mean microseconds per tile of ``extract`` and of ``stitch`` alone (and the share of padded tiles)."""
    tid = model.inputs[0].id
    plan = plan_tiles(model, {tid: x.shape}, tile={"y": tile, "x": tile})
    outputs = allocate_outputs(plan)
    inputs = {tid: x}
    block_out = {o: np.zeros(s, np.float32) for o, s in plan.output_block_shapes.items()}
    start = time.perf_counter()
    for block in plan.blocks:
        extract(plan, block, inputs)
    t_extract = time.perf_counter() - start
    start = time.perf_counter()
    for block in plan.blocks:
        stitch(plan, block, block_out, outputs)
    t_stitch = time.perf_counter() - start
    padded = sum(any(p is not None for p in b.pad.values()) for b in plan.blocks)
    n = len(plan.blocks)
    return {"extract_us": t_extract / n * 1e6, "stitch_us": t_stitch / n * 1e6, "padded": padded, "tiles": n}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="model with a parameterized 2D input")
    parser.add_argument("--image", default=str(DEFAULT_IMAGE), help="2D image mirrored to --size")
    parser.add_argument("--size", type=int, default=2048, help="side of the square test image (2048)")
    parser.add_argument("--tile", type=int, default=64, help="tile side (64)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per backend; medians are reported (5)")
    parser.add_argument("--no-ort", action="store_true", help="skip the OrtBackend run")
    args = parser.parse_args()

    import tifffile

    model = load(args.model)
    img = tifffile.imread(args.image).astype(np.float32)
    img = np.pad(img, [(0, max(0, args.size - n)) for n in img.shape], mode="symmetric")[:args.size, :args.size]
    x = np.ascontiguousarray(img[None, None])  # (batch, channel, y, x) as the example model wants
    out_ids = [t.id for t in model.outputs]

    backends: list[tuple[str, Callable[[], Any]]] = [("fast", lambda: FastBackend(out_ids))]
    if not args.no_ort:
        ort = create_backend(model)
        backends.append(("onnxruntime", lambda: ort))
    print(f"model: {args.model}")
    print(f"image: {x.shape} float32, tile {args.tile}x{args.tile}, {args.repeat} run(s) per backend, medians")
    print(f"{'backend':<12} {'tiles':>6} {'total s':>8} {'pre+post ms':>12} {'plan+alloc ms':>14} "
          f"{'backend us/tile':>16} {'overhead us/tile':>17}")
    fast_overhead = None
    for label, make in backends:
        measure(model, make(), x, args.tile)  # warm-up (imports, caches, ORT first-run allocations)
        runs = [measure(model, make(), x, args.tile) for _ in range(args.repeat)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        if label == "fast":
            fast_overhead = med["per_tile_us"]
        print(f"{label:<12} {int(med['tiles']):>6} {med['total']:8.3f} {med['pre_post'] * 1e3:12.1f} "
              f"{med['plan_alloc'] * 1e3:14.1f} {med['backend_us']:16.1f} {med['per_tile_us']:17.1f}")
    m = micro(model, x, args.tile)
    print(f"breakdown (alone): extract {m['extract_us']:.1f} us/tile ({m['padded']} of {m['tiles']} tiles padded), "
          f"stitch {m['stitch_us']:.1f} us/tile")
    assert fast_overhead is not None
    print(f"per-tile overhead (fast backend): {fast_overhead:.1f} us  (goal <= {GOAL_US:.0f} us: "
          f"{'met' if fast_overhead <= GOAL_US else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
