"""pyapp.analysis instances and measurements: the watershed against scikit-image's (CPython), splitting of
touching discs, seeds, size filter, the second model channel, and the object table against per-object brute force
and ``skimage.measure.regionprops``. Pure numpy/scipy otherwise: runs in Pyodide, where the scikit-image
comparisons skip."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from scipy import ndimage

from pyapp.analysis import (
    find_seeds,
    flood,
    image_output,
    instance_labels,
    object_table,
    output_labels,
    relabel,
    space_view,
    table_to_csv,
)

SKIMAGE = "scikit-image (the CPython reference) is not installed"


def discs(centres: list[tuple[int, int]], radius: float, shape=(64, 96)) -> np.ndarray:
    """Labelled discs 1..n (later ones on top where they overlap)."""
    yy, xx = np.indices(shape)
    out = np.zeros(shape, np.int32)
    for k, (cy, cx) in enumerate(centres, start=1):
        out[(yy - cy) ** 2 + (xx - cx) ** 2 < radius ** 2] = k
    return out


# ------------------------------------------------------------------------------------------------ flood


@pytest.mark.parametrize("connectivity", [1, 2])
@pytest.mark.parametrize("seed", range(3))
def test_flood_equals_skimage_watershed(seed: int, connectivity: int):
    segmentation = pytest.importorskip("skimage.segmentation", reason=SKIMAGE)
    rng = np.random.default_rng(seed)
    cost = ndimage.gaussian_filter(rng.random((60, 70)), 2)
    mask = rng.random(cost.shape) > 0.1
    markers = np.zeros(cost.shape, np.int32)
    markers.flat[rng.choice(cost.size, 9, replace=False)] = np.arange(1, 10)
    ours = flood(cost, markers, mask, connectivity=connectivity)
    theirs = segmentation.watershed(cost, markers, mask=mask, connectivity=connectivity)
    np.testing.assert_array_equal(ours, theirs)


def test_flood_3d_equals_skimage_watershed():
    segmentation = pytest.importorskip("skimage.segmentation", reason=SKIMAGE)
    rng = np.random.default_rng(5)
    cost = ndimage.gaussian_filter(rng.random((12, 20, 22)), 1.5)
    markers = np.zeros(cost.shape, np.int32)
    markers.flat[rng.choice(cost.size, 5, replace=False)] = [3, 1, 4, 10, 7]
    np.testing.assert_array_equal(flood(cost, markers, connectivity=3),
                                  segmentation.watershed(cost, markers, connectivity=3))


def test_flood_meets_at_the_ridge_and_stays_in_the_mask():
    cost = np.array([[0, 1, 2, 3, 2, 1, 0, 5, 0]], float)
    markers = np.array([[1, 0, 0, 0, 0, 0, 2, 0, 0]])
    mask = np.array([[1, 1, 1, 1, 1, 1, 1, 0, 1]], bool)
    assert flood(cost, markers, mask).tolist() == [[1, 1, 1, 1, 2, 2, 2, 0, 0]]
    with pytest.raises(ValueError, match="markers have shape"):
        flood(cost, markers[:, :3])
    with pytest.raises(ValueError, match="connectivity must be 1 to 2"):
        flood(cost, markers, connectivity=3)


# ------------------------------------------------------------------------------------ seeds and labels


def test_seeds_one_per_peak_and_one_per_part():
    distance = np.array([[1, 2, 3, 2, 1, 2, 4, 2, 0, 1]], float)
    mask = np.array([[1, 1, 1, 1, 1, 1, 1, 1, 0, 1]], bool)
    seeds = find_seeds(distance, mask, min_distance=1)
    assert np.flatnonzero(seeds[0]).tolist() == [2, 6, 9]
    # a window that hides the peak at 2 behind the higher one at 6 keeps one seed in that part; the lone
    # pixel at 9 (beside the higher peak within the window) still gets its own
    assert np.flatnonzero(find_seeds(distance, mask, min_distance=4)[0]).tolist() == [6, 9]


@pytest.mark.parametrize(("centres", "radius"), [
    ([(32, 30), (32, 56)], 14),                         # two touching discs
    ([(20, 20), (20, 44), (44, 32), (44, 70)], 12.5),  # a chain of four
    ([(32, 48)], 20),                                   # one big disc stays whole
])
def test_touching_discs_are_split(centres, radius):
    truth = discs(centres, radius)
    probability = np.where(truth > 0, 0.9, 0.1).astype(np.float32)
    labels = instance_labels(probability, min_distance=4)
    assert labels.dtype == np.int32 and labels.max() == len(centres)
    assert ((labels > 0) == (truth > 0)).all()
    for k, (cy, cx) in enumerate(centres, start=1):  # each disc's centre region carries one label
        assert np.unique(labels[truth == k][:5]).size == 1 and labels[cy, cx] > 0
    assert len({labels[cy, cx] for cy, cx in centres}) == len(centres)


def assert_same_up_to_ties(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Equal labels, except on a few pixels where two basins meet at equal height (scikit-image queues its seeds
    all at age 0, so its order among equal values is its heap's): each such pixel touches both labels."""
    differ = np.argwhere(ours != theirs)
    assert len(differ) <= 0.005 * (theirs > 0).sum(), f"{len(differ)} pixels differ"
    for y, x in differ:
        window = (slice(max(y - 1, 0), y + 2), slice(max(x - 1, 0), x + 2))
        assert ours[y, x] in theirs[window] and theirs[y, x] in ours[window], (y, x)


