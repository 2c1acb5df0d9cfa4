"""Untrusted names never rewrite a terminal line: text output escapes control and bidirectional
characters (as ``git`` quotes file names), JSON output keeps them exact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from nameplate.cli import cli
from tests.conftest import DATA, ROOT

EXAMPLE = ROOT / "examples/records/spack-hdf5-openmpi-icelake.json"
ICELAKE_H200 = str(DATA / "hosts/linux-h200-icelake.host.json")
FORGED = "x\r  ok  "
RLO = "evil\u202egnp.exe"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), prog_name="nameplate")
    return result.exit_code, result.stdout, result.stderr


def hostile(tmp_path: Path, name: str = FORGED, **hpc: Any) -> Path:
    """The example record (a real Spack 1.3 hdf5) whose root is renamed ``name`` and built for
    a CPU the icelake host lacks, so that the check has a FAIL line about it."""
    doc = json.loads(EXAMPLE.read_text())
    root = doc["roots"][0]
    for c in doc["components"]:
        if c["id"] == root:
            c["name"] = name
            c["target"] = dict(c["target"], name="sapphirerapids")
    doc["hpc"].update(hpc)
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(doc))
    return path


def no_raw_controls(text: str) -> None:
    for ch in ("\r", "\x1b", "\u202e", "\b"):
        assert ch not in text, repr(text)


def test_a_forged_ok_stays_a_fail_in_check(tmp_path: Path) -> None:
    code, out, err = run("check", str(hostile(tmp_path)), "--host", ICELAKE_H200)
    assert code == 1, err
    no_raw_controls(out)
    fail = [line for line in out.splitlines() if '"x\\r  ok  "' in line]
    assert fail and all(line.startswith("  FAIL ") for line in fail), out
    code, out, _ = run("check", str(hostile(tmp_path)), "--host", ICELAKE_H200, "-f", "json")
    subjects = [f.get("subject", "") for f in json.loads(out)["findings"]]
    assert any(FORGED in s for s in subjects)  # JSON stays exact


def test_show_escapes_names_and_json_stays_exact(tmp_path: Path) -> None:
    path = hostile(tmp_path, name=RLO)
    code, out, _ = run("show", str(path))
    assert code == 0
    no_raw_controls(out)
    assert '"evil\\u202egnp.exe@1.14.6' in out
    code, out, _ = run("show", str(path), "-f", "json")
    assert json.loads(out)["roots"][0]["spec"].startswith(RLO)


def test_error_lines_escape_what_they_quote(tmp_path: Path) -> None:
    doc = json.loads(EXAMPLE.read_text())
    doc["subject"]["digest"] = "sha256:\r\x1b[2Kok"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    code, _, err = run("show", str(path))
    assert code == 1
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    no_raw_controls(err)
    assert "\\r\\x1b[2Kok" in err


def test_validate_select_query_discover_escape(tmp_path: Path) -> None:
    path = hostile(tmp_path, name=RLO, target={"name": "zen4\r\x1b[Kicelake"})
    # discover: the annotations a registry or layout lists come back escaped
    ref = f"oci:{tmp_path / 'layout'}:app"
    assert run("push", str(DATA / "elf/libsaxpy_a.so"), "--to", ref)[0] == 0
    assert run("attach", str(path), "--to", ref)[0] == 0
    code, out, _ = run("discover", ref)
    assert code == 0 and "zen4\\r\\x1b[Kicelake" in out
    no_raw_controls(out)
    code, out, _ = run("select", ref.rsplit(":", 1)[0], "--host", ICELAKE_H200)
    no_raw_controls(out)
    assert "zen4\\r" in out
    db = str(tmp_path / "cat.db")
    assert run("index", str(path), "--catalog", db)[0] == 0
    code, out, _ = run("query", "hdf5", "--catalog", db)
    no_raw_controls(out)
    bad = dict(json.loads(path.read_text()), serial=f"urn:uuid:{RLO}")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(bad))
    code, out, _ = run("validate", str(broken))
    assert code == 1
    no_raw_controls(out)
    assert "\\u202e" in out
