"""Start a real engine (Hypha server + workers, subprocesses on 127.0.0.1) from tests and benchmarks.

>>> with running_engine(tmp_path, workers=1) as eng:        # doctest: +SKIP
...     server = await connect_to_server({"server_url": eng.url, "token": eng.token})

The engine is ``pyapp engine --json`` itself, so tests exercise the command users run. ``eng.token`` is the
role-user token ``pyapp engine`` prints (user ``local-user``); :meth:`Engine.mint` makes tokens for other users, and
:meth:`Engine.start_worker` attaches one more worker process (e.g. after killing one).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from . import WORKSPACE
from .cli import _child_env, wait_for_workers, worker_command


@dataclass
class Engine:
    """A running engine: its URL, workspace, the page token (user ``local-user``), and its processes."""

    url: str
    token: str
    data_dir: Path
    proc: subprocess.Popen[str]
    worker_pids: list[int]
    max_upload_mb: float
    workspace: str = WORKSPACE
    extra: list[subprocess.Popen[bytes]] = field(default_factory=list)
    drain: threading.Thread | None = None

    def mint(self, user_id: str, workspace: str = WORKSPACE) -> str:
        """A role-user token of ``user_id`` for ``workspace`` (signed with this engine's secret)."""
        from .server import mint_tokens

        return mint_tokens(self.data_dir, [user_id], workspace=workspace)[0]

    def start_worker(self, wait: bool = True) -> subprocess.Popen[bytes]:
        """Attach one more worker process (stopped with the engine); waits until it is registered."""
        from .cli import count_workers

        before = count_workers(self.url, self.token)
        cmd = worker_command(self.url, self.mint("pyapp-worker"), self.data_dir / "jobs", self.max_upload_mb)
        proc = subprocess.Popen(cmd, env=_child_env(), stdout=subprocess.DEVNULL)
        self.extra.append(proc)
        if wait:
            wait_for_workers(self.url, self.token, before + 1)
        return proc


def _start(data_dir: Path, workers: int, max_upload_mb: float, timeout: float) -> Engine:
    cmd = [sys.executable, "-m", "pyapp.cli", "engine", "--data-dir", str(data_dir), "--port", "0", "--json",
           "--workers", str(workers), "--max-upload-mb", str(max_upload_mb)]
    proc = subprocess.Popen(cmd, env=_child_env(), stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:  # log lines, then one JSON line once the workers are registered
        if line.startswith("{"):
            info = json.loads(line)
            break
    else:
        proc.wait(timeout)
        raise RuntimeError(f"pyapp engine exited with code {proc.returncode} before it was ready")
    drain = threading.Thread(target=proc.stdout.read, daemon=True)  # keep draining its log
    drain.start()
    return Engine(info["url"], info["token"], Path(info["data_dir"]), proc, info["workers"], max_upload_mb,
                  drain=drain)


def stop(engine: Engine) -> None:
    """Stop the engine, its workers and any worker added with :meth:`Engine.start_worker`."""
    for p in engine.extra:
        if p.poll() is None:
            p.terminate()
    if engine.proc.poll() is None:
        engine.proc.terminate()
        try:
            engine.proc.wait(30)
        except subprocess.TimeoutExpired:
            engine.proc.kill()
    if engine.drain is not None:
        engine.drain.join(10)
    if engine.proc.stdout is not None:
        engine.proc.stdout.close()
    for p in engine.extra:
        with suppress(subprocess.TimeoutExpired):
            p.wait(10)
        if p.poll() is None:
            p.kill()


@contextmanager
def running_engine(data_dir: Path, workers: int = 1, max_upload_mb: float = 256.0,
                   timeout: float = 180.0) -> Iterator[Engine]:
    """Start ``pyapp engine`` on a free port with ``data_dir``; stop it (and its workers) at exit."""
    engine = _start(Path(data_dir).resolve(), workers, max_upload_mb, timeout)
    try:
        yield engine
    finally:
        stop(engine)
