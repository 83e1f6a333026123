# /// script
# dependencies = []
#
# [tool.pyapp]
# name = "Calculator caller"
# version = "0.1.0"
# description = "Asks the Calculator plugin for a sum and shows it (the ImJoy paper's example)."
# icon = "call_made"
# ui = [
#     "a: {id: 'a', type: 'number', placeholder: 40}",
#     "b: {id: 'b', type: 'number', placeholder: 2}",
# ]
# outputs = { type = "number" }
# plugin_dependencies = ["Calculator"]
# authors = ["pyapp authors"]
# license = "MIT"
# labels = ["example"]
# ///
"""Calls another plugin: ``calc = await api.get_plugin("Calculator")`` gives a proxy whose methods run in the
Calculator's own worker; ``await calc.add(a, b)`` returns its answer."""

from imjoy import api


class Caller:
    async def setup(self):
        await api.log("Calculator caller ready")

    async def run(self, ctx):
        calc = await api.get_plugin("Calculator")
        total = await calc.add(ctx.config.a, ctx.config.b)
        await api.show_message(f"Calculator says {ctx.config.a} + {ctx.config.b} = {total}")
        return total


api.export(Caller())
