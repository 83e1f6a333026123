"""Training recipes: the engine's trainer run locally on pinned public data, producing a bundled model.

``nuclei-dsb``: the 512x512 fluorescence nuclei image and its instance mask from the 2018 Kaggle Data Science
Bowl, as shipped inside the PyPI wheel ``stardist==0.9.2`` (``stardist/data/images/img2d.tif`` and
``mask2d.tif``, BSD-3-Clause), fetched with ``pip download --no-deps`` into ``<cache>/zoo-wheels`` (never
committed). Fixed seed and thread count, so the same machine type builds the same weights; the bottom rows
are held out and the package records the Dice reached there.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..zoo.package import Pin, dist_file
from .trainer import TrainConfig

STARDIST = Pin("stardist", "0.9.2")
IMAGE = "stardist/data/images/img2d.tif"
MASK = "stardist/data/images/mask2d.tif"
#: The recipe's training options (small and quick: a few minutes on two busy CPU cores).
NUCLEI_DSB = TrainConfig(steps=200, batch_size=4, patch=96, learning_rate=2e-3, val_fraction=0.2, val_every=25,
                         checkpoint_every=50, patience=4, seed=0, base_channels=8, depth=3,
                         name="pyapp nuclei (DSB 2018 fluorescence)")


def dsb_pair(cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """The DSB 2018 image (uint16) and instance mask from the pinned stardist wheel."""
    import tifffile

    image = tifffile.imread(io.BytesIO(dist_file(STARDIST, IMAGE, cache)))
    mask = tifffile.imread(io.BytesIO(dist_file(STARDIST, MASK, cache)))
    return image, mask


def build_nuclei_dsb(folder: Path, cache: Path, *, log: Callable[[str], None] = lambda line: None) -> Path:
    """Train the ``nuclei-dsb`` recipe and write its package into ``folder``; returns its ``bioimageio.yaml``.

    Parameters
    ----------
    folder
        The package folder (replaced once the new package is complete and valid).
    cache
        Where the stardist wheel is downloaded (``cache/zoo-wheels``) when it is not installed.
    log
        Receives one line per stage.
    """
    import torch

    from .export import export_package
    from .trainer import train

    image, mask = dsb_pair(Path(cache))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # the same reductions on every machine: the same weights
    try:
        with tempfile.TemporaryDirectory(prefix="pyapp-recipe-") as work:
            log(f"training  nuclei-dsb: {NUCLEI_DSB.steps} steps on the DSB 2018 image ({STARDIST})")
            model, progress = train(NUCLEI_DSB, [{"name": "dsb2018-img2d", "image": image, "mask": mask}],
                                    Path(work))
        training = {"config": NUCLEI_DSB.public(), "steps_done": progress.step, "losses": progress.losses,
                    "val_metrics": progress.val_metrics, "pairs": ["dsb2018-img2d (stardist 0.9.2)"],
                    "depth": NUCLEI_DSB.depth, "early_stopped": progress.early_stopped, "recipe": "nuclei-dsb"}
        best = max((m["dice"] for m in progress.val_metrics), default=float("nan"))
        log(f"trained   {progress.step} steps, best held-out Dice {best:.3f}")
        return export_package(model, Path(folder), sample=image, name=NUCLEI_DSB.name, training=training,
                              license="BSD-3-Clause", authors=("pyapp contributors",)) / "bioimageio.yaml"
    finally:
        torch.set_num_threads(threads)
