"""The page's Python (PyScript on MicroPython, main thread): the app's UI over ``window.pyapp``.

``app`` (the shell) and ``inputs`` (images, camera) wire the DOM through ``dom`` (elements, events, promises;
imports ``pyscript``, browser only); ``view`` holds the pure formatting they use (tested in CPython and on
MicroPython). Models never run here: ``window.pyapp.predict`` sends them to the model worker, the page's only
Pyodide, and arrays stay typed arrays in JavaScript. Every module here must run on MicroPython: no
``__future__``, ``typing``, ``dataclasses`` or ``asyncio`` (see ``dom``).
"""
