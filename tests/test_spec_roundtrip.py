"""load -> dump (0.5) -> load gives equal objects, and bioimageio.spec accepts what we write."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
import yaml
from shared_paths import CORPUS, corpus_verdicts

from pyapp.cli import example_model
from pyapp.spec import dump, load, save, validate

VALID = [r["path"] for r in corpus_verdicts() if r["without_io_checks"] == "valid"]
SOURCES = [CORPUS / p for p in VALID] + [example_model()]
IDS = [p.parent.name + "/" + p.name for p in SOURCES]


@pytest.mark.parametrize("src", SOURCES, ids=IDS)
def test_load_dump_load_is_identity(src: Path, tmp_path: Path):
    first = load(src)
    target = tmp_path / "bioimageio.yaml"
    save(first, target)
    second = load(target)
    assert second == first
    assert dump(second) == dump(first)


@pytest.mark.parametrize("src", SOURCES, ids=IDS)
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_dump_is_valid_for_bioimageio_spec(src: Path, tmp_path: Path):
    spec = pytest.importorskip("bioimageio.spec", reason="bioimageio.spec not installed (dev extra)")
    target = tmp_path / "bioimageio.yaml"
    save(load(src), target)
    ref = spec.load_description(target, perform_io_checks=False)
    gc.collect()
    assert ref.validation_summary.status == "valid-format", ref.validation_summary.format()


def test_models_are_written_as_format_05(tmp_path: Path):
    old = CORPUS / "bioimageio-examples/models/unet2d_nuclei_broad/v0_4_9.bioimageio.yaml"
    data = yaml.safe_load(dump(load(old)))
    assert data["format_version"].startswith("0.5.")
    assert data["inputs"][0]["axes"][2] == {"type": "space", "id": "y", "size": 512}
    assert data["outputs"][0]["axes"][2]["size"] == {"tensor_id": "raw", "axis_id": "y", "offset": 0}


def test_save_is_atomic(tmp_path: Path):
    """A failing dump leaves an existing file untouched and no temporary file behind."""
    target = tmp_path / "bioimageio.yaml"
    target.write_text("keep me")

    class Broken:
        type = "model"

    with pytest.raises(AttributeError):
        save(Broken(), target)  # type: ignore[arg-type]
    assert target.read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["bioimageio.yaml"]


def test_example_model_is_valid_with_io_checks():
    assert validate(example_model()) == []
