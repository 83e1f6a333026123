"""Assemble the static site (``static/``): ``python build.py [--out static] [--only pyodide|ort|web]``.

A thin wrapper: the build lives in :mod:`pyapp.sitebuild` so an installed pyapp can build too (``pyapp build``).
"""

import sys

from pyapp.sitebuild import main

if __name__ == "__main__":
    sys.exit(main())
