"""Move an image between its own axes (letters such as ``yx`` or ``yxc``) and a model tensor's axis order."""

from __future__ import annotations

import numpy as np

from ..spec.model import Tensor

_ID_OF_LETTER = {"b": "batch", "c": "channel", "t": "time", "i": "index"}
_LETTER_OF_TYPE = {"batch": "b", "channel": "c", "time": "t", "index": "i"}


class LayoutError(ValueError):
    """An image does not fit a model tensor (missing axis, wrong channel count, extra axis)."""


def axis_letter(tensor: Tensor, axis_id: str) -> str:
    """The image letter for a tensor axis: b/c/t/i by type, the id itself for space axes."""
    axis = tensor.axis(axis_id)
    return _LETTER_OF_TYPE.get(axis.type, axis.id)


def to_model_layout(array: np.ndarray, axes: str, tensor: Tensor) -> np.ndarray:
    """``array`` (axes ``axes``) as a view in ``tensor``'s axis order, adding or dropping singleton axes.

    Raises
    ------
    LayoutError
        Naming the tensor and the axis that does not fit.
    """
    letters = [axis_letter(tensor, a.id) for a in tensor.axes]
    shape = dict(zip(axes, array.shape, strict=True))
    for letter, size in shape.items():
        if letter not in letters and size != 1:
            raise LayoutError(f"tensor {tensor.id!r}: the image axis {letter!r} (size {size}) has no counterpart "
                              f"in the model's axes {tensor.axis_ids}; pass --axes to say what the image axes are")
    kept = [a for a in axes if a in letters]
    x = array.reshape([shape[a] for a in kept])
    for axis, letter in zip(tensor.axes, letters, strict=True):
        if letter in shape:
            if axis.type == "channel" and shape[letter] != len(axis.channel_names):
                raise LayoutError(f"tensor {tensor.id!r}: axis 'channel' needs {len(axis.channel_names)} channels, "
                                  f"the image has {shape[letter]}")
            continue
        if axis.type in ("batch",) or axis.fixed_size == 1:
            kept.append(letter)
            x = x[..., np.newaxis]
        else:
            raise LayoutError(f"tensor {tensor.id!r}: the image (axes {axes!r}) lacks axis {axis.id!r} "
                              f"({axis.type}) that the model needs")
    return x.transpose([kept.index(letter) for letter in letters])


def from_model_layout(array: np.ndarray, tensor: Tensor, *, drop_batch: bool) -> tuple[np.ndarray, str]:
    """A model output with image letters as axes; a singleton batch axis is dropped if ``drop_batch``."""
    letters = "".join(axis_letter(tensor, a.id) for a in tensor.axes)
    if drop_batch and "b" in letters and array.shape[letters.index("b")] == 1:
        array = np.squeeze(array, axis=letters.index("b"))
        letters = letters.replace("b", "")
    return array, letters
