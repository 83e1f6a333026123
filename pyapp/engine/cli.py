"""``pyapp engine`` (Hypha server + trainer workers, or one worker attached to a server) and ``pyapp train``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

from . import SERVICE_ID, WORKSPACE

#: The user id inside the token ``pyapp engine`` prints for the page.
PAGE_USER = "local-user"


def worker_command(server_url: str, token: str, jobs_dir: Path, max_upload_mb: float) -> list[str]:
    """The command line of one worker process attached to ``server_url``."""
    return [sys.executable, "-m", "pyapp.cli", "engine", "--server-url", server_url, "--token", token,
            "--jobs-dir", str(jobs_dir), "--max-upload-mb", str(max_upload_mb)]


def _child_env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env


def count_workers(url: str, token: str) -> int:
    """How many ``pyapp-trainer`` services the workspace of ``token`` lists now."""
    from hypha_rpc import connect_to_server

    async def count() -> int:
        server = await connect_to_server({"server_url": url, "token": token})
        try:
            services = await server.list_services()
            return sum(1 for s in services if str(s.get("id", "")).endswith(f":{SERVICE_ID}"))
        finally:
            await server.disconnect()

    return asyncio.run(count())


def wait_for_workers(url: str, token: str, n: int, timeout: float = 120.0) -> None:
    """Return once ``n`` workers are registered; TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while count_workers(url, token) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{n} trainer worker(s) did not register within {timeout:.0f} s")
        time.sleep(0.3)


def _attach(args: argparse.Namespace) -> int:
    from .worker import serve

    jobs = Path(args.jobs_dir) if args.jobs_dir else Path(args.data_dir or _default_dir()) / "jobs"
    try:
        asyncio.run(serve(args.server_url, args.token, jobs, max_upload=int(args.max_upload_mb * 2**20)))
    except KeyboardInterrupt:
        return 0
    return 0


def _default_dir() -> Path:
    from .server import default_data_dir

    return default_data_dir()


def _terminate(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def _embedded(args: argparse.Namespace) -> int:
    from .server import HyphaServer, mint_token

    data = Path(args.data_dir or _default_dir()).resolve()
    server = HyphaServer(data, port=args.port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    workers: list[subprocess.Popen[bytes]] = []
    try:
        server.start()
        worker_token, page_token = mint_token(data, "pyapp-worker"), mint_token(data, PAGE_USER)
        cmd = worker_command(server.url, worker_token, data / "jobs", args.max_upload_mb)
        env = _child_env()  # the workers share the cores
        env.setdefault("PYAPP_ENGINE_THREADS", str(max(1, (os.cpu_count() or 1) // max(1, args.workers))))
        workers = [subprocess.Popen(cmd, env=env) for _ in range(args.workers)]
        wait_for_workers(server.url, page_token, args.workers)
        info = {"url": server.url, "workspace": WORKSPACE, "token": page_token, "data_dir": str(data),
                "workers": [w.pid for w in workers]}
        if args.json:
            print(json.dumps(info), flush=True)
        else:
            print(f"engine    {server.url} (workspace {WORKSPACE}, {args.workers} worker(s), data {data})")
            print(f"token     {page_token}")
            fragment = urllib.parse.urlencode({"engine": server.url, "token": page_token})
            print(f"page      add #{fragment} to the app's address (the fragment never reaches a server)",
                  flush=True)
        while True:  # supervise: a worker that exits is replaced; its jobs resume in the new one
            time.sleep(1.0)
            if server.proc is None or server.proc.poll() is not None:
                print("engine    the Hypha server exited; stopping", file=sys.stderr)
                return 1
            for i, w in enumerate(workers):
                if w.poll() is not None:
                    print(f"engine    worker {w.pid} exited ({w.returncode}); starting another", flush=True)
                    workers[i] = subprocess.Popen(cmd, env=env)
    except KeyboardInterrupt:
        return 0
    finally:
        _terminate(workers)
        server.stop()


def _cmd_engine(args: argparse.Namespace) -> int:
    if bool(args.server_url) != bool(args.token):
        print("pyapp engine: --server-url and --token go together", file=sys.stderr)
        return 2
    return _attach(args) if args.server_url else _embedded(args)


def add_engine(sub: argparse._SubParsersAction) -> None:
    """Add ``pyapp engine`` (Hypha server + trainer workers, or one attached worker) to the CLI."""
    p = sub.add_parser("engine", help="run the training engine (Hypha server + PyTorch trainer workers)",
                       description="Without --server-url: start Hypha on 127.0.0.1 and trainer workers, print the "
                                   "URL and a token for the page. With --server-url/--token: attach one worker.")
    p.add_argument("--workers", type=int, default=1, help="trainer workers to start (default 1)")
    p.add_argument("--port", type=int, default=9520, help="port on 127.0.0.1 (0 = any free port)")
    p.add_argument("--data-dir", default=None, help="server data, secret and jobs (default ~/.cache/pyapp/engine)")
    p.add_argument("--json", action="store_true", help="print one JSON line {url, workspace, token} when ready")
    p.add_argument("--server-url", default=None, help="attach a worker to this Hypha server")
    p.add_argument("--token", default=None, help="the worker's token for --server-url")
    p.add_argument("--jobs-dir", default=None, help="job store of an attached worker (default DATA_DIR/jobs)")
    p.add_argument("--max-upload-mb", type=float, default=256.0, help="largest upload per job (default 256)")
    p.set_defaults(func=_cmd_engine)


def add_train(sub: argparse._SubParsersAction) -> None:
    """Add ``pyapp train --recipe nuclei-dsb -o OUT`` (the engine's trainer, locally) to the CLI."""
    t = sub.add_parser("train", help="train a bundled recipe locally (no server) into a bioimage.io package",
                       description="Run the engine's trainer locally on a recipe's data; writes OUT/<recipe>/.")
    t.add_argument("--recipe", required=True, choices=["nuclei-dsb"], help="which recipe")
    t.add_argument("-o", "--out", required=True, metavar="OUT", help="writes OUT/<recipe>/bioimageio.yaml ...")
    t.add_argument("--cache", default=None, help="downloaded wheels (default OUT/.cache)")
    t.set_defaults(func=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    from .recipes import build_nuclei_dsb

    out = Path(args.out)
    cache = Path(args.cache) if args.cache else out / ".cache"
    path = build_nuclei_dsb(out / args.recipe, cache, log=lambda line: print(line, flush=True))
    print(f"wrote     {path}")
    return 0
