"""From a model output with named axes to the space-only maps the analysis works on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._labels import instance_labels

SPACE = "zyx"
SECOND_CHANNELS = ("boundary", "distance")


def space_view(array: np.ndarray, axes: str, *, channel: int = 0) -> tuple[np.ndarray, str]:
    """The space axes of ``array`` (in z, y, x order) at batch 0 and channel ``channel``.

    Examples
    --------
    >>> import numpy as np
    >>> plane, axes = space_view(np.zeros((1, 2, 5, 4)), "bcyx", channel=1)
    >>> plane.shape, axes
    ((5, 4), 'yx')
    """
    array = np.asarray(array)
    if len(axes) != array.ndim:
        raise ValueError(f"axes {axes!r} do not fit an array of shape {array.shape}")
    other = [a for a in axes if a not in SPACE + "bc"]
    if other:
        raise ValueError(f"objects are found in space (z, y, x); this output also has axes {', '.join(other)}")
    if "c" in axes and not 0 <= channel < array.shape[axes.index("c")]:
        raise ValueError(f"the output has {array.shape[axes.index('c')]} channels, channel {channel} was asked")
    index = tuple(channel if a == "c" else 0 if a == "b" else slice(None) for a in axes)
    kept = "".join(a for a in axes if a in SPACE)
    order = sorted(range(len(kept)), key=lambda k: SPACE.index(kept[k]))
    return np.transpose(array[index], order), "".join(kept[k] for k in order)


def image_output(tensors: Sequence[Any], *, second_channel: str | None = None) -> Any:
    """The first tensor description (``.id``, ``.axes`` with ``.type``) that has space axes: the one objects are
    found in. ValueError when none has (a classifier's outputs), when it has axes other than batch, channel and
    space, or when ``second_channel`` is asked of a tensor without a channel axis."""
    for tensor in tensors:
        if any(a.type == "space" for a in tensor.axes):
            break
    else:
        raise ValueError("objects need a model with an image output; this one has none (a classifier?)")
    other = [str(a.id) for a in tensor.axes if a.type not in ("batch", "channel", "space")]
    if other:
        raise ValueError(f"objects are found in space (z, y, x); output {tensor.id!r} also has axes "
                         f"{', '.join(other)}")
    if second_channel and not any(a.type == "channel" for a in tensor.axes):
        raise ValueError(f"a {second_channel} channel was asked but output {tensor.id!r} has no channel axis")
    return tensor


def output_labels(array: np.ndarray, axes: str, *, second_channel: str | None = None,
                  **options: float) -> tuple[np.ndarray, str]:
    """Instance labels of a model output: channel 0 is the foreground probability and, when ``second_channel``
    is ``"boundary"`` or ``"distance"``, channel 1 that map (see :func:`instance_labels` for ``options``).

    Returns
    -------
    tuple of ndarray and str
        The labels (int32) and their axes, e.g. ``"yx"``.

    Examples
    --------
    >>> import numpy as np
    >>> out = np.zeros((1, 1, 8, 8), np.float32)
    >>> out[0, 0, 2:6, 2:6] = 0.9
    >>> labels, axes = output_labels(out, "bcyx", min_size=1)
    >>> int(labels.max()), axes
    (1, 'yx')
    """
    if second_channel is not None and second_channel not in SECOND_CHANNELS:
        raise ValueError(f"the second channel is a boundary or a distance map, not {second_channel!r}")
    probability, space = space_view(array, axes)
    extra = {}
    if second_channel:
        if "c" not in axes:
            raise ValueError(f"a {second_channel} channel was asked but the output has no channel axis")
        extra[second_channel] = space_view(array, axes, channel=1)[0]
    return instance_labels(probability, **extra, **options), space
