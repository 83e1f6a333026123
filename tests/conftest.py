"""Shared fixtures for the CPython test suite."""

from __future__ import annotations

from pathlib import Path

import pytest
from shared_paths import GOLD, SHARED


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"the shared corpus is missing at {SHARED}; tests need ../shared next to the project")
    return SHARED


@pytest.fixture(scope="session")
def gold_model(shared_dir: Path) -> Path:
    return GOLD
