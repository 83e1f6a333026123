"""Paths to the read-only shared corpus next to the project (tests only; the product never reads it)."""

from __future__ import annotations

from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = SHARED / "corpus"
EXAMPLES = CORPUS / "bioimageio-examples"
GOLD = EXAMPLES / "models" / "unet2d_nuclei_broad"


def corpus_verdicts() -> list[dict[str, str]]:
    """Rows of the reference verdict table (bioimageio.spec 0.5.12, offline)."""
    path = CORPUS / "verdicts-bioimageio-spec.tsv"
    if not path.exists():
        return []
    # split on "\n" only: some fields carry a stray "\r"
    text = path.read_bytes().decode("utf-8")
    lines = [[f.strip() for f in line.split("\t")] for line in text.split("\n") if line.strip()]
    header, rows = lines[0], lines[1:]
    return [dict(zip(header, row, strict=False)) for row in rows]
