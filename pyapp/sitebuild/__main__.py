"""``python -m pyapp.sitebuild [options]``: the same as ``python build.py``."""

import sys

from . import main

sys.exit(main())
