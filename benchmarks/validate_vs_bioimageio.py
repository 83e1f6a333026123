"""Whole-process wall time of `pyapp validate` vs `bioimageio validate-format` on the same description.

Run: ``.venv/bin/python benchmarks/validate_vs_bioimageio.py [FILE] [--repeat N]``. Both run offline in
the same environment; the ratio (pyapp / bioimageio) is the figure to watch (goal: <= 0.3).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[2] / "shared/corpus/bioimageio-examples/models/unet2d_nuclei_broad"


def _time(cmd: list[str], repeat: int) -> float:
    """Median wall time of ``cmd`` over ``repeat`` runs (its exit code is not judged: both find errors)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=str(DEFAULT / "bioimageio.yaml"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bindir = Path(sys.executable).parent
    ours = [str(bindir / "pyapp"), "validate", args.file]
    ref_exe = bindir / "bioimageio"
    if not ref_exe.exists() and not shutil.which("bioimageio"):
        print("bioimageio (bioimageio.core) is not installed: pip install -e '.[test]'", file=sys.stderr)
        return 2
    ref = [str(ref_exe if ref_exe.exists() else shutil.which("bioimageio")), "validate-format", args.file]
    t_ours, t_ref = _time(ours, args.repeat), _time(ref, args.repeat)
    print(f"file: {args.file}")
    print(f"pyapp validate            median {t_ours * 1000:8.1f} ms")
    print(f"bioimageio validate-format median {t_ref * 1000:8.1f} ms")
    print(f"ratio pyapp/bioimageio: {t_ours / t_ref:.3f} (goal <= 0.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
