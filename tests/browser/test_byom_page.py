"""The *Package a model* panel in headless Chromium: the form builds the same package as ``pyapp package --onnx``
for the same inputs (rdf fields, files, test tensors within 1e-6), refuses inconsistent input naming the field,
hands the package to the app ("Use this model"); a model without ONNX weights is refused with how to convert it.

The screenshots of docs/packaging.md are taken here (package-*.png: see ``shots`` in app_fixtures.py).
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml
from app_fixtures import (  # noqa: F401
    BOOT_MS,
    READY,
    ROOT,
    Site,
    launch,
    playwright,
    serve_built,
    shots,
    wait_error,
)
from byom_models import tiny_net, write_torch_package

from pyapp.cli import main as pyapp_main

pytest.importorskip("torch", reason="torch is needed to build the test network (pyapp[zoo])")
#: The form's fields and the same as `pyapp package --onnx` options (the test's one source of both).
FORM = {"#pkg-halo": "4", "#pkg-name": "Tiny blob net", "#pkg-authors": "Ada Lovelace\nGrace Hopper",
        "#pkg-license": "MIT", "#pkg-description": "Finds blobs in a test image.", "#pkg-tags": "blobs, test",
        "#pkg-output-channels": "bg, fg", "#pkg-size-y-min": "32", "#pkg-size-y-step": "16",
        "#pkg-size-x-min": "48", "#pkg-size-x-step": "0"}
SELECT = {"#pkg-preprocess": "zero_mean_unit_variance", "#pkg-postprocess": "softmax"}
CLI = ["--input-axes", "bcyx", "--output-axes", "bcyx", "--size", "y=32:16,x=48", "--halo", "4",
       "--preprocess", "zero_mean_unit_variance", "--postprocess", "softmax", "--name", "Tiny blob net",
       "--author", "Ada Lovelace", "--author", "Grace Hopper", "--license", "MIT",
       "--description", "Finds blobs in a test image.", "--tag", "blobs", "--tag", "test", "--output-channels", "bg,fg"]


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    yield from serve_built("index.html", "pyapp/package-form.js")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """blobs.onnx (two convolutions, free batch and space axes) and blobs.tif (120 x 100 uint16)."""
    import tifffile
    import torch

    root = tmp_path_factory.mktemp("byom-page")
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(tiny_net(), (torch.zeros(1, 1, 32, 32),), buf, dynamo=False, opset_version=17,
                          input_names=["raw"], output_names=["logits"],
                          dynamic_axes={"raw": {0: "b", 2: "y", 3: "x"}, "logits": {0: "b", 2: "y", 3: "x"}})
    (root / "blobs.onnx").write_bytes(buf.getvalue())
    yy, xx = np.mgrid[:120, :100]
    tifffile.imwrite(root / "blobs.tif", (1000 + 800 * (np.sin(yy / 6.0) * np.cos(xx / 5.0) > 0.3)).astype(np.uint16))
    return root


@pytest.fixture(scope="module")
def page(playwright, site: Site):  # noqa: F811
    browser = launch(playwright)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    pg.goto(site.url)
    pg.wait_for_function(READY, timeout=BOOT_MS)
    yield pg
    browser.close()


def _fill_form(page, inputs: Path) -> None:
    page.click("#package-btn")
    page.wait_for_selector("#package-panel.open")
    page.set_input_files("#pkg-onnx", str(inputs / "blobs.onnx"))
    page.wait_for_function("document.body.dataset.package === 'inspected'", timeout=60_000)
    for selector, value in {**FORM}.items():
        page.fill(selector, value)
    for selector, value in SELECT.items():
        page.select_option(selector, value)
    page.set_input_files("#pkg-sample", str(inputs / "blobs.tif"))


def _build(page) -> None:
    page.evaluate("delete document.body.dataset.package")
    page.click("#pkg-build")
    page.wait_for_function("['built', 'error'].includes(document.body.dataset.package)", timeout=120_000)


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _without_sha256(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_sha256(v) for k, v in value.items() if k != "sha256"}
    if isinstance(value, list):
        return [_without_sha256(v) for v in value]
    return value


def _pixels(data: bytes, name: str) -> np.ndarray:
    if name.endswith(".npy"):
        return np.load(io.BytesIO(data))
    if name.endswith(".tif"):
        import tifffile

        return tifffile.imread(io.BytesIO(data))
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)), dtype=np.float64)


def test_form_reads_the_network_and_builds_the_cli_package(page, inputs: Path, tmp_path: Path, capsys,
                                                           shots):  # noqa: F811
    _fill_form(page, inputs)
    network = page.text_content("#pkg-network")
    assert "“raw”: any × 1 × any × any" in network and "“logits”: any × 2 × any × any" in network, network
    assert page.input_value("#pkg-input-axes") == "bcyx" and page.input_value("#pkg-output-axes") == "bcyx"
    page.evaluate("document.getElementById('package-panel').scrollTop = 0")
    page.screenshot(path=str(shots / "package-form.png"))
    _build(page)
    assert page.evaluate("document.body.dataset.package") == "built", page.text_content("#pkg-message")
    page.locator("#pkg-done").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "package-built.png"))
    with page.expect_download() as download:
        page.click("#pkg-download")
    assert download.value.suggested_filename == "tiny-blob-net.zip"
    form_zip = tmp_path / "form.zip"
    download.value.save_as(form_zip)

    cli_zip = tmp_path / "cli" / "tiny-blob-net.zip"
    shutil.copy(inputs / "blobs.onnx", tmp_path / "blobs.onnx")
    args = ["package", "--onnx", str(tmp_path / "blobs.onnx"), "--sample", str(inputs / "blobs.tif"), *CLI,
            "-o", str(cli_zip)]
    assert pyapp_main(args) == 0, capsys.readouterr().out
    shown = page.text_content("#pkg-command")
    assert shown.startswith("pyapp package --onnx blobs.onnx --sample blobs.tif --input-axes bcyx"), shown

    form, cli = _members(form_zip), _members(cli_zip)
    assert sorted(form) == sorted(cli)
    assert _without_sha256(yaml.safe_load(form["bioimageio.yaml"])) == _without_sha256(
        yaml.safe_load(cli["bioimageio.yaml"]))
    for name in ("weights.onnx", "README.md"):
        assert form[name] == cli[name], name
    for name in ("test_input.npy", "test_output.npy", "sample_input.tif", "sample_output.tif"):
        a, b = _pixels(form[name], name), _pixels(cli[name], name)
        assert a.shape == b.shape and a.dtype == b.dtype, name
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0, err_msg=name)
    assert np.abs(_pixels(form["cover.png"], "c.png") - _pixels(cli["cover.png"], "c.png")).max() <= 1
    # `pyapp test` runs its own event loop: outside this thread's (Playwright's)
    done = subprocess.run([sys.executable, "-c", "import sys; from pyapp.cli import main; sys.exit(main(sys.argv[1:]))",
                           "test", str(form_zip)], capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0 and "passed" in done.stdout, done.stdout + done.stderr
    if importlib.util.find_spec("bioimageio.core") is None:
        print("not checked: bioimageio test (bioimageio.core is not installed; the test extra has it)")
    else:  # bioimage.io's reference test, in its own process (it runs its own event loop too)
        ref = subprocess.run([sys.executable, "-c", "import sys; from bioimageio.core import test_model; "
                              "print(test_model(sys.argv[1]).status)", str(form_zip)],
                             capture_output=True, text=True, check=False)
        assert ref.stdout.strip().splitlines()[-1:] == ["passed"], ref.stdout[-2000:] + ref.stderr[-2000:]

    page.click("#pkg-use")
    page.wait_for_function("document.body.dataset.model === 'pkg-tiny-blob-net'", timeout=60_000)
    assert page.evaluate("document.getElementById('model').selectedOptions[0].textContent") == "Tiny blob net"
    # the model runs in the page as in CPython, tiled with its halo
    import tifffile

    from pyapp.runtime import ModelRunner
    from pyapp.spec import load

    image = tifffile.imread(inputs / "blobs.tif").astype(np.float32)
    got = page.evaluate("""async (x) => {
      const r = await window.pyapp.predict("pkg-tiny-blob-net", {data: new Float32Array(x), shape: [120, 100]},
                                           {axes: "yx", tile: {y: 64, x: 48}});
      return {shape: r.outputs[0].shape, data: Array.from(r.outputs[0].data)};
    }""", image.ravel().tolist())
    model = load(cli_zip)
    want = ModelRunner(model).predict_sync({"raw": image[None, None]}, tile={"y": 64, "x": 48})["logits"]
    np.testing.assert_allclose(np.asarray(got["data"]).reshape(got["shape"]), want, atol=1e-4, rtol=0)


@pytest.mark.parametrize(("selector", "value", "field", "words"), [
    ("#pkg-halo", "20", "pkg-halo", "Halo: 20 leaves nothing of the smallest tile"),
    ("#pkg-input-axes", "bcyxz", "pkg-input-axes", "Input axes: 'bcyxz' has 5 axes but the ONNX tensor has 4"),
    ("#pkg-name", "abc", "pkg-name", "Name: 'abc': a model name has 5 to 128 characters"),
    ("#pkg-output-channels", "a,b,c", "pkg-output-channels", "Output channel names: 3 names for 2 output channels"),
])
def test_inconsistent_input_is_refused_with_the_field_named(page, inputs: Path, shots, selector, value, field,  # noqa: F811
                                                            words):
    if page.evaluate("!document.querySelector('#package-panel.open')"):
        _fill_form(page, inputs)
    for sel, good in FORM.items():
        page.fill(sel, good)
    page.fill("#pkg-input-axes", "bcyx")
    page.fill(selector, value)
    _build(page)
    assert page.evaluate("document.body.dataset.package") == "error"
    assert page.text_content("#pkg-message").startswith(words), page.text_content("#pkg-message")
    assert page.evaluate("document.activeElement.id") == field
    assert page.get_attribute(f"#{field}", "aria-invalid") == "true"
    if field == "pkg-halo":
        page.locator("#pkg-message").scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "package-refused.png"))
    page.fill(selector, FORM.get(selector, "bcyx"))


def test_a_model_without_onnx_weights_says_how_to_convert(page, tmp_path_factory, serve_dir):
    root = tmp_path_factory.mktemp("no-onnx")
    folder = write_torch_package(root / "ts", "torchscript")
    shutil.make_archive(str(root / "served" / "torch-only"), "zip", folder)
    url = serve_dir(root / "served") + "/torch-only.zip"
    page.evaluate("document.getElementById('package-panel').classList.remove('open')")
    errors = int(page.evaluate("Number(document.body.dataset.errors || 0)"))
    page.click("#url-box summary")
    page.fill("#model-url", url)
    page.click("#load-url")
    line = wait_error(page, errors)
    assert "has no ONNX weights (it has torchscript)" in line and "pyapp convert MODEL --to onnx" in line, line
    result = page.evaluate("(u) => window.pyapp.predict(u, {data: new Float32Array(64 * 64), shape: [64, 64]})"
                           ".then(() => 'ran', (e) => e.message)", url)
    assert "no ONNX weights" in result and "pyapp convert" in result, result


def test_a_network_with_two_inputs_is_refused_at_the_network_field(page, inputs: Path, tmp_path: Path):
    import torch

    class Two(torch.nn.Module):
        def forward(self, a, b):
            return a + b

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Two(), (torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8)), str(tmp_path / "two.onnx"),
                          dynamo=False, opset_version=17, input_names=["a", "b"], output_names=["y"])
    page.evaluate("document.getElementById('package-panel').classList.add('open')")
    page.evaluate("delete document.body.dataset.package")
    page.set_input_files("#pkg-onnx", str(tmp_path / "two.onnx"))
    page.wait_for_function("document.body.dataset.package === 'error'", timeout=60_000)
    assert page.text_content("#pkg-message").startswith("Network: two.onnx has 2 inputs and 1 outputs")
    assert page.get_attribute("#pkg-onnx", "aria-invalid") == "true"
