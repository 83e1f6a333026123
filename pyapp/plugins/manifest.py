"""The plugin manifest: frozen dataclasses, validation, and :func:`load_plugin` for both file formats.

A plugin is one Python file whose PEP 723 block (``# /// script`` … ``# ///``) holds ``dependencies`` and a
``[tool.pyapp]`` table with the fields of :class:`Manifest`; ImJoy ``.imjoy.html`` files are converted to the
same :class:`Plugin` (see :mod:`pyapp.plugins.imjoy`). The format is described in ``docs/plugins.md``.

>>> plugin = load_plugin('# /// script\\n# [tool.pyapp]\\n# name = "Hello"\\n# ///\\nprint("hi")\\n',
...                      filename="hello.py")
>>> plugin.manifest.name, plugin.manifest.type, plugin.manifest.dependencies
('Hello', 'web-python', ())
"""

from __future__ import annotations

import ast
import dataclasses
import json
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from . import _checks as c

__all__ = ["CONFIGURABLE_FIELDS", "Manifest", "Plugin", "PluginError", "PluginWarning", "load_plugin"]

CONFIGURABLE_FIELDS = ("env", "requirements", "dependencies", "plugin_dependencies", "icon", "ui", "type")
"""Fields whose value may be a per-tag map ``{"<tag>": value}`` (ImJoy's configurable fields)."""


class PluginError(ValueError):
    """A plugin file is invalid. ``issues`` lists every ``(path, message)``; ``str()`` is the first, one line."""

    def __init__(self, filename: str, issues: list[tuple[str, str]]):
        self.filename = filename
        self.issues = list(issues)
        path, message = self.issues[0] if self.issues else ("", "invalid plugin")
        more = f" (and {len(self.issues) - 1} more)" if len(self.issues) > 1 else ""
        super().__init__(f"{filename}: {path + ': ' if path else ''}{message}{more}")


class PluginWarning(UserWarning):
    """A plugin loaded but something about it is ignored or will not run here."""


def _f(default: Any, doc: str, check: Callable[[Any, str, c.Issues], Any]) -> Any:
    factory = {"default_factory": lambda: default} if isinstance(default, dict) else {"default": default}
    return field(metadata={"doc": doc, "check": check}, **factory)


@dataclass(frozen=True)
class Manifest:
    """What a plugin declares about itself: ``[tool.pyapp]`` plus the PEP 723 keys (ImJoy's ``<config>``)."""

    name: str = field(metadata={"doc": "Unique plugin name, shown in the plugin list and used by "
                                       "``api.get_plugin(name)``. Required.", "check": c.check_name})
    version: str = _f("0.1.0", "Version of the plugin, e.g. \"0.1.0\".", c.check_str)
    description: str = _f("", "One-sentence summary shown under the name.", c.check_str)
    type: str = _f("web-python", "ImJoy plugin type: web-python (the only one that runs here), web-worker, "
                                 "window or native-python (these load with a warning).", c.check_type)
    tags: tuple[str, ...] = _f((), "Variant names (ImJoy tags, e.g. [\"stable\", \"dev\"]); configurable fields "
                                   "may map each tag to a value; the first tag is the default.", c.check_str_list)
    ui: str | tuple[str | dict[str, Any], ...] = _f("", "Run form: text with {id: 'x', type: 'number', ...} "
                                                        "elements, or a list of them; values arrive as "
                                                        "ctx.config.", c.check_ui)
    # _f returns dataclasses.field(...), which ruff cannot see through for these non-immutable annotations.
    inputs: dict[str, Any] | tuple[dict[str, Any], ...] | None = _f(  # noqa: RUF009
        None, "JSON schema of the data the plugin accepts.", c.check_schema)
    outputs: dict[str, Any] | tuple[dict[str, Any], ...] | None = _f(  # noqa: RUF009
        None, "JSON schema of what run() returns.", c.check_schema)
    icon: str = _f("", "Material icon name or an emoji.", c.check_str)
    cover: str | tuple[str, ...] = _f("", "URL (or list of URLs) of cover images.", c.check_str_or_list)
    authors: tuple[str, ...] = _f((), "Author names.", c.check_str_list)
    license: str = _f("", "SPDX license identifier, e.g. \"MIT\".", c.check_str)
    labels: tuple[str, ...] = _f((), "Keywords for search and filtering.", c.check_str_list)
    flags: tuple[str, ...] = _f((), "ImJoy run-time flags, e.g. [\"functional\"].", c.check_str_list)
    env: str | tuple[str, ...] = _f("", "ImJoy environment command(s) (native-python only; kept, unused here).",
                                    c.check_str_or_list)
    api_version: str = _f("", "ImJoy API version the plugin was written for, e.g. \"0.1.8\".", c.check_str)
    lang: str = _f("python", "Script language; always \"python\".", c.check_lang)
    url: str = _f("", "Where the plugin file is published.", c.check_str)
    repository: str = _f("", "Source repository URL.", c.check_str)
    website: str = _f("", "Project website URL.", c.check_str)
    runnable: bool = _f(True, "False for helper plugins that only serve others (no run()).", c.check_bool)
    plugin_dependencies: tuple[str, ...] = _f((), "Other plugins this one needs, by URL or name "
                                                  "(ImJoy's config \"dependencies\").", c.check_str_list)
    dependencies: tuple[str, ...] = _f((), "PEP 508 packages to install (PEP 723 top-level \"dependencies\"; "
                                           "ImJoy \"requirements\").", c.check_requirements)
    requires_python: str = _f("", "PEP 723 \"requires-python\", e.g. \">=3.12\".", c.check_str)
    permissions: tuple[str, ...] = _f((), "What the plugin may reach beyond this page, asked for in the install "
                                          "dialog: [\"network:https://host\"] lets it connect to that one "
                                          "origin. Without it a plugin has no network.", c.check_permissions)


