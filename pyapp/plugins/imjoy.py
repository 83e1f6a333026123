"""ImJoy ``.imjoy.html`` plugins of type ``web-python``, converted to :class:`~pyapp.plugins.Plugin`.

The file is a list of top-level blocks (order free): ``<config lang="json|yaml">``, ``<script lang="python"
tag="...">`` (one per tag, or one without ``tag``), ``<docs>``, and blocks pyapp ignores (``<window>``,
``<style>``, ``<attachment>``, ``<link>``). Rules (summarised in ``docs/plugins.md``):

- ``tags`` lists variants; the selected one (``tag=``, default: the first) picks the value of every
  configurable field written as a ``{"<tag>": value}`` map (env, requirements, dependencies, icon, ui, type;
  keys match exactly, else case-insensitively) and the ``<script>`` whose ``tag`` attribute equals it, else
  the ``<script>`` without ``tag``.
- ``requirements`` (a string or a list) become PEP 508 ``dependencies``: a ``pip:`` prefix is removed and the
  rest split on spaces; ``conda:``, ``repo:`` and ``cmd:`` requirements and bare URLs cannot be installed in the
  browser and are errors.
- ``dependencies`` (other ImJoy plugins) become ``plugin_dependencies``; ``null`` values mean "not set".
- ImJoy-only fields without meaning here (cmd, permissions, defaults, base_frame, ...) are dropped, with a
  :class:`~pyapp.plugins.PluginWarning` when they hold a non-empty value; any other unknown field is an error.
"""

from __future__ import annotations

import inspect
import json
import re
import textwrap
import warnings
from typing import Any, NamedTuple

import yaml

from .manifest import Plugin, PluginError, PluginWarning, build_manifest, check_code, select_tag

__all__ = ["IGNORED_FIELDS", "load_imjoy"]

IGNORED_FIELDS = ("cmd", "permissions", "defaults", "base_frame", "passive", "mode", "id", "format_version")
"""ImJoy config fields that are accepted and dropped (with a warning): they configure things pyapp lacks."""

_BLOCK = re.compile(r"<(config|script|docs|window|style|attachment|link)\b([^>]*)>(.*?)</\1\s*>", re.S | re.I)
_ATTR = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_NOT_PIP = ("conda:", "repo:", "cmd:", "js:", "css:", "cache:")


class Block(NamedTuple):
    """One top-level block of an ImJoy file."""

    kind: str
    attrs: dict[str, str]
    text: str
    line: int


def parse_blocks(source: str) -> list[Block]:
    """The top-level blocks of an ImJoy file, with their attributes and 1-based start line."""
    return [
        Block(m.group(1).lower(), {a: v1 or v2 for a, v1, v2 in _ATTR.findall(m.group(2))}, m.group(3),
              source.count("\n", 0, m.start()) + 1)
        for m in _BLOCK.finditer(source)
    ]


def _config(blocks: list[Block], filename: str) -> dict[str, Any]:
    configs = [b for b in blocks if b.kind == "config"]
    if len(configs) != 1:
        raise PluginError(filename, [("<config>", f"expected one <config> block, found {len(configs)}")])
    block = configs[0]
    lang = block.attrs.get("lang", "json").lower()
    try:
        if lang == "json":
            data = json.loads(block.text)
        elif lang == "yaml":
            data = yaml.safe_load(block.text)
        else:
            raise PluginError(filename, [("<config>", f"lang must be 'json' or 'yaml', got {lang!r}")])
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise PluginError(filename, [("<config>", f"invalid {lang.upper()} (block at line {block.line}): "
                                                   f"{str(exc).splitlines()[0]}")]) from exc
    if not isinstance(data, dict):
        raise PluginError(filename, [("<config>", f"expected an object of fields, got {data!r}")])
    return data


def _requirements(value: Any, issues: list[tuple[str, str]]) -> Any:
    """ImJoy requirements → PEP 508 strings (other shapes pass through to the list validator)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        return value
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            out.append(item)
        elif item.startswith(_NOT_PIP) or "://" in item.split("@", 1)[0]:
            issues.append((f"config.requirements[{i}]", f"{item!r} cannot be installed in the browser; "
                                                         "only pip packages (\"numpy\", \"pip:scipy\") can"))
        else:
            out += item.removeprefix("pip:").split()
    return out


def _script(blocks: list[Block], tag: str, filename: str) -> Block:
    scripts = [b for b in blocks if b.kind == "script"]
    chosen = [b for b in scripts if tag and b.attrs.get("tag") == tag] or [b for b in scripts if "tag" not in b.attrs]
    if not chosen:
        tags = [b.attrs.get("tag") for b in scripts]
        raise PluginError(filename, [("<script>", f"no <script> block for tag {tag!r} and none without a tag "
                                                  f"(script tags: {tags})")])
    if len(chosen) > 1:
        raise PluginError(filename, [("<script>", f"{len(chosen)} <script> blocks match tag {tag!r} (lines "
                                                  f"{[b.line for b in chosen]}); give each a distinct tag")])
    return chosen[0]


def load_imjoy(source: str, *, filename: str, tag: str | None = None) -> Plugin:
    """Load an ImJoy ``.imjoy.html`` Python plugin; see :func:`pyapp.plugins.load_plugin`."""
    blocks = parse_blocks(source)
    config = {k: v for k, v in _config(blocks, filename).items() if v is not None}
    issues: list[tuple[str, str]] = []
    chosen = select_tag(config, tag, "config", issues)
    if config.get("type") in ("web-worker", "window"):
        raise PluginError(filename, [("config.type", f"{config['type']!r} plugins are JavaScript; pyapp loads "
                                                     "ImJoy Python plugins (web-python, native-python)")])
    ignored = [k for k in IGNORED_FIELDS if config.get(k) not in (None, "", [], {})]
    if ignored:
        warnings.warn(f"{filename}: ImJoy fields {ignored} have no meaning in pyapp and are ignored",
                      PluginWarning, stacklevel=3)
    table = {k: v for k, v in config.items() if k not in IGNORED_FIELDS and k not in ("dependencies", "requirements")}
    located = {
        "dependencies": (_requirements(config.get("requirements"), issues), "config.requirements"),
        "plugin_dependencies": (config.get("dependencies"), "config.dependencies"),
    }
    reserved = {"requires_python": "not an ImJoy field", "plugin_dependencies": "ImJoy calls it `dependencies`"}
    manifest = build_manifest(table, base="config", issues=issues, located=located, reserved=reserved)
    script = _script(blocks, chosen, filename)
    lang = script.attrs.get("lang", "")
    if lang != "python":
        issues.append(("<script>", f"lang must be 'python', got {lang!r} (block at line {script.line})"))
    dedented = textwrap.dedent(script.text)
    code = dedented.strip("\n") + "\n"
    lead = len(dedented) - len(dedented.lstrip("\n"))
    check_code(code, "<script> ", issues, line_offset=script.line - 1 + lead)
    if issues or manifest is None:
        raise PluginError(filename, issues)
    docs = next((inspect.cleandoc(b.text) for b in blocks if b.kind == "docs"), "")
    return Plugin(manifest=manifest, code=code, filename=filename, docs=docs, tag=chosen, format="imjoy")
