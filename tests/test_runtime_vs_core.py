"""Tiled prediction equals bioimageio.core 0.11's tiled prediction (the reference runs here)."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from shared_paths import GOLD, SHARED

from pyapp.io import read_image
from pyapp.runtime import ModelRunner
from pyapp.spec import load


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning",
                            "ignore::UserWarning", "ignore::DeprecationWarning", "ignore::FutureWarning")
def test_tiled_2048_equals_bioimageio_core():
    core = pytest.importorskip("bioimageio.core", reason="bioimageio.core not installed (dev extra)")
    from bioimageio.core.digest_spec import create_sample_for_model

    img, _ = read_image(SHARED / "data" / "nuclei-dsb2018" / "img2d.tif")
    big = np.pad(img, ((0, 2048 - 512),) * 2, mode="symmetric").astype(np.float32)[None, None]
    ref_model = core.load_description(GOLD / "bioimageio.yaml", perform_io_checks=False)
    pipeline = core.create_prediction_pipeline(ref_model, weight_format="onnx")
    sample = create_sample_for_model(ref_model, inputs={"raw": big}, sample_id="s")
    expected = pipeline.predict_sample_with_blocking(sample).members["probability"].data.to_numpy()
    del pipeline, sample
    gc.collect()
    ours = ModelRunner(load(GOLD)).predict_sync({"raw": big})["probability"]
    assert ours.shape == expected.shape == (1, 1, 2048, 2048)
    np.testing.assert_allclose(ours, expected, atol=1e-4, rtol=0)
