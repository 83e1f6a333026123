"""Packaging hook: the wheel carries the site's sources (web app, plugins, editor entry, npm manifest and lock)
under ``pyapp/_kit/`` so an installed pyapp can run ``pyapp build`` / ``pyapp serve`` from any folder.

Everything else about the package is declared in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
#: Top-level inputs of the site build that are not Python package files (see pyapp/sitebuild/kit.py).
KIT = ("web", "editor", "plugins", "package.json", "package-lock.json")


class BuildPyWithKit(build_py):
    """``build_py`` plus a copy of the site's sources into ``<build_lib>/pyapp/_kit``."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install builds from the checkout itself
            return
        kit = Path(self.build_lib) / "pyapp" / "_kit"
        shutil.rmtree(kit, ignore_errors=True)
        for name in KIT:
            src = HERE / name
            if src.is_dir():
                shutil.copytree(src, kit / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))
            elif src.is_file():
                kit.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, kit / name)


setup(cmdclass={"build_py": BuildPyWithKit})
