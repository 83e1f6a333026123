"""Hardened loading in pyapp.spec: the one containment check, the size limits, and validate never raising.

Pure Python (no subprocess, no network): runs in CPython and inside Pyodide (tests/browser/test_core_in_pyodide.py).
The CLI under a memory limit is tested in tests/test_hardening.py.
"""

from __future__ import annotations

import io
import shutil
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyapp.cli import example_model
from pyapp.spec import Issue, MemoryRoot, SourceError, SpecError, load, load_with_issues, validate
from pyapp.spec._source import DirRoot, UrlRoot, ZipRoot, package_path

EXAMPLE = example_model()
BASE = yaml.safe_load(EXAMPLE.read_text())
LAUGHS = "\n".join(
    ["type: model", "format_version: 0.5.4", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)] + ["name: *a9"]).encode()


def errors(issues: list[Issue]) -> dict[str, str]:
    return {i.path: i.message for i in issues if i.severity == "error"}


def copy_example(tmp_path: Path, edit=None) -> Path:
    pkg = tmp_path / "pkg"
    shutil.copytree(EXAMPLE.parent, pkg)
    if edit is not None:
        data = yaml.safe_load((pkg / "bioimageio.yaml").read_text())
        edit(data)
        (pkg / "bioimageio.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return pkg


# ---- the containment check --------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), [
    ("weights.onnx", "weights.onnx"), ("./a//b.npy", "a/b.npy"), ("sub/./x.npy", "sub/x.npy"),
])
def test_package_path_normalises(name: str, expected: str) -> None:
    assert package_path(name) == expected


@pytest.mark.parametrize("name", [
    "../x", "a/../../x", "a/..", "/etc/passwd", "C:/x", "c:x", "a\\..\\x", "x\x00y", "", " ", ".", "./", 5, None,
])
def test_package_path_refuses_names_leaving_the_package(name: Any) -> None:
    with pytest.raises(SourceError) as info:
        package_path(name)
    assert "\n" not in str(info.value)


def test_every_root_kind_applies_the_check(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    (tmp_path / "in" / "ok.txt").write_text("ok")
    (tmp_path / "in" / "link.txt").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "in" / "inner.txt").symlink_to(tmp_path / "in" / "ok.txt")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("d/ok.txt", "ok")
        zf.writestr("secret.txt", "secret")
    roots = [DirRoot(tmp_path / "in"), ZipRoot(buf.getvalue(), "d/"),
             MemoryRoot({"ok.txt": b"ok", "../secret.txt": b"x"})]
    for root in roots:
        assert root.read("ok.txt") == b"ok" and root.exists("./ok.txt") in (True, False)
        for bad in ("../secret.txt", "/secret.txt"):
            with pytest.raises(SourceError, match=r"inside the package|relative path"):
                root.read(bad)
    assert DirRoot(tmp_path / "in").read("inner.txt") == b"ok"  # a link that stays inside is fine
    with pytest.raises(SourceError, match="out of the package"):
        DirRoot(tmp_path / "in").read("link.txt")
    with pytest.raises(SourceError, match="inside the package"):
        UrlRoot("https://example.org/m/rdf.yaml").url("../../other/weights.onnx")


@pytest.mark.parametrize("source", ["../outside.npy", "/etc/hostname", "link.npy", "sub/../../outside.npy"])
def test_io_checks_refuse_files_outside(tmp_path: Path, source: str) -> None:
    def edit(data: dict) -> None:
        data["documentation"] = source
    pkg = copy_example(tmp_path, edit)
    (tmp_path / "outside.npy").write_bytes(b"x")
    (pkg / "link.npy").symlink_to(tmp_path / "outside.npy")
    message = errors(validate(pkg))["documentation"]
    assert source in message and ("inside the package" in message or "out of the package" in message
                                  or "relative path" in message)


