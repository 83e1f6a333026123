"""The ``pyapp-trainer`` service through the stock hypha-rpc client against a real ``pyapp engine``.

One engine (Hypha server + 2 workers, 8 MiB upload cap) serves this module; a second one, started with no
workers, is killed and restarted in the reliability test. Jobs use a tiny U-Net on 128² crops of the DSB
image so each takes seconds.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

hypha_rpc = pytest.importorskip("hypha_rpc", reason="hypha-rpc is not installed (the engine extra)")
tifffile = pytest.importorskip("tifffile", reason="tifffile is not installed (the cpu extra)")

from pyapp.engine.cli import _child_env as child_env  # noqa: E402
from pyapp.engine.testing import Engine, running_engine  # noqa: E402

TINY = {"base_channels": 4, "depth": 2, "patch": 32, "batch_size": 2, "val_every": 10, "checkpoint_every": 10,
        "val_fraction": 0.25}
CAP_MB = 8


@pytest.fixture(scope="module")
def dsb(shared_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    folder = shared_dir / "data" / "nuclei-dsb2018"
    return tifffile.imread(folder / "img2d.tif"), tifffile.imread(folder / "mask2d.tif")


@pytest.fixture(scope="module")
def pairs(dsb: tuple[np.ndarray, np.ndarray]) -> list[dict[str, Any]]:
    image, mask = dsb
    return [{"name": "dsb-crop", "image": image[:128, :128], "mask": mask[:128, :128]}]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with running_engine(tmp_path_factory.mktemp("engine"), workers=2, max_upload_mb=CAP_MB) as eng:
        yield eng


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def trainer_for(url: str, token: str | None) -> tuple[Any, Any]:
    config = {"server_url": url, **({"token": token} if token else {})}
    server = await hypha_rpc.connect_to_server(config)
    return server, await server.get_service("pyapp-trainer", {"mode": "random"})


async def wait_for(check: Callable[[], Any], what: str, timeout: float = 240.0) -> Any:
    """Poll ``check`` (async) until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; last seen: {getattr(check, 'seen', None)}")


