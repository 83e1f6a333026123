#!/usr/bin/env bash
# WebGPU vs wasm vs CPython on a machine with a real GPU (one command): bash benchmarks/gpu.sh [--repeat N].
# Builds the site when needed, then runs benchmarks/gpu.py in headless Chromium with WebGPU enabled. It stops
# with exit code 2 on a software adapter. Nothing in the project depends on a GPU; figures go to stdout only.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
[ -f static/ort/ort.webgpu.min.mjs ] || PYTHONPATH=$PWD "$PY" build.py
PYTHONPATH=$PWD "$PY" benchmarks/gpu.py "$@"
