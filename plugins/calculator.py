# /// script
# dependencies = []
#
# [tool.pyapp]
# name = "Calculator"
# version = "0.1.0"
# description = "Adds, subtracts, multiplies and divides two numbers; other plugins call it with api.get_plugin."
# icon = "calculate"
# ui = [
#     "a: {id: 'a', type: 'number', placeholder: 1}",
#     "b: {id: 'b', type: 'number', placeholder: 2}",
#     { op = "{id: 'op', type: 'choose', options: ['add', 'sub', 'mul', 'div'], placeholder: 'add'}" },
# ]
# outputs = { type = "number" }
# authors = ["pyapp authors"]
# license = "MIT"
# labels = ["example", "math"]
# ///
"""Calculator: the callee of the ImJoy paper's example. ``run(ctx)`` computes ``a op b`` from the form;
``add``, ``sub``, ``mul`` and ``div`` are there for other plugins (``await api.get_plugin("Calculator")``)."""

from imjoy import api


class Calculator:
    async def setup(self):
        await api.log("Calculator ready")

    async def run(self, ctx):
        config = ctx.config
        op = config.get("op") or "add"
        result = getattr(self, op)(config.a, config.b)
        await api.show_status(f"{config.a} {op} {config.b} = {result}")
        return result

    def add(self, a, b):
        return a + b

    def sub(self, a, b):
        return a - b

    def mul(self, a, b):
        return a * b

    def div(self, a, b):
        if b == 0:
            raise ZeroDivisionError(f"cannot divide {a} by zero")
        return a / b


api.export(Calculator())
