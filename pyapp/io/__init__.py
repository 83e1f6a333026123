"""Read and write images (tif, png, jpg, npy) with explicit axes.

Axes are strings of letters: ``b`` batch, ``c`` channel, ``t`` time, ``z``/``y``/``x`` space, ``i`` index.
When a file does not say, :func:`guess_axes` decides from the number of dimensions; ``axes=`` overrides.
:func:`open_image_writer` writes a .tif or .npy block by block (large outputs never whole in memory).
"""

from ._guard import ImageError, check_image_size, check_values, load_npy
from ._images import AXIS_LETTERS, guess_axes, read_image, write_image
from ._writer import ImageWriter, flat_runs, open_image_writer

__all__ = ["AXIS_LETTERS", "ImageError", "ImageWriter", "check_image_size", "check_values", "flat_runs", "guess_axes",
           "load_npy", "open_image_writer", "read_image", "write_image"]
