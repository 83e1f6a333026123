"""Where a description comes from: a file, a folder, a zip package, bytes or a URL.

A :class:`Root` resolves the relative file names a description uses, so IO checks and the runner read
files the same way whatever the package form. No network unless ``allow_network`` is set.
"""

from __future__ import annotations

import io
import os
import posixpath
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

#: File names recognised as the description inside a folder or zip, in order of preference.
DESCRIPTION_NAMES = ("bioimageio.yaml", "rdf.yaml")
_URL_PREFIXES = ("http://", "https://")


class SourceError(ValueError):
    """A description source could not be read (missing, not a package, network needed)."""


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
    """Files in a folder on disk."""

    path: Path
    label: str = ""

    def _file(self, name: str) -> Path:
        return self.path / name

    def exists(self, name: str) -> bool:
        return self._file(name).is_file()

    def read(self, name: str) -> bytes:
        return self._file(name).read_bytes()


@dataclass(frozen=True)
class ZipRoot:
    """Files inside a zip package (relative to the folder holding the description)."""

    data: bytes = field(repr=False)
    prefix: str = ""
    label: str = ""

    def _names(self) -> set[str]:
        with zipfile.ZipFile(io.BytesIO(self.data)) as zf:
            return set(zf.namelist())

    def exists(self, name: str) -> bool:
        return posixpath.normpath(self.prefix + name) in self._names()

    def read(self, name: str) -> bytes:
        with zipfile.ZipFile(io.BytesIO(self.data)) as zf:
            return zf.read(posixpath.normpath(self.prefix + name))


@dataclass(frozen=True)
class UrlRoot:
    """Files next to a remote description; only read when the network is allowed."""

    base: str
    allow_network: bool = False
    label: str = ""

    def url(self, name: str) -> str:
        return self.base.rsplit("/", 1)[0] + "/" + name

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
        return name in self.files

    def read(self, name: str) -> bytes:
        try:
            return self.files[name]
        except KeyError:
            raise SourceError(f"{self.label}: {name!r} was not fetched") from None


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

    try:
        with urlopen(url, timeout=60) as response:
            return response.read()
    except (URLError, OSError, ValueError) as err:
        raise SourceError(f"{url}: download failed: {err}") from err


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
            name = _find_in_names(zf.namelist(), label)
            text = zf.read(name)
    except zipfile.BadZipFile as err:
        raise SourceError(f"{label}: not a valid zip package: {err}") from err
    prefix = posixpath.dirname(name)
    return text, ZipRoot(data, prefix + "/" if prefix else "", label=f"{label}/{name}")


def _open_dir(path: Path) -> tuple[bytes, Root]:
    names = [p.name for p in path.iterdir() if p.is_file()]
    name = _find_in_names(names, str(path))
    return (path / name).read_bytes(), DirRoot(path, label=str(path / name))


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
        data = path.read_bytes()
    except OSError as err:
        raise SourceError(f"{path}: cannot read: {err.strerror}") from err
    if data[:4] == b"PK\x03\x04":
        return _open_zip(data, str(path))
    return data, DirRoot(path.parent, label=str(path))
