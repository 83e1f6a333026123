"""``python -m hypha.server`` with WebSocket per-message deflate off (zlib took half the upload time).

Hypha calls ``uvicorn.run`` without ``ws_per_message_deflate``; this module sets that one keyword and then
runs ``hypha.server`` as ``__main__`` with the same command line. Clients negotiate no compression then.
"""

from __future__ import annotations

import runpy
import sys
from typing import Any

import uvicorn

_run = uvicorn.run


def _run_without_deflate(*args: Any, **kwargs: Any) -> None:
    kwargs.setdefault("ws_per_message_deflate", False)
    _run(*args, **kwargs)


if __name__ == "__main__":
    uvicorn.run = _run_without_deflate
    sys.argv[0] = "hypha.server"
    runpy.run_module("hypha.server", run_name="__main__", alter_sys=True)
