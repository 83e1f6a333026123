"""docs/plugins.md: every ```python example that starts with ``# /// script`` is a valid plugin, the examples
together use every api call, and each one loads, sets up and runs (``run(ctx)``) in CPython with the in-memory
host of ``tests/test_plugin_api.py`` (prompts answered, a file chosen, windows recorded)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from test_plugin_api import FakeHost

from pyapp.plugins import load_plugin

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
API_CALLS = ("export", "get_plugin", "log", "error", "show_message", "show_status", "show_progress", "alert",
             "prompt", "confirm", "show_dialog", "create_window", "show_file_dialog", "get_config", "set_config",
             "register_service", "get_service")
WINDOW_TYPES = ("imageviewer", "plot", "markdown")


def examples() -> list[str]:
    blocks = re.findall(r"^```python\n(.*?)^```$", DOC.read_text(encoding="utf-8"), flags=re.M | re.S)
    return [b for b in blocks if b.startswith("# /// script\n")]


def test_every_example_is_a_valid_plugin() -> None:
    found = examples()
    assert len(found) >= 18
    names = [load_plugin(src, filename=f"example{i}.py").manifest.name for i, src in enumerate(found)]
    assert len(set(names)) == len(names), f"two examples share a name: {names}"


def test_every_api_call_has_an_example() -> None:
    text = "\n".join(examples())
    missing = [fn for fn in API_CALLS if not re.search(rf"\bapi\.{fn}\(", text)]
    assert not missing, f"docs/plugins.md has no example of api.{', api.'.join(missing)}"
    for kind in WINDOW_TYPES:
        assert re.search(rf"api\.create_window\(\{{\"type\": \"{kind}\"", text), f"no create_window example of {kind}"


def test_examples_load_and_run_with_a_fake_host() -> None:
    pytest.importorskip("numpy")

    async def main() -> None:
        host = FakeHost()
        host.answers = ["Ada", True] * 10
        host.files = [{"name": "cells.csv", "bytes": b"a,b\n1,2\n", "size": 8, "type": "text/csv"}] * 5
        results = {}
        for i, source in enumerate(examples()):   # in page order: Squarer before its caller, the service first
            info = await host.load(source, f"example{i}.py")
            if "run" in info["interface"]:
                config = {"who": "Ada", "a": 1, "b": 2}
                results[info["name"]] = await host.call(info["name"], "run", {"config": config, "data": {}})
        assert results["Hello"] == "Hello, Ada!"
        assert results["Squarer caller"] == 144
        assert results["Asker"] == "Hello, Ada!"
        assert results["File reader"] == 2
        assert results["Counter"] == "run number 1"
        assert results["Units user"] == 20.0
        types = sorted(w["type"] for w in host.windows.values())
        assert types == ["imageviewer", "markdown", "markdown", "plot"]
        called = {fn for _, fn, _ in host.events}
        assert {"log", "error", "show_message", "show_status", "show_progress", "alert"} <= called

    asyncio.run(main())
