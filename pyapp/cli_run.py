"""``pyapp test`` and ``pyapp predict``: run models from the command line with a progress bar."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def parse_bytes(text: str) -> int:
    """``"1GB"``, ``"512MiB"`` or ``"1000000"`` as a number of bytes."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _UNITS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 1GB, 512MiB or 1000000")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def parse_tile(text: str) -> dict[str, int]:
    """``"256"`` (every space axis) or ``"y=256,x=512"``; a bare number is stored under ``"*"``."""
    try:
        if "=" not in text:
            return {"*": int(text)}
        return {k.strip(): int(v) for k, v in (part.split("=") for part in text.split(","))}
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a tile size such as 256 or y=256,x=256") from err


def _bar(total: int, label: str) -> Callable[[int, int, str], None]:
    """A progress callback drawing ``label: 12/25 tiles [#####.....] 3 s left`` on stderr (a terminal line)."""
    import time

    start = time.monotonic()

    def update(done: int, n: int, message: str) -> None:
        filled = 20 * done // max(n, 1)
        left = (time.monotonic() - start) / max(done, 1) * (n - done)
        eta = f" {left:.0f} s left" if done < n else ""
        end = "\n" if done == n else ""
        print(f"\r{label}: {done}/{n} {message} [{'#' * filled}{'.' * (20 - filled)}]{eta}   ", end=end,
              file=sys.stderr, flush=True)
    return update


def _load_model(src: str):
    from .spec import ModelDescr, load

    model = load(src)
    if not isinstance(model, ModelDescr):
        raise ValueError(f"{src}: a {model.type} description, not a model")
    return model


def _cmd_test(args: argparse.Namespace) -> int:
    from .runtime import test_model

    model = _load_model(args.model)
    import asyncio

    report = asyncio.run(test_model(model))
    if report.error:
        print(f"{args.model}: failed: {' '.join(report.error.split())}")  # one line
        return 1
    for check in report.checks:
        print(f"{args.model}: {'ok' if check.passed else 'MISMATCH'}: {check.message}")
    print(f"{args.model}: {'passed' if report.passed else 'failed'} ({report.backend})")
    return 0 if report.passed else 1


def _expand_tile(tile: dict[str, int] | None, model) -> dict[str, int] | None:
    if tile is None or "*" not in tile:
        return tile
    size = tile.pop("*")
    for t in model.inputs:
        for a in t.axes:
            if a.type == "space":
                tile.setdefault(a.id, size)
    return tile


def _output_names(inputs: list[str], model, fmt: str) -> dict[str, list[str]]:
    """Input -> its output file names; ValueError when two inputs would write the same file."""
    names: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for p in inputs:
        names[p] = [f"{Path(p).stem}_{t.id}.{fmt}" for t in model.outputs]
        for name in names[p]:
            if name in seen:
                raise ValueError(f"{seen[name]} and {p} would both write {name}; rename one of them")
            seen[name] = p
    return names


class _Squeezed:
    """A writer of an output whose singleton batch axis the file drops: blocks are written without it."""

    def __init__(self, writer, axis: int | None):
        self.writer, self.axis = writer, axis

    def __setitem__(self, index: tuple[slice, ...], value) -> None:
        if self.axis is not None:
            value = value.squeeze(self.axis)
            index = index[:self.axis] + index[self.axis + 1:]
        self.writer[index] = value


def _file_writers(outdir: Path, names: list[str], model, drop_batch: bool, writers: list):
    """An ``outputs`` factory for the runner: each output goes block by block into its file (kept in ``writers``).

    Bool outputs (1-bit TIFF pages) stay in memory and are written whole afterwards.
    """
    import numpy as np

    from .io import open_image_writer
    from .runtime import from_model_layout

    files = dict(zip((t.id for t in model.outputs), names, strict=True))

    def make(tid: str, shape: tuple[int, ...], dtype):
        if np.dtype(dtype) == np.bool_:
            return np.empty(shape, dtype)
        tensor = model.tensor(tid)
        view, axes = from_model_layout(np.broadcast_to(np.zeros((), dtype), shape), tensor, drop_batch=drop_batch)
        dropped = tensor.axis_ids.index("batch") if view.ndim < len(shape) else None
        writer = open_image_writer(outdir / files[tid], view.shape, dtype, axes)
        writers.append((writer, axes))
        return _Squeezed(writer, dropped)
    return make


