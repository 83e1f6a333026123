# /// script
# dependencies = []
#
# [tool.pyapp]
# name = "Calculator"
# version = "0.2.0"
# description = "Adds, subtracts and multiplies two numbers."
# tags = ["stable", "dev"]
# icon = { stable = "calculate", dev = "🧮" }
# ui = [
#     "a: {id: 'a', type: 'number', placeholder: 1}",
#     "b: {id: 'b', type: 'number', placeholder: 2}",
#     { op = "{id: 'op', type: 'choose', options: ['add', 'sub', 'mul'], placeholder: 'add'}" },
# ]
# inputs = { type = "object", properties = { a = { type = "number" }, b = { type = "number" } } }
# outputs = { type = "number" }
# authors = ["pyapp authors"]
# license = "MIT"
# labels = ["example", "math"]
# flags = ["functional"]
# ///
"""A calculator that other plugins call with ``await api.get_plugin("Calculator")``."""

from imjoy import api

OPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}


class Calculator:
    async def setup(self):
        await api.log("Calculator ready")

    async def run(self, ctx):
        cfg = ctx.config
        return OPS[cfg.op](cfg.a, cfg.b)

    def add(self, a, b):
        return a + b

    def mul(self, a, b):
        return a * b


api.export(Calculator())
