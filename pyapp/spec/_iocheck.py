"""IO checks: every file a description names exists in its package and matches its sha256."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from ._errors import SourceError
from ._fields import Collector, join
from ._source import NoRoot, Root, UrlRoot, is_url
from .model import Descr, FileRef, ModelDescr


def file_refs(descr: Descr) -> Iterator[tuple[str, FileRef]]:
    """Every (field path, file) pair of a description, in file order."""
    if descr.documentation is not None:
        yield "documentation", descr.documentation
    for i, ref in enumerate(descr.covers):
        yield join("covers", i), ref
    for i, ref in enumerate(descr.attachments):
        yield join("attachments", i), ref
    if not isinstance(descr, ModelDescr):
        return
    for kind, tensors in (("inputs", descr.inputs), ("outputs", descr.outputs)):
        for i, t in enumerate(tensors):
            for key in ("test_tensor", "sample_tensor"):
                ref = getattr(t, key)
                if ref is not None:
                    yield join(join(kind, i), key), ref
    for fmt, entry in descr.weights.items():
        yield f"weights.{fmt}.source", entry.source
        for key in ("architecture", "dependencies"):
            sub = entry.extra.get(key)
            if isinstance(sub, dict) and isinstance(sub.get("source"), str):
                yield f"weights.{fmt}.{key}.source", FileRef(sub["source"], sub.get("sha256"))


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def check_files(c: Collector, descr: Descr, root: Root, *, allow_network: bool) -> None:
    """Record an error for each missing or altered file; remote files are warnings unless fetched."""
    for path, ref in file_refs(descr):
        remote = is_url(ref.source) or isinstance(root, UrlRoot)
        if remote and not allow_network:
            c.warn(path, f"remote file {ref.source!r} not checked offline (pass allow_network=True)")
            continue
        if isinstance(root, NoRoot) and not is_url(ref.source):
            c.warn(path, f"file {ref.source!r} not checked: the description came without its package")
            continue
        try:
            data = _read(ref.source, root, allow_network=allow_network)
        except _Missing:
            c.error(path, f"missing file {ref.source!r}")
            continue
        except SourceError as err:  # refused by the containment check or a size limit, or unreadable
            c.error(path, str(err))
            continue
        if ref.sha256 is not None and (actual := sha256_hex(data)) != ref.sha256:
            c.error(path, f"sha256 mismatch for {ref.source!r}: expected {ref.sha256}, file has {actual}")


def _read(source: str, root: Root, *, allow_network: bool) -> bytes:
    if is_url(source):
        from ._source import fetch

        return fetch(source, allow_network=allow_network)
    if not root.exists(source):  # the root's package_path check keeps names inside the package
        raise _Missing(source)
    return root.read(source)


class _Missing(SourceError):
    """A file the description names is not in the package."""
