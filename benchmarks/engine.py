"""The training engine's overheads: upload time of an image pair and training speed vs a plain PyTorch loop.

Run: ``.venv/bin/python benchmarks/engine.py [--repeat 10] [--steps 40]``.

1. Upload: a real ``pyapp engine`` (Hypha + 1 worker, temporary data folder, 127.0.0.1) and the stock
   hypha-rpc client; the time of ``start_training(config, [{image, mask}])`` with a 512x512 float32 image and
   a 512x512 uint32 mask (masks are integer labels; 2 MiB: rpc transfer, checks, job written to disk),
   median of ``--repeat``; each job is deleted (untimed, it stops at its next step) before the next. Goal
   <= 100 ms.
2. Training speed: steps/s of the engine's ``train()`` (with the worker's status writer and a checkpoint every
   20 steps, no validation) vs a plain loop (the same model, optimiser, loss and batches, nothing else), the
   best of ``--rounds`` interleaved runs each. Goal >= 0.9x.

Nothing is written into the repository. On a shared, busy machine the figures are noisy: repeat.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
IMAGE = REPO.parent / "shared/data/nuclei-dsb2018/img2d.tif"
MASK = REPO.parent / "shared/data/nuclei-dsb2018/mask2d.tif"


def upload_ms(repeat: int) -> list[float]:
    """Milliseconds per ``start_training`` of a 512² float32 pair against a local engine."""
    from hypha_rpc import connect_to_server

    from pyapp.engine.testing import running_engine

    rng = np.random.default_rng(0)
    image = rng.random((512, 512), dtype=np.float32)
    mask = (rng.random((512, 512)) > 0.5).astype(np.uint32)  # 4 bytes per pixel like float32: 2 MiB in all
    data = [{"name": "bench", "image": image, "mask": mask}]

    async def measure(url: str, token: str) -> list[float]:
        server = await connect_to_server({"server_url": url, "token": token})
        trainer = await server.get_service("pyapp-trainer", {"mode": "random"})
        times = []
        for _ in range(repeat + 1):
            start = time.perf_counter()
            job = await trainer.start_training({"steps": 100000, "base_channels": 4, "val_fraction": 0.0}, data)
            times.append((time.perf_counter() - start) * 1000)
            await trainer.delete(job)
        await server.disconnect()
        return times[1:]  # the first call also sets up the connection's codecs

    with tempfile.TemporaryDirectory() as tmp, running_engine(Path(tmp), workers=1) as eng:
        return asyncio.run(measure(eng.url, eng.token))


def store_ms(repeat: int) -> list[float]:
    """Milliseconds of the worker's own part of an upload (checks + job written to disk), in process."""
    from pyapp.engine.data import check_pairs
    from pyapp.engine.jobs import JobStore

    rng = np.random.default_rng(0)
    data = [{"name": "bench", "image": rng.random((512, 512), dtype=np.float32),
             "mask": (rng.random((512, 512)) > 0.5).astype(np.uint32)}]
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        store = JobStore(Path(tmp))
        for _ in range(repeat):
            start = time.perf_counter()
            store.create("bench", {"name": "bench", "steps": 1}, check_pairs(data, 2**30))
            times.append((time.perf_counter() - start) * 1000)
    return times


def _plain(cfg: Any, regions: list[Any], steps: int) -> float:
    import torch

    from pyapp.engine.data import batch
    from pyapp.engine.trainer import make_model

    model = make_model(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    bce = torch.nn.BCEWithLogitsLoss()
    start = time.perf_counter()
    for step in range(steps):
        xs, ys = batch(regions, np.random.default_rng([cfg.seed, step]), cfg.batch_size, cfg.patch, cfg.augment)
        opt.zero_grad()
        loss = bce(model.logits(torch.from_numpy(xs)), torch.from_numpy(ys))
        loss.backward()
        opt.step()
    return steps / (time.perf_counter() - start)


def _engine(cfg: Any, pairs: list[dict[str, Any]], steps: int) -> float:
    from pyapp.engine.jobs import JobStore
    from pyapp.engine.trainer import train

    with tempfile.TemporaryDirectory() as tmp:
        store = JobStore(Path(tmp))
        job = store.create("bench", cfg.public(), pairs)
        folder = store.folder("bench", job)
        times: list[float] = []

        def report(p: Any) -> None:
            times.append(time.perf_counter())
            store.write_status(folder, {"step": p.step, "losses": p.losses, "eta_s": p.eta_s}, p.sample)

        train(cfg, pairs, folder, on_progress=report)
        # steps/s between the end of step 1 and the end of the last one: set-up and the final save excluded,
        # exactly as the plain loop times only its steps
        return (steps - 1) / (times[-1] - times[0])


def training_ratio(steps: int, rounds: int) -> tuple[float, float]:
    """Best steps/s of the engine's loop and of the plain loop, interleaved ``rounds`` times."""
    import tifffile

    from pyapp.engine.data import split
    from pyapp.engine.recipes import NUCLEI_DSB

    image, mask = tifffile.imread(IMAGE), tifffile.imread(MASK)
    pairs = [{"name": "dsb", "image": image, "mask": mask}]
    cfg = NUCLEI_DSB.__class__(**{**NUCLEI_DSB.__dict__, "steps": steps, "val_fraction": 0.0,
                                  "checkpoint_every": 20})
    regions, _ = split(pairs, 0.0, cfg.patch)
    engine, plain = [], []
    for _ in range(rounds):
        plain.append(_plain(cfg, regions, steps))
        engine.append(_engine(cfg, pairs, steps))
    return max(engine), max(plain)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="uploads to time (median)")
    parser.add_argument("--steps", type=int, default=40, help="training steps per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs of each loop (best counts)")
    args = parser.parse_args()
    times = upload_ms(args.repeat)
    med = statistics.median(times)
    print(f"upload    512x512 float32 image + mask (2 MiB), start_training round trip: median {med:.1f} ms "
          f"(min {min(times):.1f}, max {max(times):.1f}, n={len(times)}); goal <= 100 ms: "
          f"{'met' if med <= 100 else 'NOT met'}")
    print(f"          of which checks + writing the job to disk (in process): median "
          f"{statistics.median(store_ms(args.repeat)):.1f} ms")
    engine, plain = training_ratio(args.steps, args.rounds)
    ratio = engine / plain
    print(f"training  engine {engine:.2f} steps/s vs plain PyTorch loop {plain:.2f} steps/s: {ratio:.2f}x; "
          f"goal >= 0.9x: {'met' if ratio >= 0.9 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
