#!/usr/bin/env bash
# README command (b): install the test dependencies, build the offline Pyodide dist, run the whole suite.
# .ci/run calls this script verbatim. Installs need the package registries (PyPI, npm); the tests then run
# with the network cut (a fresh network namespace with only loopback) when we are root and can do so.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
PY=${PYTHON:-python3}

step() { printf '\n== %s\n' "$*"; }

step "system packages: headless Chromium for browser tests"
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "chromium/chromedriver missing and not root: install them (apt) for the browser tests" >&2
        exit 1
    fi
fi

step "python venv and test dependencies"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'

step "npm packages (Pyodide core, onnxruntime-web)"
npm ci --no-audit --no-fund --loglevel=error

step "build the site offline: static/ (Pyodide + our wheels, onnxruntime-web, web app, bundled models)"
.venv/bin/python build.py

step "ship: wheel + sdist, the wheel installed in a clean venv outside the checkout builds the site (zip)"
ROOT=$PWD
SHIP=$(mktemp -d /tmp/pyapp-ship.XXXXXX)
.venv/bin/python -m pip wheel -q --no-deps --no-build-isolation -w "$SHIP/dist" .
(cd "$SHIP" && "$ROOT/.venv/bin/python" -m build -q --sdist --no-isolation -o "$SHIP/dist" "$ROOT" >/dev/null)
tar tzf "$SHIP"/dist/pyapp-*.tar.gz > "$SHIP/sdist.txt"
grep -q '/web/index.html$' "$SHIP/sdist.txt" || { echo "the sdist lacks web/ (MANIFEST.in)" >&2; exit 1; }
"$PY" -m venv "$SHIP/venv"
"$SHIP/venv/bin/python" -m pip install -q "$(ls "$SHIP"/dist/pyapp-*.whl)[cpu]"
(cd "$SHIP" && venv/bin/pyapp build --out site --cache "$ROOT/build/cache" --zip site.zip | tail -n 2)
export PYAPP_SHIP_ZIP="$SHIP/site.zip"

offline() {
    # run "$@" without network (loopback only); fall back to the plain network when namespaces are unavailable
    if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
        unshare -n sh -c 'ip link set lo up 2>/dev/null || true; exec "$@"' sh "$@"
    else
        echo "(network namespaces unavailable: running with the network on)"
        "$@"
    fi
}

step "ruff"
.venv/bin/ruff check pyapp tests build.py benchmarks scripts

step "tests (network cut)"
export TMPDIR=${TMPDIR:-$PWD/build/tmp}
mkdir -p "$TMPDIR"
offline .venv/bin/python -m pytest tests -q -p no:cacheprovider --rt node,chrome "$@"
