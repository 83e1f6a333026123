"""Where a description comes from: a file, a folder, a zip package, bytes or a URL.

A :class:`Root` resolves the relative file names a description uses, so IO checks and the runner read
files the same way whatever the package form. Every root passes each name through :func:`package_path`, the
one containment check (no ``..``, no absolute paths; on disk no symlink leaving the package folder, in a zip
no symlink member), and checks a file's size against ``PYAPP_MAX_FILE_BYTES`` before it reads it (a zip entry
by its declared size, so a zip bomb is refused before it inflates). No network unless ``allow_network`` is set.
"""

from __future__ import annotations

import functools
import io
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ._errors import LimitError, SourceError
from ._limits import check_size, current, too_big

__all__ = ["LimitError", "SourceError", "fetch", "is_url", "open_source", "package_path"]

#: File names recognised as the description inside a folder or zip, in order of preference.
DESCRIPTION_NAMES = ("bioimageio.yaml", "rdf.yaml")
_URL_PREFIXES = ("http://", "https://")


_DRIVE = re.compile(r"^[A-Za-z]:")


def package_path(name: str) -> str:
    """``name`` as a normalised path inside the package (``a/b.npy``); SourceError when it would leave it.

    Refused: empty names, absolute paths (``/x``, ``C:x``), backslashes, NUL bytes and any ``..`` part.
    """
    if not isinstance(name, str) or not name.strip():
        raise SourceError(f"file name {name!r} is empty or not text")
    if name.startswith("/") or _DRIVE.match(name) or "\\" in name or "\x00" in name:
        raise SourceError(f"file name {name!r} must be a relative path inside the package")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts or not parts:
        raise SourceError(f"file name {name!r} must stay inside the package (no '..')")
    return "/".join(parts)


def is_url(source: str) -> bool:
    """True for http(s) URLs, the only remote sources a description may name."""
    return source.startswith(_URL_PREFIXES)


class Root(Protocol):
    """Resolves file names relative to a description."""

    label: str

    def exists(self, name: str) -> bool: ...

    def read(self, name: str) -> bytes: ...


@dataclass(frozen=True)
class DirRoot:
    """Files in a folder on disk; a symlink may point only inside the folder."""

    path: Path
    label: str = ""

    def locate(self, name: str) -> Path:
        """The path of ``name`` inside the folder; SourceError when it would lead outside."""
        relative = package_path(name)
        target = self.path / relative
        base = self.path.resolve()
        resolved = target.resolve()
        if resolved != base and base not in resolved.parents:
            raise SourceError(f"file {name!r} is a link leading out of the package")
        return target

    def exists(self, name: str) -> bool:
        return self.locate(name).is_file()

    def read(self, name: str) -> bytes:
        target = self.locate(name)
        try:
            info = target.stat()
            if not stat.S_ISREG(info.st_mode):
                raise SourceError(f"{name!r} is not a regular file")
            check_size(name, "file size", info.st_size, "file_bytes")
            return target.read_bytes()
        except FileNotFoundError:
            raise SourceError(f"{name!r} not found") from None
        except OSError as err:
            raise SourceError(f"{name!r}: cannot read: {err.strerror}") from err


def _zip_member(zf: zipfile.ZipFile, member: str, name: str, limit: str = "file_bytes") -> bytes:
    """One zip member's bytes: refused when it is a symlink or its declared size is over ``limit``."""
    try:
        info = zf.getinfo(member)
    except KeyError:
        raise SourceError(f"{name!r} not found") from None
    if stat.S_ISLNK(info.external_attr >> 16):
        raise SourceError(f"{name!r} is a symbolic link inside the zip; links are not followed")
    check_size(name, "declared size in the zip", info.file_size, limit)
    try:
        with zf.open(info) as fh:
            return fh.read(info.file_size)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as err:
        raise SourceError(f"{name!r}: cannot read from the zip: {err}") from err


@dataclass(frozen=True)
class ZipRoot:
    """Files inside a zip package (relative to the folder holding the description)."""

    data: bytes = field(repr=False)
    prefix: str = ""
    label: str = ""

    @functools.cached_property
    def _names(self) -> frozenset[str]:
        with zipfile.ZipFile(io.BytesIO(self.data)) as zf:
            return frozenset(zf.namelist())

    def exists(self, name: str) -> bool:
        return self.prefix + package_path(name) in self._names

    def read(self, name: str) -> bytes:
        member = self.prefix + package_path(name)
        with zipfile.ZipFile(io.BytesIO(self.data)) as zf:
            return _zip_member(zf, member, name)


@dataclass(frozen=True)
class UrlRoot:
    """Files next to a remote description; only read when the network is allowed."""

    base: str
    allow_network: bool = False
    label: str = ""

    def url(self, name: str) -> str:
        return self.base.rsplit("/", 1)[0] + "/" + package_path(name)

    def exists(self, name: str) -> bool:
        try:
            self.read(name)
        except SourceError:
            return False
        return True

    def read(self, name: str) -> bytes:
        return fetch(self.url(name), allow_network=self.allow_network)


