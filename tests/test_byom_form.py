"""The page's *Package a model* form and the CLI speak the same options: every ``pyapp package --onnx`` option has a
form field its errors are shown at, and the network's signature reads the same from onnxruntime's listing
(CPython) as from onnxruntime-web's (the model worker)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from pyapp.zoo._describe import signature
from pyapp.zoo.from_onnx import PackageError
from pyapp.zoo.onnx_cli import add_onnx_options

FORM = Path(__file__).resolve().parents[1] / "web" / "pyapp" / "package-form.js"
#: A ModelProto holding only ``opset_import {version: 17}`` (field 8 -> field 2), enough for the opset reader.
OPSET_17 = b"\x42\x02\x10\x11"


def test_every_package_option_has_a_form_field():
    parser = argparse.ArgumentParser(add_help=False)
    add_onnx_options(parser)
    options = {o for a in parser._actions for o in a.option_strings if o.startswith("--")}
    text = FORM.read_text()
    fields = dict(re.findall(r'"(--[a-z-]+)": \["(pkg-[a-z-]+)", "[^"]+"\]', text))
    assert set(fields) == options
    for field in fields.values():
        assert f'id: "{field}"' in text, field


def test_signature_reads_the_same_from_both_onnxruntimes():
    cpython = signature([("raw", "tensor(float)", [None, 1, "y", 64])], [("mask", "tensor(float)", ["b", 2, "y", 64])],
                        OPSET_17, "net.onnx")
    web = signature([("raw", "float32", ["batch", 1, "y", 64])], [("mask", "float32", ["b", 2, "y", 64])],
                    OPSET_17, "net.onnx")
    assert cpython == web
    assert (cpython.input_shape, cpython.output_shape, cpython.opset) == ((None, 1, None, 64), (None, 2, None, 64), 17)


@pytest.mark.parametrize(("inputs", "words"), [
    ([("a", "float32", [1]), ("b", "float32", [1])], "--onnx: net.onnx has 2 inputs and 1 outputs"),
    ([("ids", "tensor(int64)", [1])], "--onnx: net.onnx: input 'ids' is int64; pyapp package takes float32"),
    ([("ids", "int64", [1])], "--onnx: net.onnx: input 'ids' is int64; pyapp package takes float32"),
])
def test_signature_refuses_what_packages_cannot_describe(inputs, words):
    with pytest.raises(PackageError) as err:
        signature(inputs, [("y", "float32", [1])], OPSET_17, "net.onnx")
    assert str(err.value).startswith(words)
