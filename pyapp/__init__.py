"""pyapp: bioimage.io models in the browser (Pyodide) and in CPython, with one numpy code path."""

__version__ = "0.1.0"
