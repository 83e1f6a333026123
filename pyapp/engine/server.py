"""Start the embedded Hypha server and mint tokens for it.

The server is a subprocess (``python -m hypha.server`` through :mod:`.hypha_launch`, which only turns
WebSocket compression off) bound to 127.0.0.1, with everything in one data folder:

- ``secret``: the ``HYPHA_JWT_SECRET`` (made once, mode 0600), so tokens survive restarts;
- ``root-token``: the server's root token (0600; never handed out: tokens it mints carry role admin);
- ``hypha.db`` (SQLite event log) and ``hypha-cache/``;
- ``jobs/``: the trainer workers' job store (see :mod:`.jobs`).

Tokens for the page and the workers are role-``user`` tokens signed offline with the same secret, scoped to
the engine's workspace, which a startup function recreates at every boot.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from . import WORKSPACE

#: Seconds a token minted by ``pyapp engine`` stays valid (30 days).
TOKEN_SECONDS = 30 * 24 * 3600


class EngineError(Exception):
    """The engine could not start or answer; the message is one line."""


def default_data_dir() -> Path:
    """``$XDG_CACHE_HOME/pyapp/engine`` (``~/.cache/pyapp/engine``): the embedded server's data folder."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pyapp" / "engine"


def _private_value(path: Path, make: int) -> str:
    """The text in ``path``, or a fresh ``token_urlsafe(make)`` written there with mode 0600."""
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(make)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def _root_token(path: Path) -> str:
    """The root token in ``path``, at least 64 characters: Hypha refuses shorter ones that happen to contain
    "abc", "123", "test", … (about 1 in 60 of 54-character random tokens); a shorter one is replaced."""
    if path.is_file() and len(path.read_text().strip()) < 64:
        path.unlink()
    return _private_value(path, 48)


def jwt_secret(data_dir: Path) -> str:
    """The server's JWT secret, kept in ``data_dir/secret``."""
    return _private_value(Path(data_dir) / "secret", 32)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mint_token(data_dir: Path, user_id: str, *, workspace: str = WORKSPACE, expires_in: int = TOKEN_SECONDS) -> str:
    """A role-``user`` read/write token for ``workspace``, signed with the data folder's secret.

    Parameters
    ----------
    data_dir
        The engine's data folder (holds ``secret``).
    user_id
        Whom the token names; the trainer keeps each user's jobs apart by this id.
    workspace
        The workspace the token opens.
    expires_in
        Lifetime in seconds.
    """
    import asyncio

    from hypha.core import UserInfo, UserPermission
    from hypha.core.auth import create_scope, generate_auth_token, set_jwt_secret

    set_jwt_secret(jwt_secret(data_dir))
    scope = create_scope(workspaces={workspace: UserPermission.read_write}, current_workspace=workspace)
    user = UserInfo(id=user_id, roles=["user"], is_anonymous=False, email=None, scope=scope)
    return asyncio.run(generate_auth_token(user, expires_in))


@dataclass
class HyphaServer:
    """An embedded Hypha server process; :meth:`start` it, :meth:`stop` it (also a context manager)."""

    data_dir: Path
    port: int = 0
    workspace: str = WORKSPACE
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (hypha-rpc clients take this as ``server_url``)."""
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The server's command line."""
        data = Path(self.data_dir).resolve()
        root_token = _root_token(data / "root-token")
        startup = Path(__file__).with_name("hypha_startup.py")
        return [sys.executable, "-m", "pyapp.engine.hypha_launch", "--host=127.0.0.1", f"--port={self.port}",
                f"--database-uri=sqlite+aiosqlite:///{data / 'hypha.db'}", f"--cache-dir={data / 'hypha-cache'}",
                f"--root-token={root_token}", f"--startup-functions={startup}:create_workspace"]

    def start(self, timeout: float = 60.0) -> HyphaServer:
        """Start the process and wait until it answers on ``/health/readiness``.

        Raises
        ------
        EngineError
            When it exits or does not answer within ``timeout`` seconds (the message has its last log line).
        """
        data = Path(self.data_dir).resolve()
        data.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        env = {**os.environ, "HYPHA_JWT_SECRET": jwt_secret(data), "PYAPP_ENGINE_WORKSPACE": self.workspace,
               "HYPHA_LOGLEVEL": os.environ.get("HYPHA_LOGLEVEL", "WARNING")}
        pypath = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pypath, env.get("PYTHONPATH")]))
        log = open(data / "hypha.log", "ab")
        self.proc = subprocess.Popen(self.command(), env=env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=data)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EngineError(f"the Hypha server exited with code {self.proc.returncode}: {self._last_log()}")
            if self._ready():
                return self
            time.sleep(0.2)
        self.stop()
        raise EngineError(f"the Hypha server did not answer within {timeout:.0f} s: {self._last_log()}")

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health/readiness", timeout=2) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _last_log(self) -> str:
        path = Path(self.data_dir) / "hypha.log"
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()] if path.is_file() else []
        return lines[-1].strip()[:300] if lines else "no log"

    def stop(self) -> None:
        """Terminate the process (kill after 10 s)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> HyphaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def mint_tokens(data_dir: Path, user_ids: list[str], *, workspace: str = WORKSPACE) -> list[str]:
    """:func:`mint_token` for several users, in a child process (keeps Hypha's imports out of the caller)."""
    code = ("import sys; from pathlib import Path; from pyapp.engine.server import mint_token; "
            "print('\\n'.join(mint_token(Path(sys.argv[1]), u, workspace=sys.argv[2]) for u in sys.argv[3:]))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]),
                                                                      os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", code, str(data_dir), workspace, *user_ids], env=env,
                          capture_output=True, text=True, check=False)
    tokens = proc.stdout.split()
    if proc.returncode != 0 or len(tokens) != len(user_ids):
        raise EngineError(f"could not mint tokens: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    return tokens
