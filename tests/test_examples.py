"""Every example script runs, and every example record is valid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nameplate import schema
from tests.conftest import ROOT

SCRIPTS = sorted((ROOT / "examples").rglob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_script_runs(script: Path, tmp_path: Path) -> None:
    env = dict(os.environ, NAMEPLATE_STORE=str(tmp_path / "store"), HOME=str(tmp_path))
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


@pytest.mark.parametrize(
    "record", sorted((ROOT / "examples/records").glob("*.json")), ids=lambda p: p.name
)
def test_example_record_is_valid(record: Path) -> None:
    schema.validate(json.loads(record.read_text()))


def test_readme_commands_are_the_scripts() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "scripts/demo" in readme and "scripts/test" in readme
    assert "scripts/test" in (ROOT / ".ci/run").read_text()
