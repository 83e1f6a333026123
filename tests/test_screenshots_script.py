"""scripts/screenshots.py names every browser test that takes a screenshot (the ``shots`` fixture), and those
tests exist: the one command that refreshes docs/screenshots/ stays in step with the tests."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script_tests() -> list[str]:
    spec = importlib.util.spec_from_file_location("screenshots_script", ROOT / "scripts" / "screenshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TESTS


def test_every_screenshot_test_is_refreshed_by_the_script() -> None:
    listed = _script_tests()
    for node in listed:
        path, func = node.split("::")
        assert re.search(rf"^def {func}\(", (ROOT / path).read_text(), re.MULTILINE), node
    taking = set()
    for path in sorted((ROOT / "tests" / "browser").glob("test_*.py")):
        for match in re.finditer(r"^def (test_\w+)\(([^)]*)\)", path.read_text(), re.MULTILINE):
            if re.search(r"\bshots\b", match.group(2)):
                taking.add(f"{path.relative_to(ROOT).as_posix()}::{match.group(1)}")
    assert taking == set(listed)


def test_docs_pictures_are_ones_the_tests_take() -> None:
    sources = "\n".join(p.read_text() for p in (ROOT / "tests" / "browser").glob("test_*.py"))
    for doc in (ROOT / "docs").glob("*.md"):
        for name in re.findall(r"screenshots/([\w-]+)\.png", doc.read_text()):
            assert f'"{name}.png"' in sources or f'"{name}"' in sources, f"{doc.name}: {name}.png"
