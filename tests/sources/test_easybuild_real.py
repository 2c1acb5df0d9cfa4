"""A real EasyBuild 5.4.1 build with the nameplate hook: the hook's record equals the tree's,
and the hook pushes each install to a real registry (distribution 2.8.2 on 127.0.0.1) with its
record attached and signed (``NAMEPLATE_EB_PUSH``, ``NAMEPLATE_EB_SIGN``); a registry that
cannot be reached is a warning, never a failed build (a site hooks file written by ``nameplate
easybuild-hooks -o``).

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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from nameplate import oci, schema, sign
from nameplate.cli import cli
from nameplate.record import Record
from nameplate.sources import ExtractOptions, easybuild
from tests.conftest import DATA, FIXED_TIME, need
from tests.oci import registries as regs
from tests.sign.keys import pem_pair

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
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[regs.Registry]:
    need(regs.DOCKER_REGISTRY is not None, "docker-registry not installed (scripts/apt.d/oci.txt)")
    yield from regs.running(regs.start_distribution(tmp_path_factory.mktemp("eb-registry")))


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return pem_pair(tmp_path_factory.mktemp("eb-keys"), "site")


def eb_env(work: Path) -> dict[str, str]:
    return {
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


@pytest.fixture(scope="module")
def installed(
    tmp_path_factory: pytest.TempPathFactory, registry: regs.Registry, keys: tuple[Path, Path]
) -> Path:
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
    env = eb_env(work)
    # the hook pushes each install and attaches its record, signed (nameplate's own settings)
    env["NAMEPLATE_EB_PUSH"] = f"{registry.host}/eb/{{repo}}:{{tag}}"
    env["NAMEPLATE_EB_SIGN"] = str(keys[0])
    env["NAMEPLATE_PLAIN_HTTP"] = registry.host
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


PUSHED = {
    "GCCcore/12.2.0": "eb/gcccore:12.2.0",
    "tinyhello/1.0-GCCcore-12.2.0": "eb/tinyhello:1.0-GCCcore-12.2.0",
    "tinygreet/2.1-GCCcore-12.2.0-demo": "eb/tinygreet:2.1-GCCcore-12.2.0-demo",
}


@pytest.mark.parametrize("prefix", sorted(PUSHED))
def test_the_hook_pushed_each_install_with_its_record_signed(
    installed: Path, registry: regs.Registry, keys: tuple[Path, Path], prefix: str
) -> None:
    ref = f"{registry.host}/{PUSHED[prefix]}"
    written = (installed / "software" / prefix / "easybuild" / "nameplate.json").read_bytes()
    pushed = oci.resolve(ref, transport=registry.transport).json
    assert pushed["artifactType"] == oci.FILES_ARTIFACT_TYPE
    assert pushed["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar"
    _, data = oci.pull_bytes(ref, transport=registry.transport)
    assert data == written  # the record attached is the record written, byte for byte
    verified = oci.verify(ref, sign.load_trusted([keys[1]]), transport=registry.transport)
    assert [r.signers for r in verified.records] == [(str(keys[1]),)]
    assert verified.refusals == ()


def test_an_unreachable_registry_is_a_warning_never_a_failed_build(
    installed: Path, tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    work = installed.parent
    closed = f"127.0.0.1:{regs.free_port()}"  # nothing listens there
    hooks = tmp_path / "site_hooks.py"
    result = CliRunner().invoke(
        cli,
        ["easybuild-hooks", "--push", f"{closed}/eb/{{repo}}:{{tag}}", "--sign", str(keys[0]),
         "-o", str(hooks)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    env = eb_env(work)
    env["EASYBUILD_HOOKS"] = str(hooks)  # the site hooks file instead of the variables
    env["NAMEPLATE_PLAIN_HTTP"] = closed
    record = installed / "software/tinyhello/1.0-GCCcore-12.2.0/easybuild/nameplate.json"
    record.unlink()
    done = subprocess.run(
        [str(EB), str(work / "easyconfigs" / "tinyhello-1.0-GCCcore-12.2.0.eb"), "--rebuild"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=work,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert (
        "nameplate hook: the record of tinyhello/1.0-GCCcore-12.2.0 was written but not" in output
    )
    assert f"attached to {closed}/eb/{{repo}}:{{tag}}" in output
    assert Record.from_dict(json.loads(record.read_text())).roots  # written all the same