MANIFEST_FIELDS: dict[str, dataclasses.Field] = {f.name: f for f in dataclasses.fields(Manifest)}


@dataclass(frozen=True)
class Plugin:
    """A loaded plugin: its manifest and the Python code that runs it."""

    manifest: Manifest = field(metadata={"doc": "The validated manifest."})
    code: str = field(metadata={"doc": "Python source to run (a PEP 723 file keeps its metadata comment)."})
    filename: str = field(metadata={"doc": "Name used in messages and tracebacks."})
    docs: str = field(default="", metadata={"doc": "Markdown documentation: the module docstring, or ImJoy "
                                                   "<docs>."})
    tag: str = field(default="", metadata={"doc": "The selected tag (variant); empty when there are no tags."})
    format: Literal["pep723", "imjoy"] = field(default="pep723", metadata={"doc": "The file format it came from."})

    @property
    def runs_here(self) -> bool:
        """Whether pyapp can run it (only ``web-python`` plugins run in the browser)."""
        return self.manifest.type == "web-python"


def select_tag(table: dict[str, Any], tag: str | None, base: str, issues: c.Issues) -> str:
    """Resolve per-tag maps in ``table`` (in place) for ``tag`` (default: the first tag); return the tag used."""
    tags = table.get("tags") or []
    if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
        for key in CONFIGURABLE_FIELDS:  # the tags validator reports the cause; skip the follow-on errors
            if isinstance(table.get(key), dict):
                del table[key]
        return ""
    if tag is not None and tag not in tags:
        issues.append((f"{base}.tags", f"the requested tag {tag!r} is not one of the plugin's tags {list(tags)}"))
        return ""
    chosen = tag if tag is not None else (tags[0] if tags else "")
    for key in CONFIGURABLE_FIELDS:
        value = table.get(key)
        if not isinstance(value, dict):
            continue
        if not tags:
            issues.append((f"{base}.{key}", f"a per-tag map needs `tags`; declare tags = {sorted(value)}"))
            continue
        folded = {t.casefold(): t for t in tags}
        unknown = [k for k in value if k not in tags and k.casefold() not in folded]
        if unknown:
            issues.append((f"{base}.{key}", f"per-tag map keys {unknown} are not among tags {list(tags)}"))
            continue
        match = next((k for k in value if k == chosen), None) or next(
            (k for k in value if k.casefold() == chosen.casefold()), None)
        if match is None:
            del table[key]
        else:
            table[key] = value[match]
    return chosen