def _clean_up(writers: list, created: list[Path]) -> None:
    """After a failure: remove unfinished outputs, and OUTDIR (and the parents made for it) if left empty."""
    for writer, _ in writers:
        writer.discard()
    for folder in created:  # innermost first
        if any(folder.iterdir()):
            break
        folder.rmdir()


def _labels(outdir: Path, path: Path, out, out_axes: str, image, axes: str, args: argparse.Namespace) -> None:
    from .cli_analysis import write_labels

    *written, count = write_labels(outdir, path.stem, out, out_axes, image, axes, args)
    print(f"{path}: {count} objects: wrote {' and '.join(map(str, written))}")


def _cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from .io import check_values, read_image, write_image
    from .runtime import ModelRunner, create_backend, from_model_layout, to_model_layout

    model = _load_model(args.model)
    if len(model.inputs) != 1:
        raise ValueError(f"{args.model}: the model has {len(model.inputs)} inputs; pyapp predict takes "
                         "single-input models")
    tensor = model.inputs[0]
    names = _output_names(args.inputs, model, args.format)
    # check every input before any output is written (then let the pixels go: they are read again below)
    for p in args.inputs:
        array, axes = read_image(p, axes=args.axes)
        check_values(array, p)
        to_model_layout(array, axes, tensor)
    del array
    if args.labels:
        from .cli_analysis import label_output

        labelled = label_output(model, args.second_channel)
    runner = ModelRunner(model, create_backend(model, low_memory=args.low_memory))
    outdir = Path(args.outdir)
    created = [d for d in (outdir, *outdir.parents) if not d.exists()]  # innermost first
    outdir.mkdir(parents=True, exist_ok=True)
    tile = _expand_tile(args.tile, model)
    writers: list = []  # outputs being written block by block: committed when complete, else removed
    try:
        for p in args.inputs:
            path = Path(p)
            array, axes = read_image(path, axes=args.axes)
            x = [to_model_layout(array, axes, tensor)]
            if not args.labels:  # the objects table measures the image: keep it only then
                del array
            # without --labels the outputs go block by block into their files (never whole in memory)
            files = None if args.labels else _file_writers(outdir, names[p], model, "b" not in axes, writers)
            # hand the pixels over: the runner holds the only reference and drops what it does not need
            outputs = runner.predict_sync({tensor.id: x.pop()}, tile=tile, memory_budget=args.memory_budget,
                                          progress=_bar(1, path.name), outputs=files)
            for writer, out_axes in writers:
                print(f"{path}: wrote {writer.commit()} {writer.shape} {out_axes} {writer.dtype}")
            writers.clear()
            for t, name in zip(model.outputs, names[p], strict=True):
                if isinstance(outputs[t.id], np.ndarray):  # else written above
                    out, out_axes = from_model_layout(outputs[t.id], t, drop_batch="b" not in axes)
                    target = write_image(outdir / name, out, out_axes)  # a temporary name, renamed when complete
                    print(f"{path}: wrote {target} {out.shape} {out_axes} {out.dtype}")
                    if args.labels and t.id == labelled.id:
                        _labels(outdir, path, out, out_axes, array, axes, args)
    except BaseException:
        _clean_up(writers, created)
        raise
    print(f"{len(args.inputs)} images done with {runner.backend.name}")
    return 0


def add_test(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("test", help="reproduce a model's test outputs", description=(
        "Run the model on its test inputs and compare with its test outputs using bioimage.io's tolerance "
        "rules; exit 0 when they match, 1 otherwise."))
    p.add_argument("model", help="model description (file, folder, zip)")
    p.set_defaults(func=_cmd_test)


def add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="run a model on images", description=(
        "Run a single-input model on image files (tif, png, jpg, npy), tiled when asked, writing one file per "
        "output tensor per input into OUTDIR."))
    p.add_argument("model", help="model description (file, folder, zip)")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files")
    p.add_argument("-o", "--outdir", required=True, help="folder for the outputs (created if needed)")
    p.add_argument("--tile", type=parse_tile, help="block size: 256 for every space axis, or y=256,x=512")
    p.add_argument("--memory-budget", type=parse_bytes, help="pick tiles to fit this memory, e.g. 1GB")
    p.add_argument("--axes", help="axes of the input images, e.g. yx, cyx, yxc (default: from the file)")
    p.add_argument("--format", choices=["tif", "npy"], default="tif", help="output file type (default tif)")
    from .cli_analysis import add_label_options

    add_label_options(p)
    p.add_argument("--low-memory", action="store_true",
                   help="less memory, somewhat slower: onnxruntime without its memory arena")
    p.set_defaults(func=_cmd_predict)
