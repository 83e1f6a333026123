"""The remote training engine: an embedded Hypha server and PyTorch trainer workers (CPython only).

Submodules are imported on use: ``server`` (start Hypha, tokens), ``worker`` (the ``pyapp-trainer``
service), ``jobs`` (the on-disk job store), ``trainer``/``unet``/``data`` (PyTorch training), ``export``
(bioimage.io package), ``recipes`` (``nuclei-dsb``), ``testing`` (start an engine for tests), ``cli``.
See docs/engine.md.
"""

SERVICE_ID = "pyapp-trainer"
WORKSPACE = "pyapp-engine"
