"""Pure helpers of the shell: text and HTML for the page.

No imports beyond builtins: this module runs on the page's MicroPython and is tested in CPython and MicroPython
(``tests/test_shell_micropython.py``), so it avoids what MicroPython lacks (``__future__``, ``typing``,
``str.removeprefix``, ordered ``json`` objects).
"""

__all__ = ["KINDS", "axes_text", "backend_label", "card_html", "channel_names", "columns", "count_text",
           "default_channel", "error_line", "escape", "metrics_html", "model_kind", "objects_html", "progress_text",
           "sort_rows", "top5_html", "user_message"]

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
        if size is None and axis.get("channel_names"):
            size = len(axis["channel_names"])
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


def default_channel(names: list) -> int:
    """The channel an overlay shows first: one named like a foreground (nucleus, cell, foreground, …), else
    the one that is not ``background`` of two, else the first."""
    for i, name in enumerate(names):
        low = str(name).lower()
        if any(word in low for word in ("foreground", "nucle", "cell", "object", "prob", "mask", "fg")):
            if "background" not in low and "distance" not in low and "boundary" not in low:
                return i
    if len(names) == 2 and "background" in str(names[0]).lower():
        return 1
    return 0


def count_text(count: int) -> str:
    """``117 objects`` (``1 object``, ``no objects``) for the result header."""
    count = int(count)
    return "no objects" if count == 0 else "1 object" if count == 1 else f"{count} objects"


# -- the objects table --------------------------------------------------------------------------------------------

#: Column headings of the objects table (pyapp.analysis.object_table keys); others show their key.
HEADINGS = {"label": "Object", "area": "Area (px)", "mean_intensity": "Mean", "max_intensity": "Max",
            "eccentricity": "Eccentricity"}


def _heading(key: str) -> str:
    if key in HEADINGS:
        return HEADINGS[key]
    if key.startswith("centroid_"):
        return "Centre " + key[len("centroid_"):]
    if key.startswith("bbox_"):
        return "Box " + key[len("bbox_"):]
    return key


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e9:
            return str(int(value))
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"
    return str(value)


def sort_rows(rows: list, key: str, descending: bool = False) -> list:
    """``rows`` (dicts) sorted by ``key``, ties by label (MicroPython's sort is not stable); missing values last."""
    present = [r for r in rows if r.get(key) is not None]
    missing = [r for r in rows if r.get(key) is None]
    return sorted(present, key=lambda r: (r[key], r.get("label", 0)), reverse=descending) + missing


def _rank(key: str) -> tuple:
    space = "zyx"
    if key.startswith("centroid_") and key[-1] in space:
        return (2, space.index(key[-1]), "")
    if key.startswith("bbox_") and key[-2] in space and key[-1] in "01":
        return (3, int(key[-1]), space.index(key[-2]))
    order = ("label", "area", "", "", "mean_intensity", "max_intensity", "eccentricity")
    return (order.index(key), 0, "") if key in order else (9, 0, key)


def columns(row: dict) -> list:
    """The table's columns in a fixed order (label, area, centroid, box, intensities, eccentricity, others):
    JSON objects on MicroPython do not keep the order of their keys."""
    return sorted(row, key=_rank)


def objects_html(rows: list, key: str = "label", descending: bool = False) -> str:
    """The objects table (``<thead>`` + ``<tbody>``), sorted by ``key``; a heading is a button that sorts by
    its column (``data-key``), and the sorted column says its direction (``aria-sort``)."""
    if not rows:
        return "<tbody><tr><td>No objects found.</td></tr></tbody>"
    keys = columns(rows[0])
    head = []
    for k in keys:
        sort = ""
        if k == key:
            sort = ' aria-sort="descending"' if descending else ' aria-sort="ascending"'
        head.append(f'<th{sort}><button type="button" data-key="{escape(k)}">{escape(_heading(k))}</button></th>')
    body = ["<tr>" + "".join(f"<td>{escape(_cell(r.get(k)))}</td>" for k in keys) + "</tr>"
            for r in sort_rows(rows, key, descending)]
    return f'<thead><tr>{"".join(head)}</tr></thead><tbody>{"".join(body)}</tbody>'


# -- scores against ground truth ----------------------------------------------------------------------------------

METRICS = (("f1", "F1 (objects matched at IoU > 0.5)"), ("precision", "Precision"), ("recall", "Recall"),
           ("accuracy", "Accuracy TP/(TP+FP+FN) (DSB 2018)"), ("accuracy_avg", "Accuracy, mean over IoU 0.5–0.95"),
           ("mean_matched_iou", "Mean IoU of matched objects"), ("seg", "SEG (Cell Tracking Challenge)"),
           ("dice", "Dice (pixels)"), ("iou", "IoU (pixels)"), ("objects_pred", "Objects found"),
           ("objects_true", "Objects in the ground truth"), ("tp", "Matched"), ("fn", "Missed"),
           ("fp", "False"), ("psnr", "PSNR (dB)"), ("ssim", "SSIM"), ("nrmse", "NRMSE"))


