"""Read and write images (tif, png, jpg, npy) with explicit axes.

Axes are strings of letters: ``b`` batch, ``c`` channel, ``t`` time, ``z``/``y``/``x`` space, ``i`` index.
When a file does not say, :func:`guess_axes` decides from the number of dimensions; ``axes=`` overrides.
"""

from ._guard import ImageError, check_image_size, check_values, load_npy
from ._images import AXIS_LETTERS, guess_axes, read_image, write_image

__all__ = ["AXIS_LETTERS", "ImageError", "check_image_size", "check_values", "guess_axes", "load_npy", "read_image",
           "write_image"]
