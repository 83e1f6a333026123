"""ESLint (eslint.config.mjs) over web/ and editor/: any error fails."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ESLINT = ROOT / "node_modules" / ".bin" / "eslint"


def test_eslint_clean() -> None:
    if not ESLINT.is_file() or shutil.which("node") is None:
        pytest.fail("node_modules/.bin/eslint (npm ci) and node are needed for this test", pytrace=False)
    done = subprocess.run([str(ESLINT), "--max-warnings", "0", "web", "editor"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
