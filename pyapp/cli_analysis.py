"""``pyapp evaluate`` (scores against ground truth) and ``pyapp predict --labels`` (instances + object table).

Imported only when one of them runs; numpy, scipy and the readers load inside the functions.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

KINDS = ("auto", "labels", "image")  # as pyapp.analysis.KINDS, without importing numpy for --help


# ------------------------------------------------------------------------------------------- evaluate


def _plane(path: str, axes: str | None) -> Any:
    from .analysis import space_view
    from .io import read_image

    array, found = read_image(path, axes=axes)
    try:
        plane, _ = space_view(array, found)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err
    return plane


def evaluate(pred_path: str, true_path: str, args: argparse.Namespace) -> dict[str, Any]:
    """Scores of the image at ``pred_path`` against ``true_path``: ``{kind, notes, metrics}``."""
    from .analysis import score

    pred, true = _plane(pred_path, args.axes), _plane(true_path, args.gt_axes)
    return score(pred, true, kind=args.kind, names=(pred_path, true_path), threshold=args.threshold,
                 min_size=args.min_size, min_distance=args.min_distance)


def _number(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _cmd_evaluate(args: argparse.Namespace) -> int:
    result = evaluate(args.pred, args.gt, args)
    if args.json:
        metrics = {k: _number(v) for k, v in result["metrics"].items()}
        print(json.dumps({"pred": args.pred, "gt": args.gt, "kind": result["kind"], "notes": result["notes"],
                          "metrics": metrics}, indent=2))
        return 0
    for note in result["notes"]:
        print(note)
    for key, value in result["metrics"].items():
        print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    return 0


def _add_split_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threshold", type=float, default=0.5, help="foreground probability cut-off (default 0.5)")
    p.add_argument("--min-size", type=int, default=16, help="smallest object kept, in pixels (default 16)")
    p.add_argument("--min-distance", type=int, default=4,
                   help="half-width of the window a seed must dominate, in pixels (default 4)")


def add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score a prediction against ground truth", description=(
        "Compare PRED with GT and print one line per metric. Integer GT: instance scores (precision, recall, "
        "F1, accuracy at IoU 0.5 and averaged over 0.5:0.95, mean matched IoU, SEG) and mask Dice/IoU; a 0/1 "
        "mask counts its connected parts as objects, a float PRED is a probability map split into objects. "
        "Float GT (or --kind image): PSNR, SSIM, NRMSE."))
    p.add_argument("pred", metavar="PRED", help="prediction: label image, mask, probability map or restored image")
    p.add_argument("gt", metavar="GT", help="ground truth: label image or mask (or an image with --kind image)")
    p.add_argument("--kind", choices=KINDS, default="auto",
                   help="labels (segmentation) or image (restoration); auto: labels when GT holds integers")
    p.add_argument("--axes", help="axes of PRED, e.g. yx (default: from the file)")
    p.add_argument("--gt-axes", help="axes of GT (default: from the file)")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    _add_split_options(p)
    p.set_defaults(func=_cmd_evaluate)


# --------------------------------------------------------------------------------------- predict --labels


def add_label_options(p: argparse.ArgumentParser) -> None:
    """``--labels`` and the split's options, for ``pyapp predict``."""
    p.add_argument("--labels", action="store_true",
                   help="also write <stem>_labels.tif (uint16 objects) and <stem>_objects.csv")
    p.add_argument("--second-channel", choices=("boundary", "distance"),
                   help="with --labels: channel 1 of the output is a boundary or distance map")
    _add_split_options(p)


def label_output(model: Any, second_channel: str | None = None) -> Any:
    """The output tensor objects are found in (the first with space axes); ValueError before any work."""
    from .analysis import image_output

    try:
        return image_output(model.outputs, second_channel=second_channel)
    except ValueError as err:
        raise ValueError(f"--labels: {err}") from err


def _write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_labels(outdir: Path, stem: str, output: Any, out_axes: str, image: Any, image_axes: str,
                 args: argparse.Namespace) -> tuple[Path, Path, int]:
    """Split ``output`` into objects; write ``<stem>_labels.tif`` (uint16) and ``<stem>_objects.csv``
    (intensities from ``image`` when its plane matches). Returns both paths and the object count."""
    import numpy as np

    from .analysis import object_table, output_labels, space_view, table_to_csv
    from .io import write_image

    labels, axes = output_labels(output, out_axes, second_channel=args.second_channel, threshold=args.threshold,
                                 min_size=args.min_size, min_distance=args.min_distance)
    count = int(labels.max())
    if count > np.iinfo(np.uint16).max:
        raise ValueError(f"{stem}: {count} objects do not fit a uint16 label image")
    try:
        plane = space_view(image, image_axes)[0]
    except ValueError:
        plane = None
    intensity = plane if plane is not None and plane.shape == labels.shape else None
    target = write_image(outdir / f"{stem}_labels.tif", labels.astype(np.uint16), axes)
    table = outdir / f"{stem}_objects.csv"
    _write_text(table, table_to_csv(object_table(labels, intensity)))
    return target, table, count
