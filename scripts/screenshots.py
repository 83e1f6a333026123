"""Refresh the docs' screenshots (docs/screenshots/*.png): run the browser tests that take them, writing there.

Test runs write their screenshots to a temporary folder (the ``shots`` fixture in tests/browser/app_fixtures.py),
so the pictures in git change only when this is run, after ``python build.py``::

    python scripts/screenshots.py [extra pytest arguments]
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = [
    "tests/browser/test_app_ui.py::test_screenshots",  # desktop, phone, phone-results
    "tests/browser/test_byom_page.py::test_form_reads_the_network_and_builds_the_cli_package",  # package-form/built
    "tests/browser/test_byom_page.py::test_inconsistent_input_is_refused_with_the_field_named",  # package-refused
    "tests/browser/test_zoo_browser.py::test_browse_search_load_and_reload_offline",  # zoo-browser
    "tests/browser/test_engine_e2e.py::test_train_on_engine_then_predict_here",  # engine-consent, engine-panel
]


def main(argv: list[str]) -> int:
    """Run the screenshot tests with ``PYAPP_UPDATE_SCREENSHOTS=1``; pytest's exit status."""
    env = {**os.environ, "PYAPP_UPDATE_SCREENSHOTS": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "pytest", *TESTS, "-q", "-p", "no:cacheprovider", "--rt", "chrome", *argv]
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
