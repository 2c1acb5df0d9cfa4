"""The ast reader against EasyBuild's own EasyConfigParser on the 5.4.1 collection (a sample)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, need

COLLECTION = Path(sys.prefix) / "easybuild" / "easyconfigs"

pytestmark = [pytest.mark.slow, pytest.mark.service]


def test_sample_of_500_agrees_with_easyconfigparser() -> None:
    need(
        COLLECTION.is_dir(),
        "easybuild-easyconfigs 5.4.1 is not installed (scripts/setup.d/30-easybuild.sh)",
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "easyconfigs.py"), "--sample", "500"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    result = json.loads(done.stdout)
    assert result["files"] == 500
    assert result["ours_errors"] == 0
    # name, version, versionsuffix, toolchain, (build)dependencies, sources, checksums, patches...
    assert {"name", "version", "versionsuffix", "toolchain", "dependencies", "sources",
            "checksums"} <= set(result["keys"])  # fmt: skip
    assert result["mismatches"] == []
    assert result["agreement_rate"] == 1.0


def test_every_collection_file_parses_without_executing(tmp_path: Path) -> None:
    need(
        COLLECTION.is_dir(),
        "easybuild-easyconfigs 5.4.1 is not installed (scripts/setup.d/30-easybuild.sh)",
    )
    from nameplate.sources.easybuild.easyconfig import Unresolved, parse_easyconfig

    files = sorted(COLLECTION.rglob("*.eb"))
    assert len(files) == 11896
    unresolved = 0
    for path in files:
        ec = parse_easyconfig(path.read_bytes(), where=str(path))
        for key in ("name", "version", "toolchain", "dependencies", "sources", "checksums"):
            if isinstance(ec.get(key), Unresolved):
                unresolved += 1
    assert unresolved == 0
