"""The bundled fluorescence nucleus model ``nuclei-dsb``: the engine's own trainer run by the build.

The recipe itself (data, seed, options, export) is :func:`pyapp.engine.recipes.build_nuclei_dsb`: it trains the
engine's U-Net on the DSB 2018 image and mask inside the pinned ``stardist==0.9.2`` wheel (fetched with
``pip download --no-deps`` into ``<cache>/zoo-wheels``; never committed) and writes a bioimage.io 0.5 package
(ONNX + TorchScript weights, ``sample_input.tif``). Building it needs the ``engine`` extra (torch); without it
the site build skips this model with one line.
"""

from __future__ import annotations

from pathlib import Path


def build(folder: Path, cache: Path) -> Path:
    """Train and write the package into ``folder``; returns its ``bioimageio.yaml``."""
    from ..engine.recipes import build_nuclei_dsb

    return build_nuclei_dsb(Path(folder), Path(cache), log=lambda line: print(line, flush=True))
