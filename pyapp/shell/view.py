"""Pure helpers of the shell: text and HTML for the page.

No imports beyond builtins: this module runs on the page's MicroPython and is tested in CPython and MicroPython
(``tests/test_shell_micropython.py``), so it avoids what MicroPython lacks (``__future__``, ``typing``,
``str.removeprefix``, ordered ``json`` objects).
"""

__all__ = ["KINDS", "axes_text", "backend_label", "channel_names", "error_line", "escape", "model_kind",
           "progress_text", "top5_html"]

#: Model kinds of ``models/index.json`` entries; an entry without one is an example.
KINDS = ("classifier", "segmentation", "example")


def model_kind(entry: dict) -> str:
    """The kind of a ``models/index.json`` entry: ``classifier``, ``segmentation`` or ``example`` (default)."""
    kind = entry.get("kind")
    return kind if kind in KINDS else "example"


def error_line(message: object, limit: int = 300) -> str:
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


def escape(text: object) -> str:
    """``text`` safe inside HTML text and double-quoted attributes."""
    out = str(text)
    for raw, safe in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;")):
        out = out.replace(raw, safe)
    return out


def top5_html(top: list) -> str:
    """The top-k list items: label, percentage, and a bar as wide as the probability."""
    items = []
    for entry in top:
        p = max(0.0, min(1.0, float(entry["p"])))
        label = escape(str(entry["label"]).split(",")[0])
        title = escape(entry["label"])
        width = f"{p * 100:.1f}"
        items.append(f'<li><div class="label"><b title="{title}">{label}</b><span>{width} %</span></div>'
                     f'<div class="track"><div class="fill" style="width:{width}%"></div></div></li>')
    return "".join(items)


def axes_text(tensor: dict) -> str:
    """``batch:1 × channel:1 × y:16+8n × x:16+8n`` for a tensor of ``pyapp.describe``."""
    parts = []
    for axis in tensor["axes"]:
        size = axis.get("size")
        shown = str(size) if isinstance(size, int) else "n" if size is None else f"{size['min']}+{size['step']}n"
        parts.append(f"{axis['id']}:{shown}")
    return " × ".join(parts)


def channel_names(tensor: dict) -> list:
    """Names of the channel axis of a tensor of ``pyapp.describe`` (``channel i`` when unnamed); [] without one."""
    channel = next((a for a in tensor["axes"] if a["type"] == "channel"), None)
    if channel is None:
        return []
    names = list(channel.get("channel_names") or [])
    if not names and isinstance(channel.get("size"), int):
        names = [f"channel {i}" for i in range(channel["size"])]
    return names
