"""Pure helpers of the shell: text and HTML for the page (no ``js`` imports; tested in CPython)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["KINDS", "backend_label", "error_line", "model_kind", "progress_text", "top5_html"]

#: Model kinds of ``models/index.json`` entries; an entry without one is an example.
KINDS = ("classifier", "segmentation", "example")


def model_kind(entry: Mapping[str, Any]) -> str:
    """The kind of a ``models/index.json`` entry: ``classifier``, ``segmentation`` or ``example`` (default)."""
    kind = entry.get("kind")
    return kind if kind in KINDS else "example"


def error_line(message: object, *, limit: int = 300) -> str:
    """One line for the error banner: the last non-empty line of ``message`` (tracebacks end with the cause)."""
    lines = [ln.strip() for ln in str(message).splitlines() if ln.strip()]
    line = lines[-1] if lines else "unknown error"
    if line.startswith("Error: "):
        line = line[len("Error: "):]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def progress_text(done: int, total: int, message: str = "") -> str:
    """``tiles 3/8 · message`` for the progress line."""
    text = f"tiles {int(done)}/{int(total)}"
    return f"{text} · {message}" if message else text


def backend_label(backend: str) -> str:
    """``onnxruntime-web (wasm)`` → ``wasm``; anything else as it is."""
    if "(" in backend and backend.endswith(")"):
        return backend[backend.rindex("(") + 1 : -1]
    return backend


def top5_html(top: Iterable[Mapping[str, Any]]) -> str:
    """The top-k list items: label, percentage, and a bar as wide as the probability."""
    items = []
    for entry in top:
        p = max(0.0, min(1.0, float(entry["p"])))
        label = html.escape(str(entry["label"]).split(",")[0])
        title = html.escape(str(entry["label"]))
        items.append(f'<li><div class="label"><b title="{title}">{label}</b><span>{p * 100:.1f} %</span></div>'
                     f'<div class="track"><div class="fill" style="width:{p * 100:.1f}%"></div></div></li>')
    return "".join(items)
