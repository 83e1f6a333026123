"""Random mutations of valid descriptions only ever give Issues or a SpecError, never another exception."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shared_paths import CORPUS, corpus_verdicts

from pyapp.cli import example_model
from pyapp.spec import Issue, SpecError, dump, load, load_with_issues

SOURCES = [CORPUS / r["path"] for r in corpus_verdicts()] + [example_model()]
BASES = [yaml.safe_load(Path(p).read_text()) for p in SOURCES]
SETTINGS = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

WEIRD = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True), st.text(max_size=8),
    st.lists(st.integers(-2, 3), max_size=4), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.sampled_from(["unknown_op", "0.3.0", "0.6.1", "b", "bcyx", "channel", "../x.npy", "http://x/y.npy"]),
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key/index path in a YAML tree."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(data: dict, path: tuple, action: str, value: Any) -> dict:
    data = copy.deepcopy(data)
    if not path:
        return data
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if action == "drop":
        del parent[key]
    elif action == "replace":
        parent[key] = value
    else:  # duplicate a list entry or a mapping value under a new key
        if isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        else:
            parent[f"{key}_copy"] = copy.deepcopy(parent[key])
    return data


def _check(text: bytes) -> None:
    descr, issues, _ = load_with_issues(text)
    assert all(isinstance(i, Issue) for i in issues)
    assert (descr is None) == any(i.severity == "error" for i in issues)
    try:
        loaded = load(text)
    except SpecError as err:
        assert err.issues and "\n" not in str(err)
        return
    # whatever loads must also dump and load back to the same object
    assert load(dump(loaded).encode()) == loaded


@SETTINGS
@given(st.data())
def test_mutated_descriptions_give_issues_not_crashes(data):
    base = data.draw(st.sampled_from(BASES))
    path = data.draw(st.sampled_from(_paths(base)))
    action = data.draw(st.sampled_from(["drop", "replace", "duplicate"]))
    mutated = _mutate(base, path, action, data.draw(WEIRD))
    _check(yaml.safe_dump(mutated).encode())


@SETTINGS
@given(st.sampled_from(SOURCES), st.integers(0, 4000), st.binary(max_size=3))
def test_broken_yaml_gives_issues_not_crashes(src, cut, junk):
    text = Path(src).read_bytes()
    _check(text[:cut] + junk + text[cut + 1:])


def test_unknown_op_is_named():
    data = copy.deepcopy(BASES[-1])
    data["inputs"][0]["preprocessing"][0]["id"] = "sharpen"
    issues = load_with_issues(yaml.safe_dump(data).encode())[1]
    assert [str(i) for i in issues if i.severity == "error"] == [
        "error: inputs[0].preprocessing[0].id: unknown processing 'sharpen'; expected one of binarize, clip, "
        "ensure_dtype, fixed_zero_mean_unit_variance, scale_linear, scale_range, sigmoid, softmax, "
        "zero_mean_unit_variance"
    ]


def test_bad_size_is_named_with_its_path():
    data = copy.deepcopy(BASES[-1])
    data["inputs"][0]["axes"][2]["size"]["min"] = 0
    issues = load_with_issues(yaml.safe_dump(data).encode())[1]
    assert "error: inputs[0].axes[2].size.min: must be >= 1, got 0" in [str(i) for i in issues]


def test_spec_error_is_one_line_naming_file_and_field(tmp_path):
    bad = tmp_path / "rdf.yaml"
    bad.write_text(yaml.safe_dump({**BASES[-1], "weights": {"onnx": {"opset_version": 17}}}))
    try:
        load(bad)
    except SpecError as err:
        assert str(err).startswith(f"{bad}: weights.onnx.source: field required")
        assert "\n" not in str(err)
    else:
        raise AssertionError("an invalid description loaded")
