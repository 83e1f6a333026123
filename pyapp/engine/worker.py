"""A trainer worker: registers ``pyapp-trainer`` on a Hypha server and runs jobs from the shared job store.

Every method takes the caller's identity from Hypha's ``context`` (the user id inside the token), so each
user sees only their own jobs. ``start_training`` only stores a queued job; a loop in each worker takes waiting
jobs (queued ones, or running ones whose worker died) one at a time and trains them in a thread, so the
event loop keeps answering ``status`` while PyTorch runs. See docs/engine.md for the wire contract.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from . import SERVICE_ID
from .data import DataError, check_pairs
from .jobs import FINAL, JobError, JobStore
from .trainer import Progress, TrainConfig

#: Default upload cap: 256 MiB of arrays per ``start_training`` call.
MAX_UPLOAD = 256 * 2**20
#: How often an idle worker looks for waiting jobs it can take (seconds).
POLL_S = 0.5
#: Who runs a job, as shown in its status: ``host:pid``.
WORKER = f"{socket.gethostname()}:{os.getpid()}"


def _user(context: dict[str, Any] | None) -> str:
    user = ((context or {}).get("user") or {})
    if not user.get("id") or user.get("is_anonymous"):
        raise PermissionError("pyapp-trainer: sign in with a token; anonymous use is not allowed")
    return str(user["id"])


def run_job(store: JobStore, folder: Path) -> str:
    """Train the job in ``folder`` (its lock must be held), export its package; returns the final state."""
    import torch

    from .export import export_package
    from .trainer import train

    meta = store.meta(folder)
    init = folder / "init_package.zip"
    cfg = TrainConfig.from_dict({**{k: v for k, v in meta["config"].items() if k != "init_package"},
                                 "init_package": init.read_bytes() if init.is_file() else None})
    store.set_state(folder, "running")
    pairs = store.pairs(folder)
    last = [0.0]

    def should_stop() -> bool:
        return (folder / "stop").exists() or (folder / "delete").exists()

    def report(p: Progress, state: str = "running", error: str | None = None, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - last[0] < 0.5 and p.sample is None:
            return
        last[0] = now
        status = {"step": p.step, "total_steps": p.total_steps, "losses": p.losses, "val_metrics": p.val_metrics,
                  "eta_s": p.eta_s, "early_stopped": p.early_stopped, "error": error, "state": state,
                  "worker": WORKER, "resumed_at": p.resumed_at}
        store.write_status(folder, status, p.sample)

    try:
        torch.set_num_threads(int(os.environ.get("PYAPP_ENGINE_THREADS", torch.get_num_threads())))
        model, progress = train(cfg, pairs, folder, should_stop=should_stop, on_progress=report)
        if (folder / "delete").exists():
            return "deleted"
        state = "stopped" if (folder / "stop").exists() and progress.step < cfg.steps and not progress.early_stopped \
            else "done"
        training = {"config": cfg.public(), "steps_done": progress.step, "losses": progress.losses,
                    "val_metrics": progress.val_metrics, "pairs": meta["pairs"], "depth": cfg.depth,
                    "early_stopped": progress.early_stopped, "job_id": meta["job_id"]}
        export_package(model, folder / "package.zip", sample=pairs[0]["image"], name=cfg.name, training=training)
        report(progress, state, force=True)
        store.set_state(folder, state)
        return state
    except Exception as err:  # a failed job must say why, whatever broke
        line = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:300]
        status = {**store.status(meta["user"], meta["job_id"], full=False), "error": line, "state": "failed"}
        status.pop("sample", None)
        store.write_status(folder, {**status, "losses": [], "val_metrics": []}, None)
        store.set_state(folder, "failed")
        return "failed"


class Trainer:
    """The ``pyapp-trainer`` service of one worker over a :class:`JobStore`."""

    def __init__(self, store: JobStore, max_upload: int = MAX_UPLOAD) -> None:
        self.store = store
        self.max_upload = max_upload
        self.wake = asyncio.Event()
        self.busy = False

    # --- service methods (``context`` is filled in by Hypha) ---

    def start_training(self, config: dict[str, Any] | None, data: list[dict[str, Any]],
                       context: dict[str, Any] | None = None) -> str:
        """Check ``config`` and ``data``, store a queued job, return its id."""
        from .export import package_arch

        user = _user(context)
        config = dict(config or {})
        init = config.get("init_package")
        if init is not None:
            if not isinstance(init, (bytes, bytearray)):
                raise DataError("config.init_package: expected the bytes of a package zip this engine exported")
            config["base_channels"], config["depth"] = package_arch(bytes(init))
        cfg = TrainConfig.from_dict(config)
        pairs = check_pairs(data, self.max_upload)
        job_id = self.store.create(user, cfg.public(), pairs)
        if init is not None:
            (self.store.folder(user, job_id) / "init_package.zip").write_bytes(bytes(init))
        self.wake.set()
        return job_id

    def status(self, job_id: str, context: dict[str, Any] | None = None) -> dict[str, Any]:
        """The job's status dict."""
        return self.store.status(_user(context), job_id)

    def stop(self, job_id: str, context: dict[str, Any] | None = None) -> dict[str, Any]:
        """Ask the job to stop after its current step; returns its status."""
        user = _user(context)
        self.store.request_stop(user, job_id)
        return self.store.status(user, job_id)

    def export(self, job_id: str, context: dict[str, Any] | None = None) -> bytes:
        """The package zip of a finished (done or stopped) job."""
        user = _user(context)
        folder = self.store.folder(user, job_id)
        state = self.store.meta(folder)["state"]
        if state not in ("done", "stopped") or not (folder / "package.zip").is_file():
            raise JobError(f"job {job_id}: not finished (state {state}); stop it or wait")
        return (folder / "package.zip").read_bytes()

    def list_jobs(self, context: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The caller's jobs, newest first."""
        return self.store.list(_user(context))

    async def delete(self, job_id: str, context: dict[str, Any] | None = None) -> bool:
        """Stop the job if it runs and delete everything it stored."""
        user = _user(context)
        await asyncio.to_thread(self.store.delete, user, job_id)
        return True

    def service(self) -> dict[str, Any]:
        """The service description to register."""
        return {"id": SERVICE_ID, "name": "pyapp trainer", "description": "Train nucleus segmentation U-Nets",
                "config": {"visibility": "protected", "require_context": True},
                "start_training": self.start_training, "status": self.status, "stop": self.stop,
                "export": self.export, "list_jobs": self.list_jobs, "delete": self.delete}

    # --- the job loop ---

    def _take_one(self) -> bool:
        """Take and run one waiting job, if any (runs in a thread); returns whether one ran."""
        for folder in self.store.waiting():
            with self.store.locked(folder, wait=0) as got:
                if not got or not (folder / "job.json").is_file() or (folder / "delete").exists():
                    continue
                if self.store.meta(folder)["state"] in FINAL:
                    continue
                run_job(self.store, folder)
                return True
        return False

    async def run_jobs(self) -> None:
        """Forever: run waiting jobs one after another; between them wait for a new job or the next poll."""
        while True:
            self.busy = True
            try:
                ran = await asyncio.to_thread(self._take_one)
            except OSError as err:  # a job folder vanished under us (deleted): look again
                print(f"worker    skipped a job: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
                ran = True
            self.busy = False
            if not ran:
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), POLL_S)
                except TimeoutError:
                    pass


async def serve(server_url: str, token: str, jobs_dir: Path, *, client_id: str | None = None,
                max_upload: int = MAX_UPLOAD, ready: threading.Event | None = None) -> None:
    """Connect to Hypha, register the service, and run jobs until cancelled."""
    from hypha_rpc import connect_to_server

    trainer = Trainer(JobStore(jobs_dir), max_upload)
    client_id = client_id or f"pyapp-trainer-{os.getpid()}-{os.urandom(3).hex()}"
    server = await connect_to_server({"server_url": server_url, "token": token, "client_id": client_id})
    await server.register_service(trainer.service())
    print(f"worker    {client_id} registered {SERVICE_ID} in workspace {server.config.workspace}", flush=True)
    if ready is not None:
        ready.set()
    try:
        await trainer.run_jobs()
    finally:
        await server.disconnect()
