#!/usr/bin/env bash
# Run every benchmark in turn (one command): bash benchmarks/run.sh. Figures go to stdout only.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
for b in validate_vs_bioimageio predict_vs_bioimageio ort_options tile_overhead engine; do
    echo "== $b"
    "$PY" "benchmarks/$b.py"
done