def build_manifest(table: Mapping[str, Any], *, base: str, issues: c.Issues,
                   located: Mapping[str, tuple[Any, str]] = {}, reserved: Mapping[str, str] = {}) -> Manifest | None:
    """Validate ``table`` (keys = field names; ``None`` values = unset) into a :class:`Manifest`.

    ``located`` gives fields that come from elsewhere in the file as ``name → (value, path)``; ``reserved``
    maps keys that are not allowed in ``table`` to a hint saying where they belong.
    """
    values: dict[str, Any] = {}
    allowed = [k for k in MANIFEST_FIELDS if k not in located and k not in reserved]
    entries = [(k, v, p, False) for k, (v, p) in located.items()]
    entries += [(k, v, f"{base}.{k}", True) for k, v in table.items()]
    for key, value, path, in_table in entries:  # in file order, so the first issue is the first in the file
        if in_table and (key in reserved or key in located or key not in MANIFEST_FIELDS):
            issues.append((path, reserved.get(key) or f"unknown field; allowed: {', '.join(allowed)}"))
        elif value is not None:
            values[key] = MANIFEST_FIELDS[key].metadata["check"](value, path, issues)
    if "name" not in values:
        issues.append((f"{base}.name", "field required; e.g. name = \"Calculator\""))
    return None if issues else Manifest(**values)


def check_code(code: str, base: str, issues: c.Issues, *, line_offset: int = 0) -> str:
    """The module docstring of ``code`` (or ""); a syntax error becomes an issue naming the line."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        issues.append((f"{base}line {(exc.lineno or 0) + line_offset}", f"Python syntax error: {exc.msg}"))
        return ""
    return (ast.get_docstring(tree) or "").strip()


def warn_if_not_runnable(plugin: Plugin) -> None:
    """Warn (:class:`PluginWarning`) when the plugin's type does not run in pyapp."""
    if not plugin.runs_here:
        warnings.warn(f"{plugin.filename}: type {plugin.manifest.type!r} plugins do not run in pyapp (only "
                      "'web-python'); loaded for inspection or conversion only", PluginWarning, stacklevel=3)


def load_plugin(source: str | bytes, *, filename: str, tag: str | None = None) -> Plugin:
    """Load a plugin file: PEP 723 Python, or ImJoy ``.imjoy.html`` (chosen by ``filename``'s suffix).

    Parameters
    ----------
    source
        The file's text (bytes are decoded as UTF-8).
    filename
        The file name, used to pick the format and in messages.
    tag
        Variant to select among the plugin's ``tags`` (default: the first).

    Returns
    -------
    Plugin

    Raises
    ------
    PluginError
        Any problem with the file; ``issues`` lists them all, the message shows the first on one line.

    Warns
    -----
    PluginWarning
        The plugin's type is not ``web-python`` (it will not run here), or ImJoy fields were ignored.
    """
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PluginError(filename, [("", f"not UTF-8 text: {exc}")]) from exc
    if filename.lower().endswith(".html"):
        from .imjoy import load_imjoy

        plugin = load_imjoy(source, filename=filename, tag=tag)
    else:
        from ._pep723 import load_pep723

        plugin = load_pep723(source, filename=filename, tag=tag)
    warn_if_not_runnable(plugin)
    return plugin


def describe_plugin(source: str | bytes, filename: str, tag: str | None = None) -> str:
    """The manifest of a plugin file as JSON text, for the page (what the install dialog shows).

    Keys: every :class:`Manifest` field (tuples as lists) plus ``format``, ``tag`` and ``docs``. Raises
    :class:`PluginError` like :func:`load_plugin`; warnings are kept out of the result.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        plugin = load_plugin(source, filename=filename, tag=tag)
    out = dataclasses.asdict(plugin.manifest)
    out.update(format=plugin.format, tag=plugin.tag, docs=plugin.docs)
    return json.dumps(out, default=list)