def test_package_folder_whose_description_links_outside(tmp_path: Path) -> None:
    (tmp_path / "secret.yaml").write_text("type: model\nname: secret\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "rdf.yaml").symlink_to(tmp_path / "secret.yaml")
    [issue] = validate(tmp_path / "pkg")
    assert "out of the package" in issue.message


def test_zip_symlink_member_is_not_read() -> None:
    buf = io.BytesIO()
    text = EXAMPLE.read_text().replace("documentation: README.md", "documentation: link.md")
    with zipfile.ZipFile(buf, "w") as zf:
        for f in EXAMPLE.parent.iterdir():
            zf.writestr(f.name, text if f.name == "bioimageio.yaml" else f.read_bytes())
        link = zipfile.ZipInfo("link.md")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")
    assert "symbolic link" in errors(validate(buf.getvalue()))["documentation"]


# ---- size limits --------------------------------------------------------------------------------------------


def test_billion_laughs_size_recursion_and_depth_are_refused_quickly() -> None:
    for text, fragment in [
        (LAUGHS, "PYAPP_MAX_YAML_NODES"),
        (b"type: model\nx:\n" + b"- a\n" * 70_000, "PYAPP_MAX_YAML_BYTES"),  # 280 kB: ~5 s of pure-Python parsing
        (b"type: model\na: &x [*x]\n", "refers to itself"),
        (b"a: " + b"[" * 150 + b"]" * 150, "PYAPP_MAX_YAML_DEPTH"),
        (b"a: " + b"[" * 20000 + b"]" * 20000, "deep"),
    ]:
        issues = validate(text)
        assert len(issues) == 1 and fragment in issues[0].message, (text[:40], issues)
        with pytest.raises(SpecError, match=fragment):
            load(text)


def test_limits_are_raised_and_lowered_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    text = EXAMPLE.read_bytes()
    monkeypatch.setenv("PYAPP_MAX_YAML_BYTES", "100")
    assert "PYAPP_MAX_YAML_BYTES" in validate(text, io_checks=False)[0].message
    monkeypatch.setenv("PYAPP_MAX_YAML_BYTES", "1_000_000")
    monkeypatch.setenv("PYAPP_MAX_YAML_NODES", "50")
    assert "PYAPP_MAX_YAML_NODES" in validate(text, io_checks=False)[0].message
    monkeypatch.setenv("PYAPP_MAX_YAML_NODES", "not a number")  # ignored: the default applies
    assert not errors(validate(EXAMPLE))
    monkeypatch.setenv("PYAPP_MAX_FILE_BYTES", "10")
    assert "PYAPP_MAX_FILE_BYTES" in errors(validate(EXAMPLE))["weights.onnx.source"]


@pytest.mark.parametrize(("text", "expected"), [
    ("2000000", 2_000_000), ("1_000_000", 1_000_000), ("500M", 500_000_000), ("8GiB", 8 * 2**30), ("8GB", 8 * 10**9),
    ("3 MiB", 3 * 2**20), ("12kb", 12_000), ("0", None), ("-5", None), ("1.5G", None), ("lots", None), ("", None),
])
def test_limit_amounts(monkeypatch: pytest.MonkeyPatch, text: str, expected: int | None) -> None:
    from pyapp.spec._limits import Limits, current

    monkeypatch.setenv("PYAPP_MAX_IMAGE_BYTES", text)
    assert current().image_bytes == (expected or Limits().image_bytes)


def _model04(channels: int, offset: int = 0) -> dict[str, Any]:
    return {
        "type": "model", "format_version": "0.4.10", "name": "channels", "description": "d",
        "authors": [{"name": "a"}], "cite": [{"text": "t", "doi": "10.1/x"}], "license": "MIT",
        "inputs": [{"name": "raw", "axes": "bcyx", "data_type": "float32",
                    "shape": {"min": [1, channels, 16, 16], "step": [0, 0, 8, 8]}}],
        "outputs": [{"name": "out", "axes": "bcyx", "data_type": "float32",
                     "shape": {"reference_tensor": "raw", "scale": [1, 2, 1, 1], "offset": [0, offset, 0, 0]}}],
        "test_inputs": ["a.npy"], "test_outputs": ["b.npy"], "weights": {"onnx": {"source": "w.onnx"}},
    }


def test_declared_channels_are_capped_before_conversion(monkeypatch: pytest.MonkeyPatch) -> None:
    issues = errors(validate(yaml.safe_dump(_model04(300_000_000)).encode(), io_checks=False))
    assert "300,000,000 channels" in issues["inputs[0].shape"] and "PYAPP_MAX_CHANNELS" in issues["inputs[0].shape"]
    assert "600,000,000 channels" in issues["outputs[0].shape"]  # scale 2 × 300 M
    issues = errors(validate(yaml.safe_dump(_model04(3, offset=150_000_000)).encode(), io_checks=False))
    assert list(issues) == ["outputs[0].shape"] and "300,000,006 channels" in issues["outputs[0].shape"]
    data = dict(BASE, inputs=[dict(BASE["inputs"][0])])
    data["inputs"][0]["axes"] = [dict(a) for a in BASE["inputs"][0]["axes"]]
    data["inputs"][0]["axes"][1]["channel_names"] = [f"c{i}" for i in range(10)]
    monkeypatch.setenv("PYAPP_MAX_CHANNELS", "8")
    assert "10 channels" in errors(validate(yaml.safe_dump(data).encode(), io_checks=False))["inputs[0].axes"]
    monkeypatch.setenv("PYAPP_MAX_CHANNELS", "16")
    assert "inputs[0].axes" not in errors(validate(yaml.safe_dump(data).encode(), io_checks=False))


def _claim_size(zip_bytes: bytes, member: str, size: int) -> bytes:
    """Patch the local and central headers of ``member`` to claim ``size`` uncompressed bytes."""
    data = bytearray(zip_bytes)
    for sig, offset, name_at in ((b"PK\x01\x02", 24, 46), (b"PK\x03\x04", 22, 30)):
        start = 0
        while (start := data.find(sig, start)) >= 0:
            if data[start + name_at:start + name_at + len(member)] == member.encode():
                struct.pack_into("<I", data, start + offset, size)
            start += 4
    return bytes(data)


def test_zip_entries_are_checked_before_reading() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in EXAMPLE.parent.iterdir():
            zf.write(f, f.name)
    bomb = _claim_size(buf.getvalue(), "weights.onnx", 4_000_000_000)
    message = errors(validate(bomb))["weights.onnx.source"]
    assert "4,000,000,000" in message and "PYAPP_MAX_FILE_BYTES" in message
    issues = validate(_claim_size(buf.getvalue(), "bioimageio.yaml", 3_000_000_000))
    assert len(issues) == 1 and "PYAPP_MAX_YAML_BYTES" in issues[0].message


def test_zip_with_too_many_members(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in EXAMPLE.parent.iterdir():
            zf.write(f, f.name)
        for i in range(20):
            zf.writestr(f"junk/{i}", b"")
    assert not errors(validate(buf.getvalue()))
    monkeypatch.setenv("PYAPP_MAX_ZIP_ENTRIES", "10")
    [issue] = validate(buf.getvalue())
    assert "entries in the zip (25)" in issue.message and "PYAPP_MAX_ZIP_ENTRIES" in issue.message


# ---- validate never raises ---------------------------------------------------------------------------------


def test_unexpected_failures_become_issues(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyapp.spec._load as load_module

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(load_module, "check_files", broken)
    issues = validate(EXAMPLE)
    assert errors(issues) == {"": "cannot check this description: disk on fire"}
    monkeypatch.setattr(load_module, "open_source", lambda *a, **k: (_ for _ in ()).throw(MemoryError()))
    assert [i.message for i in validate(EXAMPLE)] == [f"{EXAMPLE}: cannot read: out of memory"]


HOSTILE = [
    b"\n*undefined_alias\n", b"\n&a x: *a\n", b"\n!!python/object:os.system {}\n", b"\n" + b"[" * 300,
    b"\nname: &n [" + b"*n, " * 5 + b"]\n", b"\x00\xff", b"\n- list\n", b"\n  bad: indent\n", b"{{{", b"\t",
    b"\ndocumentation: ../../etc/passwd\n", b"\ncovers: [/etc/passwd]\n", b"\nformat_version: 0.4.10\n",
    b"\nformat_version: 9.9.9\n", b"\ninputs: *x\n", b"\n<<: {a: 1}\n", b"\n? [complex, key]\n: v\n",
]
FUZZ = settings(max_examples=60, deadline=5000, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated_yaml(draw: st.DrawFn) -> bytes:
    text = EXAMPLE.read_bytes()
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "byte"]))
        if action == "insert":
            text = text[:at] + draw(st.sampled_from(HOSTILE) | st.binary(max_size=8)) + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)):]
        else:
            text = text[:at] + bytes([draw(st.integers(0, 255))]) + text[at + 1:]
    return text


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pkg = tmp_path_factory.mktemp("fuzz") / "pkg"
    shutil.copytree(EXAMPLE.parent, pkg)
    return pkg


