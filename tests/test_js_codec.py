"""The JS rpc codec (web/pyapp/rpc-codec.js) through node: the shared vectors round-trip, every refusal vector is
refused with CodecError, and fuzzed messages (Hypothesis-generated headers plus seeded mutations of the vectors)
decode or raise CodecError only, within a time limit (no hang)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "data" / "rpc_vectors.json"
CHECK = ROOT / "tests" / "js" / "codec_check.mjs"

RTYPES = ["ndarray", "bytes", "method", "interface", "error", "int", "float", "dict", "teapot"]
KEYS = st.sampled_from(["a", "_rtype", "_rvalue", "_rshape", "_rdtype", "_rname", "__proto__", "toString",
                        "constructor", "x"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False,
                    allow_infinity=False), st.text(max_size=8), st.sampled_from([*RTYPES, "float32", "uint8", "nan"]))
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
                       max_leaves=30)
CASE = st.fixed_dictionaries({
    "data": JSONISH,
    "v": st.sampled_from([1, 1, 1, 2, 0]),
    "buffers": st.lists(st.binary(max_size=16), max_size=3),
})


def _cases() -> list[dict]:
    out: list[dict] = []

    @settings(max_examples=400, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(CASE)
    def collect(case: dict) -> None:
        header = json.dumps({"v": case["v"], "n": len(case["buffers"]), "data": case["data"]}, separators=(",", ":"))
        out.append({"header": header, "buffers": [b.hex() for b in case["buffers"]]})

    collect()
    return out


def test_js_codec_vectors_refusals_and_fuzz(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.fail("node is needed to test the JS codec", pytrace=False)
    cases = tmp_path / "cases.jsonl"
    cases.write_text("\n".join(json.dumps(c) for c in _cases()))
    done = subprocess.run(["node", "--no-warnings", str(CHECK), str(VECTORS), str(cases), "7", "3000"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    print(f"\nJS codec: {report['cases']} fuzz cases, {report['decoded']} decoded, {report['refusedCases']} refused")
    assert report["roundTrip"] == [], report["roundTrip"]
    assert report["notRefused"] == [], report["notRefused"]
    assert report["other"] == [], report["other"]
    assert report["decoded"] > 100 and report["refusedCases"] > 100
    refusals = json.loads(VECTORS.read_text()).get("refuse", [])
    assert len(report["refused"]) == len(refusals)
