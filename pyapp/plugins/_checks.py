"""Small named validators for manifest fields.

Each takes ``(value, path, issues)``, appends ``(path, message)`` pairs for every problem it finds and returns
the normalised value (lists become tuples). Messages follow the project rule: state the rule, show the bad
value with ``!r``.
"""

from __future__ import annotations

import re
from typing import Any

Issues = list[tuple[str, str]]

PLUGIN_TYPES = ("web-python", "web-worker", "window", "native-python")
"""ImJoy's plugin types; only ``web-python`` runs in pyapp, the others load with a warning."""

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_VERSION_SPEC = r"(?:===|==|!=|~=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+"
_SPECS = rf"{_VERSION_SPEC}(?:\s*,\s*{_VERSION_SPEC})*"
_PEP508 = re.compile(
    rf"^\s*{_NAME}\s*(?:\[\s*(?:{_NAME}(?:\s*,\s*{_NAME})*)?\s*\])?\s*"
    rf"(?:@\s*\S+\s*|\(\s*{_SPECS}\s*\)|{_SPECS})?\s*(?:;\s*\S.*)?$"
)


def _got(value: Any) -> str:
    return f"got {value!r}"


def check_str(value: Any, path: str, issues: Issues) -> str:
    """A string."""
    if not isinstance(value, str):
        issues.append((path, f"expected a string, {_got(value)}"))
    return value


def check_name(value: Any, path: str, issues: Issues) -> str:
    """A non-empty one-line string (the plugin's unique name)."""
    if not isinstance(value, str) or not value.strip() or "\n" in value:
        issues.append((path, f"expected a non-empty one-line string, {_got(value)}; e.g. name = \"Calculator\""))
    return value


def check_bool(value: Any, path: str, issues: Issues) -> bool:
    """``true`` or ``false``."""
    if not isinstance(value, bool):
        issues.append((path, f"expected true or false, {_got(value)}"))
    return value


def check_str_list(value: Any, path: str, issues: Issues) -> tuple[str, ...]:
    """A list of strings."""
    if not isinstance(value, list | tuple):
        issues.append((path, f"expected a list of strings, {_got(value)}"))
        return value
    for i, item in enumerate(value):
        check_str(item, f"{path}[{i}]", issues)
    return tuple(value)


def check_str_or_list(value: Any, path: str, issues: Issues) -> str | tuple[str, ...]:
    """A string or a list of strings."""
    return value if isinstance(value, str) else check_str_list(value, path, issues)


def check_type(value: Any, path: str, issues: Issues) -> str:
    """One of :data:`PLUGIN_TYPES`."""
    if value not in PLUGIN_TYPES:
        issues.append((path, f"expected one of {', '.join(PLUGIN_TYPES)}, {_got(value)}"))
    return value


def check_lang(value: Any, path: str, issues: Issues) -> str:
    """The script language: ``python`` is the only one pyapp runs."""
    if value != "python":
        issues.append((path, f"expected 'python' (the only script language pyapp runs), {_got(value)}"))
    return value


def check_ui(value: Any, path: str, issues: Issues) -> str | tuple[str | dict[str, Any], ...]:
    """ImJoy's ``ui``: a string, or a list of strings and one-key objects ``{"label": "{id: ...}" or {...}}``."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list | tuple):
        issues.append((path, f"expected a string or a list of strings and objects, {_got(value)}"))
        return value
    for i, item in enumerate(value):
        if not isinstance(item, str | dict):
            issues.append((f"{path}[{i}]", f"expected a string or an object, {_got(item)}"))
    return tuple(value)


def check_schema(value: Any, path: str, issues: Issues) -> dict[str, Any] | tuple[dict[str, Any], ...]:
    """A JSON-schema-like object, or a list of them (ImJoy: alternatives)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, dict) for v in value):
        return tuple(value)
    issues.append((path, f"expected a JSON-schema object such as {{\"type\": \"object\"}} or a list of them, "
                         f"{_got(value)}"))
    return value


def check_requirements(value: Any, path: str, issues: Issues) -> tuple[str, ...]:
    """A list of PEP 508 requirement strings (``"numpy"``, ``"scikit-image>=0.22"``), checked by syntax."""
    items = check_str_list(value, path, issues)
    if not isinstance(items, tuple):
        return items
    for i, item in enumerate(items):
        if isinstance(item, str) and not _PEP508.match(item):
            issues.append((f"{path}[{i}]", f"not a PEP 508 requirement: {item!r}; e.g. \"numpy\" or \"scipy>=1.11\""))
    return items


_NETWORK = re.compile(r"^network:(https?)://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?/?$", re.IGNORECASE)


def check_permissions(value: Any, path: str, issues: Issues) -> tuple[str, ...]:
    """A list of ``"network:https://host[:port]"`` grants (one origin each; no paths, no wildcards).

    Returned normalised: scheme and host lower-cased, no trailing slash.
    """
    items = check_str_list(value, path, issues)
    if not isinstance(items, tuple):
        return items
    out = []
    for i, item in enumerate(items):
        m = _NETWORK.match(item) if isinstance(item, str) else None
        if m is None:
            issues.append((f"{path}[{i}]", f"not a permission: {item!r}; the only kind is one origin, "
                                           "e.g. \"network:https://example.org\""))
            continue
        out.append(f"network:{m.group(1).lower()}://{m.group(2).lower()}{m.group(3) or ''}")
    return tuple(out)
