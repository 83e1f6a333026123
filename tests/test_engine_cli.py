"""The engine's server command line: the root token Hypha is given must pass Hypha's own strength rule."""

from __future__ import annotations

from pathlib import Path

from pyapp.engine.server import HyphaServer

# Hypha 0.21.137 (hypha/core/store.py) refuses a root token shorter than 64 characters that contains any of these.
HYPHA_WEAK = ("test", "root", "admin", "password", "token", "secret", "123", "abc", "hypha", "default")


def _root_token(server: HyphaServer) -> str:
    (arg,) = [a for a in server.command() if a.startswith("--root-token=")]
    return arg.split("=", 1)[1]


def test_root_token_is_long_enough_to_skip_the_weak_pattern_rule(tmp_path: Path) -> None:
    token = _root_token(HyphaServer(tmp_path))
    assert len(token) >= 64
    assert _root_token(HyphaServer(tmp_path)) == token  # kept across restarts


def test_a_short_stored_root_token_is_replaced(tmp_path: Path) -> None:
    weak = "abc" + "x" * 51  # 54 characters, as earlier releases wrote, with a pattern Hypha refuses
    (tmp_path / "root-token").write_text(weak + "\n")
    token = _root_token(HyphaServer(tmp_path))
    assert len(token) >= 64 and token != weak
    assert not (len(token) < 64 and any(w in token.lower() for w in HYPHA_WEAK))
