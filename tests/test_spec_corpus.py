"""Our verdicts on the shared bioimage.io example corpus equal bioimageio.spec's."""

from __future__ import annotations

import gc

import pytest
from shared_paths import CORPUS, EXAMPLES, GOLD, corpus_verdicts

from pyapp.spec import load, validate

ROWS = corpus_verdicts()
IDS = [r["path"].removeprefix("bioimageio-examples/") for r in ROWS]


def _verdict(issues) -> str:
    return "invalid" if any(i.severity == "error" for i in issues) else "valid"


def test_corpus_table_is_complete():
    assert len(ROWS) == 16, "the verdict table should list the 16 corpus descriptions"


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_verdict_with_io_checks(row):
    assert _verdict(validate(CORPUS / row["path"], io_checks=True)) == row["with_io_checks"]


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_verdict_without_io_checks(row):
    assert _verdict(validate(CORPUS / row["path"], io_checks=False)) == row["without_io_checks"]


@pytest.mark.parametrize("row", ROWS, ids=IDS)
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_verdict_equals_live_bioimageio_spec(row):
    """Run the reference validator here (without IO checks: with them it needs the network).

    bioimageio.spec leaves file handles open; they are collected here so the warning stays in this test.
    """
    spec = pytest.importorskip("bioimageio.spec", reason="bioimageio.spec not installed (dev extra)")
    ref = spec.load_description(CORPUS / row["path"], perform_io_checks=False)
    gc.collect()
    ref_valid = ref.validation_summary.status == "valid-format"
    assert _verdict(validate(CORPUS / row["path"], io_checks=False)) == ("valid" if ref_valid else "invalid")


def test_gold_model_reports_only_missing_files_and_remote_weights():
    issues = validate(GOLD / "bioimageio.yaml")
    errors = {i.path: i.message for i in issues if i.severity == "error"}
    warnings = [i for i in issues if i.severity == "warning"]
    assert errors == {
        "documentation": "missing file 'README.md'",
        "weights.pytorch_state_dict.architecture.source": "missing file 'unet2d.py'",
        "weights.torchscript.source": "missing file 'weights.pt'",
    }
    assert [w.path for w in warnings] == ["weights.pytorch_state_dict.source"]
    assert "not checked offline" in warnings[0].message


def test_sha256_mismatch_is_reported():
    issues = validate(GOLD / "invalid_v0_4_0_duplicate_tensor_names.bioimageio.yaml")
    assert any("sha256 mismatch for 'weights.onnx'" in i.message for i in issues)
    assert any(i.path == "outputs[0].id" and "duplicate tensor id 'data'" in i.message for i in issues)


def test_04_is_normalised_like_bioimageio_spec():
    """The 0.4.9 gold model converts to the same tensors and processing as its 0.5 twin."""
    old = load(GOLD / "v0_4_9.bioimageio.yaml")
    new = load(GOLD / "bioimageio.yaml")
    assert old.original_format_version == "0.4.9"
    for a, b in zip(old.inputs + old.outputs, new.inputs + new.outputs, strict=True):
        assert a.id == b.id
        # the 0.5 twin pins batch size 1; bioimageio.spec converts a 0.4 batch axis to "any size"
        assert [(x.id, x.type, x.fixed_size if x.type != "batch" else None, x.halo) for x in a.axes] == [
            (x.id, x.type, x.fixed_size if x.type != "batch" else None, x.halo) for x in b.axes
        ]
        assert [x.size for x in a.axes[2:]] == [x.size for x in b.axes[2:]]
    pre = [p.id for p in old.inputs[0].preprocessing]
    assert pre == ["ensure_dtype", "zero_mean_unit_variance", "ensure_dtype"]
    assert old.inputs[0].preprocessing[1].kwargs == {"axes": ["y", "x"]}
    assert [p.id for p in old.outputs[0].postprocessing] == ["sigmoid", "ensure_dtype"]


def test_04_implicit_shapes_and_parameterized_sizes():
    from pyapp.spec import ParameterizedSize, SizeReference

    stardist = load(EXAMPLES / "models" / "stardist_example_model" / "v0_4.bioimageio.yaml")
    y = stardist.inputs[0].axis("y")
    assert y.size == ParameterizedSize(80, 16)
    out = stardist.outputs[0]
    assert len(out.axis("channel").channel_names) == 33
    assert out.axis("y").size == SizeReference("input", "y", 0) and out.axis("y").halo == 32
    assert stardist.inputs[0].preprocessing[1].kwargs == {
        "axes": ["y", "x"], "min_percentile": 1.0, "max_percentile": 99.8,
    }
    expanded = load(GOLD / "expand_output_shape_v0_4.bioimageio.yaml")
    assert expanded.outputs[0].axis("z").size == 1
