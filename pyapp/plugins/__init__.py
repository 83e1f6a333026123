"""Plugins: the file format (PEP 723 Python, or ImJoy ``.imjoy.html``), loading and writing.

>>> from pyapp.plugins import load_plugin, write_plugin
>>> src = '# /// script\\n# dependencies = ["numpy"]\\n#\\n# [tool.pyapp]\\n# name = "Hello"\\n# ///\\n'
>>> plugin = load_plugin(src, filename="hello.py")
>>> load_plugin(write_plugin(plugin), filename="hello.py").manifest == plugin.manifest
True
"""

from ._checks import PLUGIN_TYPES
from ._pep723 import write_plugin
from .manifest import CONFIGURABLE_FIELDS, Manifest, Plugin, PluginError, PluginWarning, load_plugin

__all__ = [
    "CONFIGURABLE_FIELDS",
    "PLUGIN_TYPES",
    "Manifest",
    "Plugin",
    "PluginError",
    "PluginWarning",
    "load_plugin",
    "write_plugin",
]
