"""The label-free nucleus detector of ``napari-czann-segment`` as a bioimage.io 0.5 package.

Facts read from the upstream files (PyPI ``napari-czann-segment==0.1.2``, BSD-3-Clause, Sebastian Rhode):

- ``_data/PGC_20X_nucleus_detector.czseg`` is a zip holding ``<guid>.model`` (ONNX, tf2onnx 1.9.2, opset 12)
  and ``<guid>.xml`` (ZEN/APEER model description 3.2.0). The XML says: classes ``background`` and ``nuc``,
  ``TotalTileHeight/Width`` 1024, ``BorderSize`` 64, ``ScaleInputsByBitdepth`` true, gray input.
- The ONNX graph: input ``input:0`` float32 ``[N, 1024, 1024, 1]`` (NHWC; only the batch is free), output
  ``Identity:0`` float32 ``[N, 1024, 1024, 2]``. Its last nodes are ReduceMax, Sub, Exp, ReduceSum, Div: the
  softmax over the two classes is *inside* the graph, so the description has no softmax postprocessing.
- The plugin scales a tile by ``1 / np.iinfo(dtype).max`` (``predict.py``), i.e. ``1/65535`` for uint16.
- The model is *label-free*: its input is a transmitted-light image (``_data/PGC_20X.czi``, 3675x2755
  uint16, 0.227 um pixels), from which it predicts where the nuclei are. It does not segment fluorescent
  nuclei (measured IoU ~0.02 on the DSB 2018 fluorescence example).

The ONNX bytes are shipped unchanged (their sha256 is the upstream one). The CZI sample is decoded by
:func:`read_czi`, a minimal reader for uncompressed single-subblock CZI files (the format of this sample).
"""

from __future__ import annotations

import io
import struct
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np

from .package import Pin, dist_file, file_ref, npy_bytes, write_package

MODEL_ID = "czann-nucleus"
CZANN = Pin("napari-czann-segment", "0.1.2")
PINS = (CZANN,)
CZSEG = "napari_czann_segment/_data/PGC_20X_nucleus_detector.czseg"
SAMPLE = "napari_czann_segment/_data/PGC_20X.czi"
SIZE = 1024
BITDEPTH_MAX = 65535


def read_czseg(data: bytes) -> tuple[bytes, dict[str, object]]:
    """The ONNX bytes and the XML facts (classes, tile size, border, scaling) of a ``.czseg``/``.czann`` zip."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        onnx_name = next(n for n in names if n.endswith(".model"))
        root = ET.fromstring(zf.read(next(n for n in names if n.endswith(".xml"))).decode("utf-8-sig"))
        onnx = zf.read(onnx_name)
    facts = {
        "name": root.findtext("ModelName"),
        "classes": [item.get("Name") for item in root.iter("Item") if item.get("LabelValue")],
        "tile": (int(root.findtext("TotalTileHeight") or 0), int(root.findtext("TotalTileWidth") or 0)),
        "border": int(root.findtext("BorderSize") or 0),
        "scale_by_bitdepth": (root.findtext("ScaleInputsByBitdepth") or "").lower() == "true",
    }
    return onnx, facts


def read_czi(data: bytes) -> np.ndarray:
    """The 2D gray image of an uncompressed, single-subblock CZI file (Gray8/Gray16) as ``(y, x)``.

    Follows the ZISRAW layout: the file header gives the directory position; the directory's one
    ``DV`` entry gives pixel type, compression, subblock position and the X/Y sizes; the subblock's data
    follows its (at least 256-byte) header and its metadata.

    Raises
    ------
    ValueError
        For anything else (several subblocks, compression, other pixel types).
    """
    if data[:10] != b"ZISRAWFILE":
        raise ValueError("not a CZI file")
    (dir_pos,) = struct.unpack_from("<q", data, 32 + 52)
    if data[dir_pos:dir_pos + 15] != b"ZISRAWDIRECTORY":
        raise ValueError("CZI directory segment not found")
    (count,) = struct.unpack_from("<i", data, dir_pos + 32)
    entry = dir_pos + 32 + 128
    pixel_type, pos, _, compression = struct.unpack_from("<iqii", data, entry + 2)
    (ndim,) = struct.unpack_from("<i", data, entry + 28)
    dims = {data[entry + 32 + 20 * i:entry + 36 + 20 * i].rstrip(b"\0").decode():
            struct.unpack_from("<iiif", data, entry + 36 + 20 * i) for i in range(ndim)}
    dtypes = {0: np.uint8, 1: np.dtype("<u2")}
    if count != 1 or compression != 0 or pixel_type not in dtypes:
        raise ValueError(f"unsupported CZI: {count} subblocks, compression {compression}, pixel type {pixel_type}")
    meta_size, _, data_size = struct.unpack_from("<iiq", data, pos + 32)
    start = pos + 32 + max(256, 16 + 32 + 20 * ndim) + meta_size
    ny, nx = dims["Y"][1], dims["X"][1]
    image = np.frombuffer(data, dtype=dtypes[pixel_type], count=ny * nx, offset=start)
    if data_size != image.nbytes:
        raise ValueError("CZI subblock size does not match its X/Y sizes")
    return image.reshape(ny, nx).astype(np.dtype(dtypes[pixel_type]).newbyteorder("="))


def sample_crop(image: np.ndarray) -> np.ndarray:
    """The centre ``1024 x 1024`` of the sample (about 35 nuclei), uint16 ``(y, x)``."""
    y0, x0 = (image.shape[0] - SIZE) // 2, (image.shape[1] - SIZE) // 2
    return np.ascontiguousarray(image[y0:y0 + SIZE, x0:x0 + SIZE])


def tiff_bytes(image: np.ndarray) -> bytes:
    """``image`` (y, x) as a TIFF file (tifffile, axes recorded), for the package's sample tensor."""
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, image, metadata={"axes": "YX"})
    return buf.getvalue()


