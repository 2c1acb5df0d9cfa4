"""CLI behaviour shared by every command: output files, bad input, exit codes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nameplate.cli import cli
from tests.conftest import DATA, ROOT

STORE = DATA / "spack/spack1.3-fake-store/opt/spack"
EXAMPLE = ROOT / "examples/records/spack-hdf5-openmpi-icelake.json"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), prog_name="nameplate")
    return result.exit_code, result.output


def one_line_error(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("error: ")
    return lines[0]


def test_new_output_files_follow_the_umask(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    code, output = run("extract", "spack", str(STORE), "--root", "zlib-ng", "-o", str(out))
    assert code == 0, output
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask


def test_writing_through_a_symlink_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    code, output = run("extract", "spack", str(STORE), "--root", "zlib-ng", "-o", str(link))
    assert code == 0, output
    assert link.is_symlink()
    assert json.loads(real.read_text())["roots"]


def test_a_device_is_written_to_not_replaced() -> None:
    code, output = run("extract", "spack", str(STORE), "--root", "zlib-ng", "-o", os.devnull)
    assert code == 0, output
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_several_records_need_a_directory(tmp_path: Path) -> None:
    code, output = run("extract", "spack", str(STORE), "-o", str(tmp_path / "all.json"))
    assert code == 3
    assert "3 records: -o needs a folder" in one_line_error(output)
    assert not (tmp_path / "all.json").exists()


def test_deeply_nested_json_is_one_line(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    for command in (["validate"], ["show"], ["export"]):
        code, output = run(*command, str(deep))
        assert code == 3, (command, output)
        assert "nested too deeply" in one_line_error(output)


def test_unknown_schema_version_names_the_file(tmp_path: Path) -> None:
    doc = json.loads(EXAMPLE.read_text())
    doc["schema_version"] = "9.9.9"
    bad = tmp_path / "v9.json"
    bad.write_text(json.dumps(doc))
    code, output = run("validate", str(bad))
    assert code == 1
    assert f"{bad}: $.schema_version: unknown schema version '9.9.9'" in output
    code, output = run("show", str(bad))
    assert code == 1
    assert str(bad) in one_line_error(output)


def test_an_empty_array_is_not_a_valid_record_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    code, output = run("validate", str(empty))
    assert code == 1
    assert "holds no record" in output


def test_a_long_dependency_chain_shows(tmp_path: Path) -> None:
    doc = json.loads(EXAMPLE.read_text())
    first = doc["components"][0]
    chain = [dict(first, id=f"c{i}", name=f"p{i}") for i in range(2000)]
    doc["components"] = chain
    doc["dependencies"] = [
        {"dependent": f"c{i}", "dependency": f"c{i + 1}", "types": ["link"]} for i in range(1999)
    ]
    doc["roots"] = ["c0"]
    path = tmp_path / "chain.json"
    path.write_text(json.dumps(doc))
    code, output = run("show", str(path), "-f", "json")
    assert code == 0, output[-500:]
    assert len(json.loads(output)["tree"]) == 2000


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_a_full_disk_on_stdout_is_one_line() -> None:
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "nameplate", "show", str(EXAMPLE)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 3, result.stderr
    assert "standard output: No space left on device" in one_line_error(result.stderr)
