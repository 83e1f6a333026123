"""``pyapp package --onnx``: the command-line face of :func:`pyapp.zoo.from_onnx.build_from_onnx`."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

PROCESSING_CHOICES = ("zero_mean_unit_variance", "scale_range", "sigmoid", "softmax")


def add_onnx_options(p: argparse.ArgumentParser) -> None:
    """The options of ``pyapp package --onnx`` (added to the ``package`` parser)."""
    g = p.add_argument_group("package your own ONNX network (pyapp package --onnx model.onnx ...)")
    g.add_argument("--onnx", metavar="FILE", help="the network (one float32 input, one output)")
    g.add_argument("--input-axes", metavar="AXES", help="letters of the network's input axes, e.g. bcyx")
    g.add_argument("--output-axes", metavar="AXES", help="letters of the network's output axes, e.g. bcyx")
    g.add_argument("--sample", metavar="IMAGE", help="an example image (tif, png, jpg, npy): its centre is the "
                   "test input")
    g.add_argument("--sample-axes", metavar="AXES", help="axes of the sample image (default: from the file)")
    g.add_argument("--size", metavar="SIZES", help="sizes of free space axes: 256 (fixed), 64:16 (min:step), "
                   "or y=64:16,x=64:16 (default 16:16)")
    g.add_argument("--halo", type=int, default=0, help="pixels cut from each tile border when tiling (default 0)")
    g.add_argument("--preprocess", action="append", default=[], choices=PROCESSING_CHOICES,
                   help="input processing, per sample over the space axes (repeatable)")
    g.add_argument("--postprocess", action="append", default=[], choices=PROCESSING_CHOICES,
                   help="output processing (repeatable)")
    g.add_argument("--name", help="model name (letters, digits, spaces, _+-())")
    g.add_argument("--description", default="", help="one sentence about the model")
    g.add_argument("--author", action="append", default=[], help="an author's name (repeatable)")
    g.add_argument("--license", help="SPDX license id, e.g. MIT, CC-BY-4.0")
    g.add_argument("--cite", action="append", default=[], metavar="TEXT=DOI_OR_URL",
                   help="a publication to cite (repeatable; default: the BioImage Model Zoo paper)")
    g.add_argument("--tag", action="append", default=[], help="a tag (repeatable)")
    g.add_argument("--input-channels", help="comma-separated input channel names")
    g.add_argument("--output-channels", help="comma-separated output channel names")


def _cite(text: str) -> dict[str, str]:
    from .from_onnx import PackageError

    label, sep, ref = text.rpartition("=")
    if not sep or not label.strip() or not ref.strip():
        raise PackageError(f"--cite: {text!r} is not TEXT=DOI or TEXT=URL")
    key = "url" if ref.strip().startswith(("http://", "https://")) else "doi"
    return {"text": label.strip(), key: ref.strip()}


def _names(text: str | None) -> list[str] | None:
    return [n.strip() for n in text.split(",")] if text else None


def package_arguments(args: argparse.Namespace) -> tuple[bytes, str, dict[str, Any]]:
    """The ONNX bytes, their label and :func:`~pyapp.zoo.from_onnx.package_files`'s keywords for parsed
    ``pyapp package --onnx`` options (files read from ``args.onnx`` and ``args.sample``).

    Raises
    ------
    PackageError
        Naming the option that is missing or wrong.
    """
    from ..io import ImageError, read_image
    from .from_onnx import PackageError, parse_sizes

    needed = {"--input-axes": args.input_axes, "--output-axes": args.output_axes, "--sample": args.sample,
              "--name": args.name, "--author": args.author, "--license": args.license}
    missing = [opt for opt, value in needed.items() if not value]
    if missing:
        raise PackageError(f"{missing[0]}: required with --onnx" + (
            f" (also missing: {', '.join(missing[1:])})" if missing[1:] else ""))
    if not Path(args.onnx).is_file():
        raise PackageError(f"--onnx: {args.onnx}: no such file")
    try:
        image, axes = read_image(args.sample, axes=args.sample_axes)
    except ImageError as err:
        raise PackageError(f"--sample: {err}") from None
    return Path(args.onnx).read_bytes(), Path(args.onnx).name, {
        "input_axes": args.input_axes, "output_axes": args.output_axes, "sample": image, "sample_axes": axes,
        "name": args.name, "authors": args.author, "license": args.license, "description": args.description,
        "sizes": parse_sizes(args.size, args.input_axes.lower()), "halo": args.halo, "preprocess": args.preprocess,
        "postprocess": args.postprocess, "input_channels": _names(args.input_channels),
        "output_channels": _names(args.output_channels), "cite": [_cite(c) for c in args.cite], "tags": args.tag}


async def package_from_arguments(args: argparse.Namespace, open_network: Callable[[bytes, str], Awaitable[Any]]
                                 ) -> Path:
    """Write the package that ``pyapp package --onnx`` options describe to ``args.out``; the network is opened
    by ``open_network(data, label)`` (onnxruntime here, onnxruntime-web in the page's model worker).

    Raises
    ------
    PackageError
        Naming the option that is missing or wrong; nothing is written then.
    """
    from .from_onnx import package_files, write_output

    data, label, kwargs = package_arguments(args)
    rdf, files = await package_files(data, label, await open_network(data, label), **kwargs)
    return write_output(Path(args.out), rdf, files)


async def _open_onnxruntime(data: bytes, label: str) -> Any:
    from ._describe import open_onnxruntime

    return open_onnxruntime(data, label)


def cmd_package_onnx(args: argparse.Namespace) -> int:
    """Run ``pyapp package --onnx``; one line per problem, exit 1 on inconsistent input."""
    from ..runtime import run_sync
    from .from_onnx import PackageError

    try:
        dest = run_sync(package_from_arguments(args, _open_onnxruntime))
    except PackageError as err:
        print(f"pyapp package: {err}")
        return 1
    if not args.cite:
        print("note      no --cite given: the package cites the BioImage Model Zoo paper; add your model's "
              "publication with --cite TEXT=DOI")
    print(f"wrote     {dest}")
    return 0
