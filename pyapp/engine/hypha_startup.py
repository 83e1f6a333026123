"""Hypha startup function: (re)create the engine's workspace at every server boot.

Workspaces live in the server's memory; without this the workspace and every token for it would be useless after
a restart. It is marked persistent so Hypha does not unload it while no client is connected (measured: a
non-persistent one vanished before the first worker connected on a busy machine). Hypha loads this file by
path (``--startup-functions=<this file>:create_workspace``).
"""

from __future__ import annotations

import os
from typing import Any


async def create_workspace(server: Any) -> None:
    """Create the workspace named by ``PYAPP_ENGINE_WORKSPACE`` (default ``pyapp-engine``), overwriting it."""
    workspace = os.environ.get("PYAPP_ENGINE_WORKSPACE", "pyapp-engine")
    await server.create_workspace(
        {"id": workspace, "name": workspace, "description": "pyapp training engine",
         "owners": [], "persistent": True, "read_only": False},
        overwrite=True)
