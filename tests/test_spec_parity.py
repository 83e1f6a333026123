"""Validator parity with bioimageio.spec 0.5.12 on rules the shared corpus does not exercise.

Each case in ``tests/data/spec_parity`` was written from the spec's rules (its first line says which); the table
below records the verdict and the field our first error names. The live test runs bioimageio.spec on the same
files (without IO checks: the cases ship no files) and demands the same verdict.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from pyapp.cli import main as pyapp_main
from pyapp.spec import load, validate

DATA = Path(__file__).parent / "data" / "spec_parity"
#: case -> field path of our first error, or None for a valid description.
CASES = {
    "v0_3_model.yaml": None,
    "v0_3_6_reference_input.yaml": "outputs[0].shape.reference_tensor",
    "v0_4_base.yaml": None,
    "v0_4_clip_null.yaml": "outputs[0].postprocessing[0].kwargs.min",
    "v0_4_data_range_null.yaml": "outputs[0].data_range",
    "v0_4_download_url_relative.yaml": "download_url",
    "v0_4_scale_range_null.yaml": "inputs[0].preprocessing[0].kwargs.max_percentile",
    "v0_4_unknown_field.yaml": "language",
    "v0_4_zmuv_default_mode.yaml": "inputs[0].preprocessing[0].kwargs",
    "v0_5_base.yaml": None,
    "v0_5_attachments_files.yaml": "attachments",
    "v0_5_doi_url.yaml": "cite[0].doi",
    "v0_5_leftover_04_fields.yaml": "inputs[0].data_type",
    "v0_5_leftover_04_top.yaml": "test_inputs",
    "v0_5_remote_test_tensor.yaml": None,
    "v0_5_short_name.yaml": "name",
    "v0_5_sigmoid_kwargs.yaml": "outputs[0].postprocessing[0].kwargs",
}


def test_every_case_file_is_in_the_table():
    assert sorted(p.name for p in DATA.glob("*.yaml")) == sorted(CASES)


@pytest.mark.parametrize(("case", "path"), CASES.items(), ids=list(CASES))
def test_verdict_and_field_path(case: str, path: str | None):
    errors = [i for i in validate(DATA / case, io_checks=False) if i.severity == "error"]
    if path is None:
        assert errors == []
    else:
        assert errors and errors[0].path == path, [str(e) for e in errors]
        assert "\n" not in errors[0].message


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_verdict_equals_live_bioimageio_spec(case: str):
    spec = pytest.importorskip("bioimageio.spec", reason="bioimageio.spec not installed (test extra)")
    ref = spec.load_description(DATA / case, perform_io_checks=False)
    gc.collect()
    ref_valid = ref.validation_summary.status == "valid-format"
    ours_valid = not any(i.severity == "error" for i in validate(DATA / case, io_checks=False))
    assert ours_valid == ref_valid, ref.validation_summary.format()


def test_03_model_is_upgraded_like_bioimageio_spec():
    model = load(DATA / "v0_3_model.yaml")
    assert model.original_format_version == "0.3.1"
    assert [a["name"] for a in model.authors] == ["Ada Lovelace", "Alan Turing"]
    assert set(model.weights) == {"pytorch_state_dict", "torchscript"}
    arch = model.weights["pytorch_state_dict"].extra["architecture"]
    assert arch["source"] == "unet2d.py" and arch["callable"] == "UNet2d"
    assert arch["kwargs"] == {"input_channels": 1, "output_channels": 1} and len(arch["sha256"]) == 64
    y = model.outputs[0].axis("y")
    assert (y.size.tensor_id, y.halo) == ("raw", 16)
    assert "language" not in model.other and "framework" not in model.other


def test_remote_file_offline_is_a_warning_not_a_crash(capsys):
    issues = validate(DATA / "v0_5_remote_test_tensor.yaml", io_checks=True)
    remote = [i for i in issues if i.path == "inputs[0].test_tensor"]
    assert [i.severity for i in remote] == ["warning"] and "not checked offline" in remote[0].message
    assert pyapp_main(["validate", str(DATA / "v0_5_remote_test_tensor.yaml")]) == 1  # its local files are absent
    out = capsys.readouterr().out
    assert "Traceback" not in out and "not checked offline" in out
