"""The job store: one folder per job on disk, shared by every worker of an engine.

Layout: ``<root>/<user key>/<job id>/`` with ``job.json`` (owner, config, pair names, state), ``data.npz``
(the uploaded pairs), ``status.json`` (progress), ``sample.npz``, ``checkpoint.pt``/``best.pt``,
``package.zip``, and the marker files ``stop`` and ``delete``. The user key is a hash of the user id, so
each user's jobs live apart and an id from another user is simply not found.

A worker that runs a job holds an exclusive ``flock`` on the job's ``lock`` file. The kernel drops it when the
process dies (even by ``kill -9``), so a job whose state is ``queued`` or ``running`` and whose lock is free is
waiting for a worker: any worker may take it and resume from the checkpoint. Workers on several machines share
jobs when ``<root>`` is on a shared file system with working ``flock``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np

FINAL = ("done", "stopped", "failed")


class JobError(LookupError):
    """No such job for this user, or the job is not in a state that allows the request (one line)."""


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value))
    os.replace(tmp, path)


def user_key(user_id: str) -> str:
    """The folder name of a user's jobs: 16 hex digits of sha256(user id)."""
    return hashlib.sha256(user_id.encode()).hexdigest()[:16]


class JobStore:
    """Jobs under ``root``; every method takes the calling user's id and only sees that user's jobs."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def folder(self, user: str, job_id: str) -> Path:
        """The folder of ``job_id`` of ``user``.

        Raises
        ------
        JobError
            When there is no such job for this user.
        """
        if not (isinstance(job_id, str) and len(job_id) == 32 and all(c in "0123456789abcdef" for c in job_id)):
            raise JobError(f"job {job_id!r}: no such job")
        folder = self.root / user_key(user) / job_id
        if not (folder / "job.json").is_file() or (folder / "delete").exists():
            raise JobError(f"job {job_id}: no such job")
        return folder

    def create(self, user: str, config: dict[str, Any], pairs: list[dict[str, Any]]) -> str:
        """Store a new queued job (data first, ``job.json`` last, so a half-written job is never seen)."""
        job_id = uuid.uuid4().hex
        final = self.root / user_key(user) / job_id
        tmp = final.with_name(f".{job_id}.tmp")
        tmp.mkdir(parents=True)
        arrays = {f"{kind}_{i}": p[kind] for i, p in enumerate(pairs) for kind in ("image", "mask")}
        np.savez(tmp / "data.npz", **arrays)
        meta = {"job_id": job_id, "user": user, "created": time.time(), "name": config["name"],
                "pairs": [p["name"] for p in pairs], "config": config, "state": "queued"}
        _write_json(tmp / "job.json", meta)
        _write_json(tmp / "status.json", {"state": "queued", "step": 0, "total_steps": config["steps"],
                                          "losses": [], "val_metrics": [], "eta_s": None, "early_stopped": False,
                                          "error": None})
        os.replace(tmp, final)
        return job_id

    def pairs(self, folder: Path) -> list[dict[str, Any]]:
        """The uploaded pairs of the job in ``folder``."""
        meta = json.loads((folder / "job.json").read_text())
        with np.load(folder / "data.npz") as npz:
            return [{"name": name, "image": npz[f"image_{i}"], "mask": npz[f"mask_{i}"]}
                    for i, name in enumerate(meta["pairs"])]

    def meta(self, folder: Path) -> dict[str, Any]:
        """``job.json`` of the job in ``folder``."""
        return dict(json.loads((folder / "job.json").read_text()))

    def set_state(self, folder: Path, state: str) -> None:
        """Record the job's state in ``job.json``."""
        meta = self.meta(folder)
        meta["state"] = state
        _write_json(folder / "job.json", meta)

    def write_status(self, folder: Path, status: dict[str, Any], sample: dict[str, np.ndarray] | None) -> None:
        """Replace ``status.json`` (and ``sample.npz`` when a sample is given)."""
        if sample:
            tmp = folder / f".sample.{os.getpid()}.npz"
            np.savez(tmp, **sample)
            os.replace(tmp, folder / "sample.npz")
        _write_json(folder / "status.json", status)

    def status(self, user: str, job_id: str, *, full: bool = True) -> dict[str, Any]:
        """The status dict of a job (see docs/engine.md)."""
        folder = self.folder(user, job_id)
        meta = self.meta(folder)
        status = json.loads((folder / "status.json").read_text())
        out = {"job_id": job_id, **status, "state": meta["state"], "name": meta["name"], "pairs": meta["pairs"],
               "created": meta["created"], "config": meta["config"]}
        if not full:
            for key in ("losses", "val_metrics"):
                out.pop(key, None)
            return out
        out["sample"] = None
        with suppress(FileNotFoundError, ValueError, OSError), np.load(folder / "sample.npz") as npz:
            out["sample"] = {k: npz[k] for k in npz.files}
        return out

    def list(self, user: str) -> list[dict[str, Any]]:
        """Status dicts (without losses, metrics, sample) of ``user``'s jobs, newest first."""
        base = self.root / user_key(user)
        jobs = []
        for folder in base.iterdir() if base.is_dir() else []:
            with suppress(JobError, FileNotFoundError, json.JSONDecodeError):
                jobs.append(self.status(user, folder.name, full=False))
        return sorted(jobs, key=lambda j: -j["created"])

    def request_stop(self, user: str, job_id: str) -> None:
        """Ask the worker running the job to stop after its current step (a queued job stops at once)."""
        folder = self.folder(user, job_id)
        (folder / "stop").touch()
        with self.locked(folder, wait=0) as got, suppress(JobError):
            if got and self.meta(folder)["state"] == "queued":
                self.set_state(folder, "stopped")

    def delete(self, user: str, job_id: str, timeout: float = 60.0) -> None:
        """Mark the job deleted (it vanishes for clients at once), wait for its worker to let go, remove it."""
        folder = self.folder(user, job_id)
        (folder / "delete").touch()
        with self.locked(folder, wait=timeout) as got:
            if not got:
                raise JobError(f"job {job_id}: its worker did not stop within {timeout:.0f} s; try again")
            shutil.rmtree(folder)

    @contextmanager
    def locked(self, folder: Path, wait: float = 0) -> Iterator[bool]:
        """Hold the job's lock while inside; yields whether it was obtained within ``wait`` seconds."""
        try:
            fd = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:  # the job was deleted meanwhile
            yield False
            return
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    got = True
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        got = False
                        break
                    time.sleep(0.1)
            yield got
        finally:
            os.close(fd)

    def waiting(self) -> list[Path]:
        """Folders of all users' jobs in state queued/running, oldest first (candidates to take)."""
        found = []
        for folder in self.root.glob("*/*/job.json"):
            with suppress(FileNotFoundError, json.JSONDecodeError):
                meta = json.loads(folder.read_text())
                if meta["state"] not in FINAL and not (folder.parent / "delete").exists():
                    found.append((meta["created"], folder.parent))
        return [f for _, f in sorted(found)]