def test_short_job_end_to_end(engine: Engine, pairs: list[dict[str, Any]], tmp_path: Path) -> None:
    async def main() -> tuple[dict[str, Any], bytes, list[dict[str, Any]]]:
        server, trainer = await trainer_for(engine.url, engine.token)
        job = await trainer.start_training({**TINY, "steps": 20}, pairs)

        async def finished() -> dict[str, Any] | None:
            s = await trainer.status(job)
            return s if s["state"] in ("done", "failed") else None

        status = await wait_for(finished, "the job to finish")
        package = await trainer.export(job)
        jobs = await trainer.list_jobs()
        await server.disconnect()
        return status, package, jobs

    status, package, jobs = run(main())
    assert status["state"] == "done", status.get("error")
    assert status["step"] == status["total_steps"] == 20
    assert [s for s, _ in status["losses"]] == list(range(1, 21))
    assert [m["step"] for m in status["val_metrics"]] == [10, 20]
    assert {k: v.dtype for k, v in status["sample"].items()} == {k: np.uint8 for k in ("image", "prediction", "mask")}
    assert status["job_id"] in [j["job_id"] for j in jobs]
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        zf.extractall(tmp_path / "pkg")
    rdf = yaml.safe_load((tmp_path / "pkg" / "bioimageio.yaml").read_text())
    assert set(rdf["weights"]) == {"onnx", "torchscript"}
    assert rdf["config"]["pyapp"]["engine"]["steps_done"] == 20
    proc = subprocess.run([sys.executable, "-m", "pyapp.cli", "test", str(tmp_path / "pkg")], env=child_env(),
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_two_users_and_strangers_are_kept_apart(engine: Engine, pairs: list[dict[str, Any]]) -> None:
    alice, bob, eve = engine.mint("alice"), engine.mint("bob"), engine.mint("eve", workspace="ws-user-eve")

    async def main() -> None:
        sa, ta = await trainer_for(engine.url, alice)
        sb, tb = await trainer_for(engine.url, bob)
        job = await ta.start_training({**TINY, "steps": 2, "val_fraction": 0.0}, pairs)
        assert [j["job_id"] for j in await ta.list_jobs()] == [job]
        assert await tb.list_jobs() == []
        for call in (tb.status(job), tb.export(job), tb.delete(job), tb.stop(job)):
            with pytest.raises(Exception, match="no such job"):
                await call
        for token in (eve, None):  # another workspace's user, anonymous
            server = await hypha_rpc.connect_to_server({"server_url": engine.url,
                                                        **({"token": token} if token else {})})
            with pytest.raises(Exception, match=r"[Pp]ermission denied"):
                await server.get_service("pyapp-engine/pyapp-trainer", {"mode": "random"})
            await server.disconnect()
        assert await ta.delete(job) is True
        assert await ta.list_jobs() == []
        await sa.disconnect()
        await sb.disconnect()

    run(main())


def test_upload_over_the_cap_is_refused_and_nothing_stored(engine: Engine, dsb: tuple[np.ndarray, np.ndarray]) -> None:
    image, mask = dsb
    big = np.tile(image.astype(np.float32), (3, 3))  # 1536² float32 = 9 MiB > 8 MiB
    data = [{"name": "big.tif", "image": big, "mask": np.tile(mask, (3, 3)).astype(np.uint8)}]
    user = engine.mint("carol")
    before = sorted(p.name for p in (engine.data_dir / "jobs").rglob("*"))

    async def main() -> str:
        server, trainer = await trainer_for(engine.url, user)
        try:
            await trainer.start_training({}, data)
        except Exception as err:  # hypha-rpc raises its own RemoteException
            return str(err)
        finally:
            await server.disconnect()
        return "accepted"

    message = run(main())
    first = message.splitlines()[0].removeprefix("RemoteError:")
    assert "over this engine's limit of 8.0 MiB" in first and "data:" in first, message[:300]
    assert sorted(p.name for p in (engine.data_dir / "jobs").rglob("*")) == before


def test_two_workers_run_two_jobs_at_once(engine: Engine, pairs: list[dict[str, Any]]) -> None:
    async def main() -> set[str]:
        server, trainer = await trainer_for(engine.url, engine.mint("dave"))
        # no early stopping: both jobs must still be running when both are seen
        config = {**TINY, "steps": 100000, "patience": 100000}
        jobs = [await trainer.start_training({**config, "seed": i}, pairs) for i in range(2)]

        async def both_running() -> list[dict[str, Any]] | None:
            states = [await trainer.status(j) for j in jobs]
            both_running.seen = [{k: s.get(k) for k in ("state", "step", "worker", "error")} for s in states]
            return states if all(s["state"] == "running" and s["step"] > 0 for s in states) else None

        states = await wait_for(both_running, "both jobs to run")
        for j in jobs:
            await trainer.delete(j)
        await server.disconnect()
        return {s["worker"] for s in states}

    assert len(run(main())) == 2


def test_killed_worker_resumes_and_restart_keeps_finished_jobs(tmp_path: Path, pairs: list[dict[str, Any]]) -> None:
    config = {**TINY, "steps": 60, "checkpoint_every": 10}

    async def start_and_kill(eng: Engine, worker: Any) -> tuple[str, int]:
        server, trainer = await trainer_for(eng.url, eng.token)

        async def past_checkpoint() -> int | None:
            s = await trainer.status(job)
            return s["step"] if s["step"] >= 25 else None

        job = await trainer.start_training(config, pairs)
        killed_at = await wait_for(past_checkpoint, "step 25")  # the worker is at least this far
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        await server.disconnect()
        return job, killed_at

    async def finish(eng: Engine, job: str) -> dict[str, Any]:
        server, trainer = await trainer_for(eng.url, eng.token)

        async def done() -> dict[str, Any] | None:
            s = await trainer.status(job)
            return s if s["state"] in ("done", "failed") else None

        status = await wait_for(done, "the resumed job to finish")
        await server.disconnect()
        return status

    async def after_restart(eng: Engine, job: str) -> tuple[list[dict[str, Any]], bytes]:
        server, trainer = await trainer_for(eng.url, eng.token)
        jobs, package = await trainer.list_jobs(), await trainer.export(job)
        await server.disconnect()
        return jobs, package

    with running_engine(tmp_path / "eng", workers=0) as eng:
        job, killed_at = run(start_and_kill(eng, eng.start_worker()))
        eng.start_worker()
        status = run(finish(eng, job))
        package_before = (eng.data_dir / "jobs").rglob("package.zip").__next__().read_bytes()
    assert status["state"] == "done", status.get("error")
    assert len(status["resumed_at"]) == 1  # resumed once, from a checkpoint at most one interval back
    assert status["resumed_at"][0] % 10 == 0 and killed_at - 10 <= status["resumed_at"][0] >= 20
    assert [s for s, _ in status["losses"]] == list(range(1, 61))
    with running_engine(tmp_path / "eng", workers=1) as eng:  # a fresh server process on the same data
        jobs, package = run(after_restart(eng, job))
    assert [(j["job_id"], j["state"]) for j in jobs] == [(job, "done")]
    assert package == package_before


def test_websocket_compression_is_off(engine: Engine) -> None:
    """The server declines per-message deflate (zlib was half the upload time), whatever the client offers."""
    import websockets

    async def main() -> list[Any]:
        async with websockets.connect(engine.url.replace("http://", "ws://") + "/ws") as ws:
            return list(ws.protocol.extensions)

    assert run(main()) == []