def _readme(facts: dict[str, object], nucleus_fraction: float) -> str:
    return f"""# CZANN label-free nucleus detector (PGC, 20X)

Finds cell nuclei in a *transmitted-light* (label-free) microscope image: input one gray uint16 tile of
1024x1024 pixels, output per-pixel probabilities of `background` and `nucleus` (softmax computed inside the
network). Trained on primordial germ cell (PGC) cultures at 20X / NA 0.95 (0.227 um pixels); other
magnifications or fluorescence images are out of its domain.

## Provenance
- ONNX network and its description: `PGC_20X_nucleus_detector.czseg` (model `{facts["name"]}`, trained on
  APEER/ZEN) inside the PyPI wheel `{CZANN}` (https://github.com/sebi06/napari-czann-segment,
  BSD-3-Clause, Sebastian Rhode). `weights.onnx` is the network unchanged (tf2onnx, opset 12, NHWC).
- Upstream facts used: classes {facts["classes"]} (`nuc` is called `nucleus` here), tile
  {facts["tile"]}, border {facts["border"]} px (the halo here), inputs scaled by bit depth (uint16: 1/65535).
- Sample and test input: the centre 1024x1024 of `PGC_20X.czi` from the same wheel; the test output is
  what ONNX Runtime computes on it ({nucleus_fraction:.1%} of the pixels have nucleus probability > 0.5).

## Use
Axes follow the ONNX layout: batch, y, x, channel. Images larger than 1024x1024 are tiled with a 64 pixel
halo. Data is scaled by 1/65535: give 16-bit data; multiply 8-bit images by 257 first.

## Validation
`pyapp validate` and bioimageio.spec 0.5.12 (with IO checks) accept this package and `pyapp test` reproduces
the test output. On its own sample the mask covers a plausible fraction of the image in nucleus-sized blobs;
on fluorescence images (e.g. DSB 2018) it finds almost nothing (IoU about 0.02): that is out of its domain.

## License
BSD-3-Clause (napari-czann-segment, model and sample image).
"""


def build(folder: Path, cache: Path) -> Path:
    """Write the package into ``folder`` from the pinned wheel; returns its ``bioimageio.yaml``."""
    import onnxruntime as ort

    onnx, facts = read_czseg(dist_file(CZANN, CZSEG, cache))
    if facts["tile"] != (SIZE, SIZE) or not facts["scale_by_bitdepth"] or facts["classes"] != ["background", "nuc"]:
        raise ValueError(f"{CZSEG}: the model description changed: {facts}")
    crop = sample_crop(read_czi(dist_file(CZANN, SAMPLE, cache)))
    x = crop[None, :, :, None]
    session = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    feed = (x.astype(np.float32) * np.float32(1 / BITDEPTH_MAX)).astype(np.float32)
    probs = session.run(None, {session.get_inputs()[0].name: feed})[0].astype(np.float32)
    files = {"weights.onnx": onnx, "test_input.npy": npy_bytes(x), "test_output.npy": npy_bytes(probs),
             "sample_input.tif": tiff_bytes(crop),
             "README.md": _readme(facts, float((probs[..., 1] > 0.5).mean())).encode()}
    border = int(str(facts["border"]))
    space = [{"type": "space", "id": a, "size": SIZE, "unit": "micrometer", "scale": 0.227} for a in "yx"]
    out_space = [{"type": "space", "id": a, "halo": border, "unit": "micrometer", "scale": 0.227,
                  "size": {"tensor_id": "image", "axis_id": a}} for a in "yx"]
    rdf = {
        "type": "model", "format_version": "0.5.4", "name": "CZANN label-free nucleus detector (PGC 20X)",
        "description": "Nucleus probability from a transmitted-light (label-free) image; napari-czann-segment's "
                       "PGC 20X model.",
        "authors": [{"name": "Sebastian Rhode"}],
        "cite": [{"text": "napari-czann-segment: semantic segmentation with CZANN models in napari",
                  "url": "https://github.com/sebi06/napari-czann-segment"}],
        "license": "BSD-3-Clause", "tags": ["segmentation", "nuclei", "label-free", "brightfield", "2d", "czann"],
        "documentation": "README.md", "git_repo": "https://github.com/sebi06/napari-czann-segment",
        "inputs": [{
            "id": "image", "description": "gray transmitted-light image, uint16",
            "axes": [{"type": "batch"}, *space, {"type": "channel", "channel_names": ["gray"]}],
            "test_tensor": file_ref("test_input.npy", files), "sample_tensor": file_ref("sample_input.tif", files),
            "data": {"type": "uint16"},
            "preprocessing": [{"id": "ensure_dtype", "kwargs": {"dtype": "float32"}},
                              {"id": "scale_linear", "kwargs": {"gain": 1 / BITDEPTH_MAX}},
                              {"id": "ensure_dtype", "kwargs": {"dtype": "float32"}}]}],
        "outputs": [{
            "id": "probabilities", "description": "softmax over background and nucleus (inside the network)",
            "axes": [{"type": "batch"}, *out_space, {"type": "channel", "channel_names": ["background", "nucleus"]}],
            "test_tensor": file_ref("test_output.npy", files), "data": {"type": "float32", "range": [0.0, 1.0]}}],
        "weights": {"onnx": {**file_ref("weights.onnx", files), "opset_version": 12,
                             "comment": f"unchanged from {CZSEG.rsplit('/', 1)[1]} in {CZANN}"}},
        "config": {"pyapp": {"kind": "segmentation", "sample": "sample_input.tif", "scale_inputs_by_bitdepth": True}},
    }
    return write_package(folder, rdf, files)