@dataclass(frozen=True)
class MemoryRoot:
    """Files already in memory (the browser fetches a package's files before it runs the model)."""

    files: dict[str, bytes] = field(repr=False)
    label: str = "<memory>"

    def exists(self, name: str) -> bool:
        package_path(name)
        return name in self.files

    def read(self, name: str) -> bytes:
        package_path(name)
        try:
            data = self.files[name]
        except KeyError:
            raise SourceError(f"{self.label}: {name!r} was not fetched") from None
        check_size(name, "file size", len(data), "file_bytes")
        return data


@dataclass(frozen=True)
class NoRoot:
    """Bytes given without a package: relative files cannot be resolved."""

    label: str = "<bytes>"

    def exists(self, name: str) -> bool:
        return False

    def read(self, name: str) -> bytes:
        raise SourceError(f"{self.label}: cannot read {name!r}: the description was given as bytes, no folder")


def fetch(url: str, *, allow_network: bool) -> bytes:
    """Download ``url``; refuses unless ``allow_network`` (images and models never leave by accident)."""
    if not allow_network:
        raise SourceError(f"{url}: not fetched: network access is off (pass allow_network=True)")
    from urllib.error import URLError
    from urllib.request import urlopen

    limit = current().file_bytes
    try:
        with urlopen(url, timeout=60) as response:
            data = response.read(limit + 1)
    except (URLError, OSError, ValueError) as err:
        raise SourceError(f"{url}: download failed: {err}") from err
    if len(data) > limit:
        raise too_big(url, "download size", len(data), "file_bytes", limit)
    return data


def _find_in_names(names: list[str], label: str) -> str:
    """The description file inside a zip: a preferred name at the top, else a ``*.bioimageio.yaml``."""
    for preferred in DESCRIPTION_NAMES:
        if preferred in names:
            return preferred
    candidates = sorted(n for n in names if n.endswith(".bioimageio.yaml") and "/" not in n)
    candidates += sorted(n for n in names if n.endswith(DESCRIPTION_NAMES))
    if not candidates:
        raise SourceError(f"{label}: no bioimageio.yaml or rdf.yaml found in the package")
    return candidates[0]


def _open_zip(data: bytes, label: str) -> tuple[bytes, Root]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            check_size(label, "entries in the zip", len(zf.infolist()), "zip_entries")
            name = _find_in_names(zf.namelist(), label)
            text = _zip_member(zf, package_path(name), f"{label}/{name}", "yaml_bytes")
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        if isinstance(err, SourceError):
            raise
        raise SourceError(f"{label}: not a valid zip package: {err}") from err
    prefix = name.rpartition("/")[0]
    return text, ZipRoot(data, prefix + "/" if prefix else "", label=f"{label}/{name}")


def _read_capped(path: Path, limit: str) -> bytes:
    try:
        check_size(str(path), "file size", path.stat().st_size, limit)
        return path.read_bytes()
    except OSError as err:
        raise SourceError(f"{path}: cannot read: {err.strerror}") from err


def _open_dir(path: Path) -> tuple[bytes, Root]:
    names = [p.name for p in path.iterdir() if p.is_file()]
    name = _find_in_names(names, str(path))
    root = DirRoot(path, label=str(path / name))
    return _read_capped(root.locate(name), "yaml_bytes"), root  # a linked description must stay inside too


def open_source(src: str | os.PathLike[str] | bytes, *, allow_network: bool = False) -> tuple[bytes, Root]:
    """Read the description bytes and the root that resolves its files.

    Raises
    ------
    SourceError
        When the source is missing, unreadable, not a package, or remote without ``allow_network``.
    """
    if isinstance(src, bytes | bytearray):
        data = bytes(src)
        if data[:4] == b"PK\x03\x04":
            return _open_zip(data, "<zip bytes>")
        return data, NoRoot()
    text = os.fspath(src)
    if is_url(text):
        data = fetch(text, allow_network=allow_network)
        if text.endswith(".zip") or data[:4] == b"PK\x03\x04":
            return _open_zip(data, text)
        return data, UrlRoot(text, allow_network=allow_network, label=text)
    path = Path(text)
    if path.is_dir():
        return _open_dir(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such file or folder")
    try:
        with path.open("rb") as fh:
            is_zip = fh.read(4) == b"PK\x03\x04"
    except OSError as err:
        raise SourceError(f"{path}: cannot read: {err.strerror}") from err
    if is_zip:
        return _open_zip(_read_capped(path, "file_bytes"), str(path))
    return _read_capped(path, "yaml_bytes"), DirRoot(path.parent, label=str(path))
