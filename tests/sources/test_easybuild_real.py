"""A real EasyBuild 5.4.1 build with the nameplate hook: the hook's record equals the tree's.

Builds GCCcore/12.2.0 (Debian's gcc), tinyhello and tinygreet from ``tests/data/easybuild/build``
with ``eb --hooks=<nameplate hooks>``, then reads the finished install tree. Fields only one side
can know (excluded from the comparison, see docs/sources/easybuild.md):

- ``provenance.read_from``, ``evidence``: files read vs ``easybuild:live``;
- ``provenance.built_at``, ``installed_at``: the hook's time is the end of the install, the
  tree's is buildstats' ``timestamp`` (its start);
- ``provenance.extracted_at``;
- dependency components: the hook knows them by their resolved module names, the tree reader
  reads their installs (so only the root component and the edges are compared in full).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nameplate import schema
from nameplate.record import Record
from nameplate.sources import ExtractOptions, easybuild
from tests.conftest import DATA, FIXED_TIME, need

BUILD = DATA / "easybuild" / "build"
LMOD = os.environ.get("LMOD_CMD", "/usr/share/lmod/lmod/libexec/lmod")
EB = Path(sys.executable).parent / "eb"
HOOKS = Path(easybuild.__file__).resolve().parents[2] / "easybuild_hooks.py"

pytestmark = [pytest.mark.slow, pytest.mark.service]


def _gcc_version() -> str:
    try:
        out = subprocess.run(
            ["gcc", "-dumpfullversion"], capture_output=True, text=True, timeout=20
        )
    except OSError:
        return ""
    return out.stdout.strip()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need(
        EB.is_file(),
        "EasyBuild 5.4.1 is not installed in the venv (scripts/setup.d/30-easybuild.sh)",
    )
    need(Path(LMOD).is_file(), f"Lmod is not installed ({LMOD}; Debian package lmod)")
    need(_gcc_version() == "12.2.0", "the fixture's GCCcore wraps a system gcc 12.2.0 (Debian 12)")
    work = tmp_path_factory.mktemp("eb")
    shutil.copytree(BUILD / "easyconfigs", work / "easyconfigs")
    shutil.copytree(BUILD / "sources", work / "sources")
    (work / "tmp").mkdir()
    env = {
        "HOME": str(work),
        "PATH": f"{EB.parent}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LMOD_CMD": LMOD,
        "MODULEPATH": "",
        "PYTHONPATH": str(HOOKS.parents[1]),
        "EASYBUILD_PREFIX": str(work / "fixture"),
        "EASYBUILD_SOURCEPATH": str(work / "sources"),
        "EASYBUILD_BUILDPATH": str(work / "build"),
        "EASYBUILD_TMPDIR": str(work / "tmp"),
        "EASYBUILD_ROBOT_PATHS": str(work / "easyconfigs"),
        "EASYBUILD_MODULES_TOOL": "Lmod",
        "EASYBUILD_MODULE_SYNTAX": "Lua",
        "EASYBUILD_FILTER_DEPS": "binutils",
        "EASYBUILD_PARALLEL": "2",
        "EASYBUILD_HOOKS": str(HOOKS),
        "EASYBUILD_ALLOW_USE_AS_ROOT_AND_ACCEPT_CONSEQUENCES": "1",
    }
    ec = work / "easyconfigs" / "tinygreet-2.1-GCCcore-12.2.0-demo.eb"
    done = subprocess.run(
        [str(EB), str(ec), "--robot"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=work,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "nameplate hook" not in done.stdout + done.stderr, "the hook warned"
    return work / "fixture"


def _comparable(record: Record) -> dict[str, Any]:
    data = record.to_dict()
    root = data["roots"][0]
    data["provenance"].pop("read_from", None)
    data["provenance"].pop("built_at", None)
    data["provenance"].pop("extracted_at", None)
    data.pop("evidence", None)
    data.pop("unknowns", None)
    data["components"] = [c for c in data["components"] if c["id"] == root]
    data["dependencies"] = [d for d in data.get("dependencies", []) if d["dependent"] == root]
    for comp in data["components"]:
        comp.pop("installed_at", None)
    return data


@pytest.mark.parametrize(
    "prefix",
    ["GCCcore/12.2.0", "tinyhello/1.0-GCCcore-12.2.0", "tinygreet/2.1-GCCcore-12.2.0-demo"],
)
def test_hook_record_equals_tree_record(installed: Path, prefix: str) -> None:
    installdir = installed / "software" / prefix
    written = installdir / "easybuild" / "nameplate.json"
    assert written.is_file(), "the hook wrote no record"
    hook = Record.from_dict(json.loads(written.read_text()))
    schema.validate(hook.to_dict())
    (tree,) = easybuild.extract_all(installdir, ExtractOptions(clock=FIXED_TIME))
    assert _comparable(hook) == _comparable(tree)
    assert hook.provenance.read_from == ("easybuild:live",)
    # the dependencies EasyBuild resolved are the installs the tree reader found
    installed_ids = {c.id for c in tree.components if c.status == "installed"}
    assert {d.dependency for d in hook.dependencies} <= installed_ids


def test_hook_never_fails_a_build(installed: Path) -> None:
    sys.path.insert(0, str(HOOKS.parent.parent))
    from nameplate import easybuild_hooks

    class Broken:
        full_mod_name = "broken/1.0"

        class log:
            @staticmethod
            def warning(msg: str) -> None:
                Broken.warned = msg

            @staticmethod
            def info(*a: Any) -> None:
                pass

        warned = ""

    easybuild_hooks.post_easyblock_hook(Broken())  # no cfg, no installdir: a warning only
