"""Read and write the PEP 723 plugin format (``# /// script`` block with ``[tool.pyapp]``)."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import tomllib
from typing import Any

from .manifest import MANIFEST_FIELDS, Plugin, PluginError, build_manifest, check_code, select_tag

__all__ = ["load_pep723", "write_plugin"]

# The reference regular expression from PEP 723.
_BLOCK = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")
_TOP_LEVEL = ("dependencies", "requires-python", "tool")
_EXAMPLE = '# /// script\n# dependencies = ["numpy"]\n#\n# [tool.pyapp]\n# name = "My plugin"\n# ///'


def _metadata(source: str, filename: str) -> tuple[dict[str, Any], int]:
    """The parsed TOML of the single ``script`` block and the line it starts on."""
    blocks = [m for m in _BLOCK.finditer(source) if m.group("type") == "script"]
    if not blocks:
        raise PluginError(filename, [("", f"no PEP 723 metadata block; start the file with:\n{_EXAMPLE}")])
    if len(blocks) > 1:
        lines = [source.count("\n", 0, m.start()) + 1 for m in blocks]
        raise PluginError(filename, [("", f"{len(blocks)} `# /// script` blocks (lines {lines}); keep one")])
    block = blocks[0]
    first_line = source.count("\n", 0, block.start()) + 1
    text = "".join(line[2:] if line.startswith("# ") else line[1:]
                   for line in block.group("content").splitlines(keepends=True))
    try:
        return tomllib.loads(text), first_line
    except tomllib.TOMLDecodeError as exc:
        raise PluginError(filename, [("script metadata", f"invalid TOML (block starts at line {first_line}): "
                                                          f"{exc}")]) from exc


def load_pep723(source: str, *, filename: str, tag: str | None = None) -> Plugin:
    """Load a plugin in our format; see :func:`pyapp.plugins.load_plugin`."""
    data, _ = _metadata(source, filename)
    issues: list[tuple[str, str]] = []
    for key in data:
        if key not in _TOP_LEVEL:
            issues.append((key, f"unknown top-level field; PEP 723 allows {', '.join(_TOP_LEVEL)}"))
    tool = data.get("tool", {})
    table = tool.get("pyapp") if isinstance(tool, dict) else None
    if not isinstance(table, dict):
        raise PluginError(filename, [*issues, ("tool.pyapp", f"missing [tool.pyapp] table; e.g.\n{_EXAMPLE}")])
    table = dict(table)
    chosen = select_tag(table, tag, "tool.pyapp", issues)
    located = {"requires_python": (data.get("requires-python"), "requires-python")}
    if "requirements" in table and "dependencies" in data:
        issues.append(("tool.pyapp.requirements", "given together with top-level `dependencies`; keep one"))
    if "requirements" in table:
        located["dependencies"] = (table.pop("requirements"), "tool.pyapp.requirements")
    else:
        located["dependencies"] = (data.get("dependencies"), "dependencies")
    reserved = {
        "dependencies": "packages go in the top-level `dependencies` list (PEP 723); other plugins this one "
                        "needs go in `plugin_dependencies`",
        "requires_python": "use the top-level `requires-python` key (PEP 723)",
    }
    manifest = build_manifest(table, base="tool.pyapp", issues=issues, located=located, reserved=reserved)
    docs = check_code(source, "", issues)
    if issues or manifest is None:
        raise PluginError(filename, issues)
    return Plugin(manifest=manifest, code=source, filename=filename, docs=docs, tag=chosen, format="pep723")


# ---- writing ------------------------------------------------------------------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_str(key)


def _toml_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: Any, path: str) -> str:
    """A TOML value for JSON-like ``value`` (dicts become inline tables); TOML has no null."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return repr(value)
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return _toml_str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v, f"{path}[{i}]") for i, v in enumerate(value)) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_toml_key(k)} = {_toml_value(v, f'{path}.{k}')}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    raise PluginError("<write>", [(path, f"cannot write {value!r} in TOML (null values are not allowed)")])


def write_plugin(plugin: Plugin) -> str:
    """The plugin as a PEP 723 Python file (the way to convert an ImJoy ``.imjoy.html`` plugin).

    The selected variant is written: per-tag values are already resolved, and the selected tag comes first in
    ``tags`` so that loading the result selects it again. ImJoy ``<docs>`` become the module docstring.

    Raises
    ------
    PluginError
        A manifest value TOML cannot hold (a ``null`` inside ``inputs``, ``outputs`` or ``ui``).
    """
    m = plugin.manifest
    lines = []
    if m.requires_python:
        lines.append(f"requires-python = {_toml_str(m.requires_python)}")
    if m.dependencies:
        lines += ["dependencies = ["] + [f"    {_toml_str(d)}," for d in m.dependencies] + ["]"]
    lines += ["", "[tool.pyapp]"]
    tags = m.tags if not plugin.tag else (plugin.tag, *[t for t in m.tags if t != plugin.tag])
    for name, spec in MANIFEST_FIELDS.items():
        value = tags if name == "tags" else getattr(m, name)
        if name in ("dependencies", "requires_python") or (name != "name" and value == _default(spec)):
            continue
        lines.append(f"{name} = {_toml_value(value, f'tool.pyapp.{name}')}")
    header = "\n".join(["# /// script", *(f"# {line}".rstrip() for line in lines), "# ///"])
    code = _BLOCK.sub("", plugin.code, count=1).lstrip("\n") if plugin.format == "pep723" else plugin.code
    if plugin.docs and not check_code(code, "", []):
        escaped = plugin.docs.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
        code = f'"""{escaped}\n"""\n\n{code}'
    return f"{header}\n{code.rstrip()}\n"


def _default(spec: dataclasses.Field) -> Any:
    return spec.default if spec.default_factory is dataclasses.MISSING else spec.default_factory()
