"""The split on real data: the gold U-Net's nucleus probability on the DSB 2018 fluorescence image (125 nuclei)
against its ground-truth labels, and against scikit-image's watershed from the same seeds (CPython: onnxruntime,
tifffile and scikit-image run the reference; the browser's result is compared in tests/browser)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from shared_paths import GOLD, SHARED

from pyapp.analysis import find_seeds, instance_labels, instance_scores, object_table, relabel
from pyapp.io import read_image
from pyapp.runtime import ModelRunner, to_model_layout
from pyapp.spec import load

DSB = SHARED / "data" / "nuclei-dsb2018"


@pytest.fixture(scope="module")
def probability() -> np.ndarray:
    model = load(GOLD)
    image, axes = read_image(DSB / "img2d.tif")
    x = to_model_layout(image, axes, model.inputs[0])
    return ModelRunner(model).predict_sync({"raw": x})["probability"][0, 0]


@pytest.fixture(scope="module")
def truth() -> np.ndarray:
    return read_image(DSB / "mask2d.tif")[0]


def test_split_counts_and_matches_the_nuclei(probability: np.ndarray, truth: np.ndarray):
    n_true = len(np.unique(truth)) - 1
    labels = instance_labels(probability)
    scores = instance_scores(labels, truth)
    merged = instance_scores(ndimage.label(probability > 0.5)[0], truth)
    print(f"DSB: {scores['objects_pred']} objects (truth {n_true}), F1@0.5 {scores['f1']:.3f}, "
          f"accuracy@0.5:0.95 {scores['accuracy_avg']:.3f}, SEG {scores['seg']:.3f}; connected components only: "
          f"{merged['objects_pred']} objects, F1@0.5 {merged['f1']:.3f}")
    assert n_true == 125
    assert abs(scores["objects_pred"] - n_true) <= 0.15 * n_true
    assert scores["f1"] >= 0.75 > merged["f1"]
    assert len(object_table(labels)["label"]) == scores["objects_pred"]


def test_split_equals_skimage_watershed(probability: np.ndarray):
    segmentation = pytest.importorskip("skimage.segmentation", reason="scikit-image is a test dependency")
    mask = probability > 0.5
    height = ndimage.gaussian_filter(ndimage.distance_transform_edt(mask), 1.0)
    seeds = find_seeds(height, mask, min_distance=4)
    theirs = relabel(segmentation.watershed(-height, seeds, mask=mask, connectivity=2), min_size=16)
    np.testing.assert_array_equal(instance_labels(probability), theirs)