def test_split_pipeline_equals_skimage():
    """Same seeds, then scikit-image's watershed on the same landscape: the same labels up to ties."""
    segmentation = pytest.importorskip("skimage.segmentation", reason=SKIMAGE)
    truth = discs([(20, 20), (20, 44), (44, 32), (44, 70), (30, 85)], 12.5)
    mask = truth > 0
    height = ndimage.gaussian_filter(ndimage.distance_transform_edt(mask), 1.0)
    seeds = find_seeds(height, mask, min_distance=4)
    theirs = segmentation.watershed(-height, seeds, mask=mask, connectivity=2)
    assert_same_up_to_ties(instance_labels(mask * 1.0, min_size=0), relabel(theirs))


def test_min_size_drops_small_objects_and_renumbers():
    truth = discs([(10, 10), (40, 60)], 6) + discs([(50, 10)], 1.5)
    labels = instance_labels(truth > 0, min_size=20)
    assert labels.max() == 2 and labels[50, 10] == 0
    assert instance_labels(truth > 0, min_size=1).max() == 3
    assert relabel(np.array([[5, 0, 2, 2, 5, 9]]), min_size=2).tolist() == [[1, 0, 2, 2, 1, 0]]


def test_boundary_channel_separates_where_distance_cannot():
    """Two squares side by side form one convex block: no distance dip, but a predicted boundary between them."""
    probability = np.zeros((30, 50))
    probability[5:25, 5:45] = 0.9
    boundary = np.zeros_like(probability)
    boundary[5:25, 24:26] = 0.8
    assert instance_labels(probability).max() == 1
    labels = instance_labels(probability, boundary=boundary)
    assert labels.max() == 2 and labels[15, 10] != labels[15, 40] and (labels[5:25, 5:45] > 0).all()


def test_distance_channel_gives_the_seeds():
    probability = np.zeros((30, 50))
    probability[5:25, 5:45] = 0.9
    yy, xx = np.indices(probability.shape)
    distance = np.maximum(10 - np.hypot(yy - 15, xx - 14), 10 - np.hypot(yy - 15, xx - 35))
    labels = instance_labels(probability, distance=distance, smooth=0)
    assert labels.max() == 2 and labels[15, 14] != labels[15, 35]
    assert (labels[15, 5:24] == labels[15, 14]).all() and (labels[15, 26:45] == labels[15, 35]).all()


def test_label_errors_name_the_problem():
    p = np.zeros((4, 4))
    with pytest.raises(ValueError, match=r"the boundary map has shape \(2, 2\)"):
        instance_labels(p, boundary=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="not both"):
        instance_labels(p, boundary=p, distance=p)


def test_image_output_is_checked_before_any_work():
    from types import SimpleNamespace as NS

    def tensor(name: str, *types: str) -> NS:
        return NS(id=name, axes=[NS(id=t[0], type=t) for t in types])

    classes, image = tensor("classes", "batch", "channel"), tensor("mask", "batch", "channel", "space", "space")
    assert image_output([classes, image]) is image
    with pytest.raises(ValueError, match="image output; this one has none"):
        image_output([classes])
    with pytest.raises(ValueError, match="output 'movie' also has axes t"):
        image_output([tensor("movie", "batch", "time", "space", "space")])
    with pytest.raises(ValueError, match="boundary channel was asked but output 'p' has no channel axis"):
        image_output([tensor("p", "batch", "space", "space")], second_channel="boundary")