@FUZZ
@given(text=mutated_yaml())
def test_fuzz_mutated_yaml_gives_issues_only(fuzz_dir: Path, text: bytes) -> None:
    (fuzz_dir / "bioimageio.yaml").write_bytes(text)
    for src in (text, fuzz_dir):
        descr, issues, _ = load_with_issues(src, io_checks=True)
        assert all(isinstance(i, Issue) and i.message and "\n" not in i.message for i in issues)
        assert descr is not None or any(i.severity == "error" for i in issues)
        try:
            load(src)
        except SpecError:
            pass


BAD_NAMES = ["../x.npy", "/etc/passwd", "a/../../b", "C:/x", "a\\b", "", ".", "x\x00y", 5, None, ["l"], {"s": 1}]


@FUZZ
@given(where=st.sampled_from(["documentation", "covers", "test_tensor", "weights", "attachments"]),
       name=st.sampled_from(BAD_NAMES))
def test_fuzz_hostile_file_names_are_errors(fuzz_dir: Path, where: str, name: Any) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    if where == "documentation":
        data["documentation"] = name
    elif where == "covers":
        data["covers"] = [name]
    elif where == "attachments":
        data["attachments"] = [{"source": name}]
    elif where == "test_tensor":
        data["inputs"][0]["test_tensor"] = {"source": name}
    else:
        data["weights"]["onnx"]["source"] = name
    (fuzz_dir / "bioimageio.yaml").write_text(yaml.safe_dump(data))
    issues = validate(fuzz_dir)
    if (where, name) != ("documentation", None):  # no documentation is only a warning
        assert any(i.severity == "error" for i in issues), (where, name, issues)
