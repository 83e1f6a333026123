"""Fields every bioimage.io description shares (name, authors, cite, covers, ...)."""

from __future__ import annotations

import re
from typing import Any

from ._fields import Collector, as_dict, file_ref, get, get_dict, get_list, get_str, join
from .model import FileRef, GenericDescr

#: A DOI as bioimage.io checks it: "10.", four digits, anything.
_DOI = re.compile(r"^10\.[0-9]{4}.+$")
GENERIC_TYPES = ("dataset", "application", "notebook", "collection", "generic")
_HANDLED = {"name", "description", "format_version", "type", "authors", "cite", "license", "tags", "covers",
            "documentation", "attachments", "version", "config"}
#: Fields of the generic spec that pyapp keeps in ``other`` without checking them.
_KNOWN_OTHER = {"id", "id_emoji", "icon", "links", "maintainers", "git_repo", "uploader", "badges", "source",
                "download_url", "rdf_source", "training_data", "parent", "packaged_by", "run_mode",
                "timestamp", "dependencies", "framework", "language", "sample_inputs", "sample_outputs",
                "test_inputs", "test_outputs", "collection", "version_number"}


def _people(c: Collector, data: dict[str, Any], key: str, *, required: bool) -> tuple[dict[str, Any], ...]:
    items = get_list(c, data, key, "", required=required, nonempty=required)
    people = []
    for i, raw in enumerate(items):
        person = as_dict(c, raw, join(key, i))
        if person is None:
            continue
        if key == "authors":
            get_str(c, person, "name", join(key, i), required=True)
        people.append(person)
    return tuple(people)


def _cite(c: Collector, data: dict[str, Any], *, required: bool, model: bool) -> tuple[dict[str, Any], ...]:
    items = get_list(c, data, "cite", "", required=required, nonempty=required)
    entries = []
    for i, raw in enumerate(items):
        entry = as_dict(c, raw, join("cite", i))
        if entry is None:
            continue
        get_str(c, entry, "text", join("cite", i), required=True)
        if entry.get("doi") is None and entry.get("url") is None:
            c.error(join("cite", i), "needs a doi or a url")
        doi = entry.get("doi")
        if model and doi is not None and not (isinstance(doi, str) and _DOI.match(doi)):
            c.error(join(join("cite", i), "doi"), f"expected a bare DOI such as 10.1101/2022.06.07.495102, got {doi!r}"
                    + (" (drop the https://doi.org/ part)" if isinstance(doi, str) and "doi.org/" in doi else ""))
        entries.append(entry)
    return tuple(entries)


def _files(c: Collector, items: list[Any], path: str) -> tuple[FileRef, ...]:
    return tuple(ref for i, raw in enumerate(items) if (ref := file_ref(c, raw, join(path, i))))


def _tags(c: Collector, data: dict[str, Any]) -> tuple[str, ...]:
    tags = get_list(c, data, "tags", "")
    for i, tag in enumerate(tags):
        if not isinstance(tag, str):
            c.error(join("tags", i), f"expected a string, got {tag!r}")
    return tuple(str(t) for t in tags)


def read_generic_fields(c: Collector, data: dict[str, Any], *, model: bool) -> dict[str, Any]:
    """Keyword arguments shared by ModelDescr and GenericDescr; ``_known`` lists the handled keys."""
    doc = data.get("documentation")
    if doc is None and model:
        c.warn("documentation", "missing: a model should describe itself in a markdown file")
    documentation = file_ref(c, doc, "documentation") if doc is not None else None
    attachments = data.get("attachments")
    attached = _files(c, attachments, "attachments") if isinstance(attachments, list) else ()
    if model and attachments is not None and not isinstance(attachments, list):
        c.error("attachments", "expected a list of files ({source: name}); 0.4's {files: [...]} is a list in 0.5")
    version = data.get("version")
    license_ = get_str(c, data, "license", "", required=model)
    other = {k: v for k, v in data.items() if k not in _HANDLED and k not in ("inputs", "outputs", "weights")}
    return {
        "name": get_str(c, data, "name", "", required=True, default="") or "",
        "description": get_str(c, data, "description", "", required=True, default="") or "",
        "format_version": str(data.get("format_version", "")),
        "type": str(data.get("type", "model" if model else "generic")),
        "authors": _people(c, data, "authors", required=model),
        "cite": _cite(c, data, required=model, model=model),
        "license": license_,
        "tags": _tags(c, data),
        "covers": _files(c, get_list(c, data, "covers", ""), "covers"),
        "documentation": documentation,
        "attachments": attached,
        "version": None if version is None else str(version),
        "config": get_dict(c, data, "config", ""),
        "other": other,
        "_known": _HANDLED | _KNOWN_OTHER,
    }


def read_generic(c: Collector, data: dict[str, Any], *, original_version: str, root: Any) -> GenericDescr:
    """A dataset/application/notebook/collection description: generic fields, the rest kept as is."""
    fields = read_generic_fields(c, data, model=False)
    fields.pop("_known")
    get(c, data, "source", "", str)
    return GenericDescr(original_format_version=original_version, root=root, **fields)
