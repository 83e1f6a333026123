"""The model worker's packaging requests (Pyodide only): the page's *Package a model* form.

:func:`inspect_onnx` reads a network's input and output (names, sizes) with onnxruntime-web;
:func:`package_onnx` builds a bioimage.io package from ``pyapp package --onnx`` options with the same code as the
command line (:func:`pyapp.zoo.onnx_cli.package_from_arguments`): only the onnxruntime differs.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pyapp_js  # type: ignore[import-not-found]  # registered by model-worker.js
from pyodide.ffi import JsException, JsProxy, to_js  # type: ignore[import-not-found]

from ..zoo._describe import Network, signature
from ..zoo.from_onnx import PackageError
from ..zoo.onnx_cli import add_onnx_options, package_from_arguments
from .ortweb import OrtWebBackend, _options

#: Where the worker writes the network, the sample and the package while it builds one (its own memory).
WORK_DIR = Path("/tmp/pyapp-package")
#: What building a package needs besides the boot packages: image readers, the sample TIFF, the cover PNG.
PACKAGES = ["tifffile", "imageio", "pillow"]


def _bytes(value: Any) -> bytes:
    return bytes(value.to_py()) if isinstance(value, JsProxy) else bytes(value)


def _values(metadata: Any) -> list[tuple[str, str, list[Any]]]:
    """``(name, type, shape)`` of onnxruntime-web's ``inputMetadata``/``outputMetadata`` entries."""
    out = []
    for m in metadata:
        tensor = bool(m.isTensor)
        shape = m.shape.to_py() if tensor and isinstance(m.shape, JsProxy) else []
        out.append((str(m.name), str(m.type) if tensor else "not a tensor", list(shape)))
    return out


async def open_network(data: bytes, label: str, opened: list[Any] | None = None) -> Network:
    """The network ``data`` opened with onnxruntime-web (wasm: the same numbers on every device); its session is
    appended to ``opened`` (for :func:`_release`).

    Raises
    ------
    PackageError
        When onnxruntime-web cannot read it, or it has several inputs/outputs (naming ``--onnx``).
    """
    try:
        session = await pyapp_js.ort.InferenceSession.create(to_js(data), _options(["wasm"]))
    except JsException as err:
        raise PackageError(f"--onnx: {label} is not a readable ONNX file: {str(err).splitlines()[0][:160]}") from None
    if opened is not None:
        opened.append(session)
    info = signature(_values(session.inputMetadata), _values(session.outputMetadata), data, label)
    return Network(info, lambda model: OrtWebBackend(session, model, "wasm"))


async def inspect_onnx(onnx: Any, name: str) -> Any:
    """``{input: {name, shape}, output: {name, shape}, opset}`` of a network (sizes the graph leaves free: null).

    Raises
    ------
    PackageError
        As :func:`open_network`.
    """
    from js import Object  # type: ignore[import-not-found]

    opened: list[Any] = []
    try:
        info = (await open_network(_bytes(onnx), str(name), opened)).info
    finally:
        await _release(opened)
    result = {"input": {"name": info.input_name, "shape": list(info.input_shape)},
              "output": {"name": info.output_name, "shape": list(info.output_shape)}, "opset": info.opset}
    return to_js(result, dict_converter=Object.fromEntries)


async def _release(sessions: list[Any]) -> None:
    """Free the onnxruntime-web sessions (their wasm memory) once a request is answered."""
    for session in sessions:
        await session.release()


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pyapp package", add_help=False, exit_on_error=False)
    add_onnx_options(parser)
    parser.add_argument("-o", "--out", required=True)
    try:
        return parser.parse_args(argv)
    except argparse.ArgumentError as err:
        raise PackageError(f"{err.argument_name}: {err.message}") from None
    except SystemExit:  # argparse's other errors (already printed to the worker's console)
        raise PackageError(f"the options {argv} do not parse") from None


async def package_onnx(onnx: Any, onnx_name: str, sample: Any, sample_name: str, argv: Any) -> Any:
    """A package as zip bytes, built from ``pyapp package --onnx`` options ``argv`` (without ``--onnx``,
    ``--sample`` and ``-o``, which name the two given files here).

    Returns
    -------
    object
        ``{zip, cover, files}``: the zip as ``pyapp package --onnx … -o NAME.zip`` writes it for the same files
        and options (Uint8Array), its ``cover.png`` (Uint8Array) and the names of its files.

    Raises
    ------
    PackageError
        Naming the option that is missing or wrong (the page maps it to its form field).
    """
    import pyodide_js  # type: ignore[import-not-found]

    await pyodide_js.loadPackage(to_js(PACKAGES))
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    WORK_DIR.mkdir(parents=True)
    opened: list[Any] = []
    try:
        onnx_path = WORK_DIR / Path(str(onnx_name)).name
        sample_path = WORK_DIR / f"sample-{Path(str(sample_name)).name}"
        onnx_path.write_bytes(_bytes(onnx))
        sample_path.write_bytes(_bytes(sample))
        options = [str(a) for a in (argv.to_py() if isinstance(argv, JsProxy) else argv)]
        args = _parse([*options, "--onnx", str(onnx_path), "--sample", str(sample_path),
                       "-o", str(WORK_DIR / "out" / "model.zip")])
        dest = await package_from_arguments(args, functools.partial(open_network, opened=opened))
        with zipfile.ZipFile(dest) as zf:
            cover, files = zf.read("cover.png"), zf.namelist()
        from js import Object  # type: ignore[import-not-found]

        return to_js({"zip": to_js(dest.read_bytes()), "cover": to_js(cover), "files": files},
                     dict_converter=Object.fromEntries)
    finally:
        shutil.rmtree(WORK_DIR, ignore_errors=True)
        await _release(opened)