def metrics_html(metrics: dict) -> str:
    """Rows ``<tr data-metric=key><th>name</th><td>value</td></tr>`` of the known metrics, in a fixed order."""
    rows = []
    for key, name in METRICS:
        if key not in metrics:
            continue
        value = metrics[key]
        if value is None:
            shown = "∞" if key == "psnr" else "–"
        elif isinstance(value, float) and value != int(value):
            shown = f"{value:.3f}"
        else:
            shown = str(int(value)) if isinstance(value, float) else str(value)
        rows.append(f'<tr data-metric="{key}"><th>{escape(name)}</th><td>{escape(shown)}</td></tr>')
    return "".join(rows)


# -- the model card -----------------------------------------------------------------------------------------------

def _link(url: str, text: str) -> str:
    if not (url.startswith("https://") or url.startswith("http://")):
        return escape(text)
    return f'<a href="{escape(url)}" target="_blank" rel="noopener">{escape(text)}</a>'


def card_html(info: dict, base: str = "") -> str:
    """The model card of a :func:`pyapp.describe` result as ``<dl>`` rows (name, description, authors,
    citation, license, pixel size, axes, training data, documentation); ``base`` is the model's URL, against
    which a relative documentation file is linked."""
    rows = [("Name", escape(info.get("name", ""))), ("Description", escape(info.get("description", "")))]
    if info.get("authors"):
        rows.append(("Authors", escape(", ".join(info["authors"]))))
    cites = []
    for c in info.get("cite") or []:
        text = c.get("text") or c.get("doi") or c.get("url") or ""
        url = "https://doi.org/" + c["doi"] if c.get("doi") else c.get("url", "")
        cites.append(_link(url, text))
    if cites:
        rows.append(("Cite", "<br>".join(cites)))
    rows.append(("License", escape(info.get("license") or "not stated")))
    pixel = info.get("pixel_size") or []
    rows.append(("Pixel size", escape(" × ".join(f"{p['axis']} {p['scale']:g} {p.get('unit') or ''}".strip()
                                                 for p in pixel) or "not stated")))
    for label, tensors in (("Input", info.get("inputs") or []), ("Output", info.get("outputs") or [])):
        for t in tensors:
            rows.append((label, f"{escape(t['id'])}: {escape(axes_text(t))}"))
    rows.append(("Training data", escape(info.get("training_data") or "not stated")))
    doc = info.get("documentation") or ""
    if doc:
        url = doc if "://" in doc else _join(base, doc)
        rows.append(("Documentation", _link(url, doc.split("/")[-1] or doc)))
    if info.get("tags"):
        rows.append(("Tags", escape(", ".join(info["tags"]))))
    return "".join(f'<dt>{name}</dt><dd data-field="{name.lower()}">{value}</dd>' for name, value in rows)


def _join(base: str, name: str) -> str:
    if "://" not in base or base.startswith("blob:"):
        return ""
    return base[: base.rindex("/") + 1] + name


# -- messages for people ------------------------------------------------------------------------------------------

#: What to do next, by what the user was doing.
NEXT = {"model": "Check the address, or pick one of the bundled models.",
        "run": "Check that the image suits this model (About this model lists what it expects), or try another image.",
        "image": "Open a png, jpg, tif or npy image.",
        "camera": "Allow camera access for this page in the browser's site settings, or open an image instead.",
        "compare": "Open the label image or mask that belongs to this image (same width and height).",
        "save": "Try again; if it keeps failing, see the Log.",
        "": "See the Log for details."}

#: (text in a technical message, what it means for people)
MEANINGS = (
    ("NotAllowedError", "The browser did not allow the camera."),
    ("NotFoundError", "No camera was found."),
    ("NotReadableError", "The camera is in use by another app."),
    ("could not be decoded", "This image file could not be read: it may be damaged or in another format."),
    ("model worker failed", "The model stopped (the device may be out of memory); it has been restarted."),
)


def _plain_words(word: str) -> str:
    if word.startswith("blob:"):
        name = word.split("#", 1)[1] if "#" in word else "file"
        return name.replace("%20", " ")
    if word.startswith("/tmp/") or word.startswith("'/tmp/"):
        return word.rstrip("'").split("/")[-1]
    return word


def user_message(line: str, task: str = "") -> str:
    """The error banner's text: what happened in the user's words (no internal paths, DOM exception names or
    command-line flags) and, after it, what to do next for ``task`` (a key of :data:`NEXT`)."""
    line = str(line).strip() or "Something went wrong"
    for marker, meaning in MEANINGS:
        if marker in line:
            line = meaning
            break
    else:
        line = " ".join(_plain_words(w) for w in line.split(" "))
        colon = line.find(": ")
        if colon > 0 and line[:colon].endswith("Error") and " " not in line[:colon]:
            line = line[colon + 2:]  # a JavaScript exception's name
        cut = line.find("; pass --")
        if cut >= 0:
            line = line[:cut]
        if line.startswith("tensor '") and "': " in line:
            line = line[line.index("': ") + 3:]  # the model's tensor id means nothing to people
        extra = line.find(" has no counterpart in the model's axes ")
        if line.startswith("the image axis ") and extra > 0:
            axis = line[len("the image axis "):extra]
            line = f"this image has an axis the model does not take: {axis}; the model takes " + \
                line[extra + len(" has no counterpart in the model's axes "):]
        first = line.split(" ")[0]
        if first[:1].islower() and "." not in first and "'" not in first:  # not a file name
            line = line[:1].upper() + line[1:]
    advice = NEXT.get(task, NEXT[""])
    return line.rstrip(".") + ". " + advice
