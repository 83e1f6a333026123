"""The instance split (pyapp.analysis.instance_labels) against scikit-image's pipeline, same machine, same run.

Run: ``.venv/bin/python benchmarks/analysis_split.py [--repeat 3]``. The gold U-Net's probability of the DSB 2018
nucleus image (512², 125 nuclei) and the same map mirrored to 2048² go through pyapp (distance transform, peaks,
priority-flood watershed in Python) and through scikit-image (the same distance map, ``peak_local_max``,
compiled ``watershed``). Printed: median wall time of each, their ratio, object counts and F1@0.5 against the
ground truth (512² only). Goal: the 512² split <= 0.5 s in CPython (interactive in the page, where Pyodide is
~2-3x slower), ratio for context.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import ndimage

from pyapp.analysis import instance_labels, instance_scores
from pyapp.io import read_image
from pyapp.runtime import ModelRunner, to_model_layout
from pyapp.spec import load

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT.parent / "shared/corpus/bioimageio-examples/models/unet2d_nuclei_broad"
DSB = ROOT.parent / "shared/data/nuclei-dsb2018"


def skimage_split(probability: np.ndarray) -> np.ndarray:
    from skimage.feature import peak_local_max
    from skimage.morphology import remove_small_objects
    from skimage.segmentation import watershed

    mask = probability > 0.5
    height = ndimage.gaussian_filter(ndimage.distance_transform_edt(mask), 1.0)
    peaks = peak_local_max(height, min_distance=4, labels=ndimage.label(mask)[0])
    markers = np.zeros(mask.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return remove_small_objects(watershed(-height, markers, mask=mask, connectivity=2), max_size=15)


def timed(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, repeat: int) -> tuple[float, np.ndarray]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(x)
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    model = load(GOLD)
    image, axes = read_image(DSB / "img2d.tif")
    probability = ModelRunner(model).predict_sync({"raw": to_model_layout(image, axes, model.inputs[0])})
    probability = probability["probability"][0, 0]
    truth = read_image(DSB / "mask2d.tif")[0]
    big = np.tile(np.concatenate([probability, probability[::-1]]), (2, 4))[:2048, :2048]
    for name, p in (("512²", probability), ("2048²", big)):
        ours_s, ours = timed(instance_labels, p, args.repeat)
        ref_s, ref = timed(skimage_split, p, args.repeat)
        line = (f"{name}: pyapp {ours_s:.3f} s ({int(ours.max())} objects), scikit-image {ref_s:.3f} s "
                f"({len(np.unique(ref)) - 1} objects), ratio {ours_s / ref_s:.1f}")
        if p is probability:
            line += (f"; F1@0.5 pyapp {instance_scores(ours, truth)['f1']:.3f}, "
                     f"scikit-image {instance_scores(ref, truth)['f1']:.3f}")
        print(line)


if __name__ == "__main__":
    main()
