"""Instances, measurements and scores: from a model's probability map to labelled objects, an object table
and metrics against ground truth. Pure numpy + ``scipy.ndimage`` (the same code in CPython and Pyodide).

Examples
--------
>>> import numpy as np
>>> from pyapp.analysis import instance_labels, instance_scores, object_table
>>> yy, xx = np.mgrid[:40, :70]
>>> truth = ((yy - 20) ** 2 + (xx - 22) ** 2 < 15 ** 2) * 1 + ((yy - 20) ** 2 + (xx - 48) ** 2 < 15 ** 2) * 2
>>> truth[(truth == 3)] = 2
>>> labels = instance_labels(truth > 0)
>>> len(object_table(labels)["label"]), instance_scores(labels, truth)["f1"]
(2, 1.0)
"""

from ._flood import flood
from ._labels import find_seeds, instance_labels, relabel
from ._layout import SECOND_CHANNELS, image_output, output_labels, space_view
from ._measure import Table, object_table, table_to_csv
from ._metrics import THRESHOLDS, instance_scores, iou_matrix, mask_scores, overlaps, seg
from ._restoration import nrmse, psnr, restoration_scores, ssim
from ._score import KINDS, as_instances, score

__all__ = [
    "KINDS", "SECOND_CHANNELS", "THRESHOLDS", "Table", "as_instances", "find_seeds", "flood", "image_output",
    "instance_labels", "instance_scores", "iou_matrix", "mask_scores", "nrmse", "object_table", "output_labels",
    "overlaps", "psnr", "relabel", "restoration_scores", "score", "seg", "space_view", "ssim", "table_to_csv",
]
