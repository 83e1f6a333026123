"""The page's Python (PyScript, main thread): the app's UI over ``window.pyapp``.

``app`` wires the DOM (imports ``pyscript``; browser only); ``view`` holds the pure formatting it uses
(importable and tested in CPython). Models never run here: ``window.pyapp.predict`` sends them to the model
worker, and arrays stay typed arrays in JavaScript.
"""
