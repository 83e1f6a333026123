"""`pyapp validate`: one line per issue, a summary, exit code 0 only when all are valid."""

from __future__ import annotations

import json
import subprocess
import sys

from shared_paths import GOLD

from pyapp.cli import main


def test_default_example_is_valid(capsys):
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "1 of 1 descriptions valid"


def test_gold_model_lines_and_exit_code(capsys):
    src = str(GOLD / "bioimageio.yaml")
    assert main(["validate", src]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2] == f"{src}: invalid (3 errors, 1 warnings)"
    assert sum(line.startswith(f"{src}: error: ") for line in lines) == 3


def test_no_io_and_json(capsys):
    src = str(GOLD / "bioimageio.yaml")
    assert main(["validate", "--no-io", "--json", src]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report[0]["valid"] is True and report[0]["issues"] == []


def test_bad_input_never_prints_a_traceback(tmp_path):
    bad = tmp_path / "rdf.yaml"
    bad.write_text("type: model\nformat_version: 0.5.4\ninputs: [\n")
    proc = subprocess.run([sys.executable, "-m", "pyapp.cli", "validate", str(bad), str(tmp_path / "missing")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert f"{bad}: error: line 4: YAML syntax error" in proc.stdout
    assert "no such file or folder" in proc.stdout