def test_output_labels_use_model_channels():
    out = np.zeros((1, 2, 30, 50), np.float32)
    out[0, 0, 5:25, 5:45] = 0.9
    out[0, 1, 5:25, 24:26] = 0.8
    labels, axes = output_labels(out, "bcyx", second_channel="boundary")
    assert axes == "yx" and labels.max() == 2
    assert output_labels(out, "bcyx")[0].max() == 1
    assert space_view(out[0], "cyx", channel=1)[0][10, 24] == pytest.approx(0.8)
    assert space_view(np.zeros((3, 4, 5)), "xyz")[0].shape == (5, 4, 3)
    with pytest.raises(ValueError, match="also has axes t"):
        output_labels(np.zeros((2, 8, 8)), "tyx")
    with pytest.raises(ValueError, match="channel 1 was asked"):
        output_labels(out[:, :1], "bcyx", second_channel="distance")
    with pytest.raises(ValueError, match="boundary or a distance map"):
        output_labels(out, "bcyx", second_channel="edges")


# ------------------------------------------------------------------------------------------------ table


def brute_table(labels: np.ndarray, intensity: np.ndarray) -> list[dict]:
    rows = []
    for i in (i for i in np.unique(labels) if i):
        coords = np.argwhere(labels == i)
        values = intensity[labels == i]
        row = {"label": i, "area": len(coords), "centroid_y": coords[:, 0].mean(), "centroid_x": coords[:, 1].mean(),
               "bbox_y0": coords[:, 0].min(), "bbox_x0": coords[:, 1].min(), "bbox_y1": coords[:, 0].max() + 1,
               "bbox_x1": coords[:, 1].max() + 1, "mean_intensity": values.mean(), "max_intensity": values.max()}
        cov = np.cov(coords.T, bias=True) if len(coords) > 1 else np.zeros((2, 2))
        small, big = np.linalg.eigvalsh(cov)
        row["eccentricity"] = np.sqrt(1 - small / big) if big > 0 else 0.0
        rows.append(row)
    return rows


def test_object_table_equals_brute_force():
    rng = np.random.default_rng(4)
    labels = discs([(10, 10), (12, 30), (40, 60), (50, 20)], 7) * 4
    labels[30:33, 80:90] = 2   # a bar
    labels[60, 5] = 7          # one pixel
    intensity = rng.random(labels.shape) * 100
    table = object_table(labels, intensity)
    expected = brute_table(labels, intensity)
    assert len(table["label"]) == len(expected) == 6
    for k, row in enumerate(expected):
        for key, value in row.items():
            assert table[key][k] == pytest.approx(value, abs=1e-9), (key, row["label"])
    assert set(object_table(labels)) == set(table) - {"mean_intensity", "max_intensity"}


def test_object_table_equals_regionprops():
    measure = pytest.importorskip("skimage.measure", reason=SKIMAGE)
    rng = np.random.default_rng(8)
    labels = discs([(10, 10), (12, 30), (40, 60), (50, 20), (30, 80)], 9)
    labels[labels == 3] = 0
    intensity = rng.random(labels.shape).astype(np.float32)
    table = object_table(labels, intensity)
    props = measure.regionprops(labels, intensity)
    assert table["label"].tolist() == [p.label for p in props]
    for k, p in enumerate(props):
        assert table["area"][k] == p.area
        assert (table["centroid_y"][k], table["centroid_x"][k]) == pytest.approx(p.centroid)
        assert tuple(int(table[f"bbox_{a}"][k]) for a in ("y0", "x0", "y1", "x1")) == p.bbox
        assert table["mean_intensity"][k] == pytest.approx(p.intensity_mean)
        assert table["max_intensity"][k] == pytest.approx(p.intensity_max)
        assert table["eccentricity"][k] == pytest.approx(p.eccentricity, abs=1e-9)


def test_object_table_3d_and_errors():
    labels = np.zeros((4, 5, 6), np.uint16)
    labels[1:3, 1:4, 2:6] = 9
    table = object_table(labels)
    assert table["area"].tolist() == [24] and table["centroid_z"].tolist() == [1.5]
    assert table["bbox_x1"].tolist() == [6] and "eccentricity" not in table
    huge = object_table(np.array([[0, 4_000_000_000], [7, 7]], np.uint32))
    assert huge["label"].tolist() == [7, 4_000_000_000] and huge["bbox_x1"].tolist() == [2, 2]
    with pytest.raises(ValueError, match=r"intensity image has shape \(2, 2\)"):
        object_table(np.zeros((3, 3), int), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="1 to 3 space dimensions"):
        object_table(np.zeros((2, 2, 2, 2), int))


def test_csv_reads_back():
    labels = discs([(10, 10), (40, 60)], 6)
    table = object_table(labels, labels * 1.5)
    text = table_to_csv(table)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(table) and len(rows) == 2
    for k, row in enumerate(rows):
        for key, value in row.items():
            assert float(value) == pytest.approx(float(table[key][k]), rel=1e-5)
    assert table_to_csv(object_table(np.zeros((3, 3), int))) == (
        "label,area,centroid_y,centroid_x,bbox_y0,bbox_x0,bbox_y1,bbox_x1,eccentricity\n")
