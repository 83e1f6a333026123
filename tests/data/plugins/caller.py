# /// script
# requires-python = ">=3.12"
# dependencies = ["numpy"]
#
# [tool.pyapp]
# name = "Calculator caller"
# description = "Asks the Calculator plugin for a sum and shows it."
# ui = "x: {id: 'x', type: 'number', placeholder: 40}"
# plugin_dependencies = ["Calculator"]
# ///
"""Calls another plugin through ``api.get_plugin``: the ImJoy paper's example."""

import numpy as np
from imjoy import api


class Caller:
    async def setup(self):
        pass

    async def run(self, ctx):
        calc = await api.get_plugin("Calculator")
        total = await calc.add(float(np.float64(ctx.config.x)), 2)
        await api.show_message(f"Calculator says {total}")
        return total


api.export(Caller())
