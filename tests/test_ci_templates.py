"""The CI templates run as CI would run them: the GitLab CI/CD component
(``templates/nameplate.yml``) and the GitHub composite action (``action.yml``) are read, their
inputs filled in as GitLab (``$[[ inputs.x ]]``) and GitHub (``${{ inputs.x }}``) do, and every
``script:`` line and ``run:`` step is run with ``sh``/``bash`` against distribution 2.8.2 on
127.0.0.1. A template that drifts from the CLI fails here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from nameplate import oci, sign
from tests.conftest import DATA, ROOT, need
from tests.oci import registries as regs
from tests.sign.keys import pem_pair

pytestmark = pytest.mark.service

BIN = Path(shutil.which("nameplate") or (ROOT / ".venv/bin/nameplate")).parent
PREFIX = (
    DATA
    / "spack/spack1.3-fake-store/opt/spack/linux-icelake/zlib-ng-2.3.3-g32vemqewbcc2j2pcffahyu2y4kfw4t6"
)
BINARY = DATA / "elf" / "libsaxpy_a.so"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Any:
    need(regs.DOCKER_REGISTRY is not None, "docker-registry not installed (scripts/apt.d/oci.txt)")
    yield from regs.running(regs.start_distribution(tmp_path_factory.mktemp("ci-registry")))


def ci_env(tmp_path: Path, registry: regs.Registry, extra: dict[str, str]) -> dict[str, str]:
    """A CI job's environment: nameplate on PATH (the install line then does nothing), the
    test registry reachable over plain HTTP."""
    assert (BIN / "nameplate").exists()
    return {
        "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "NAMEPLATE_PLAIN_HTTP": registry.host,
        **extra,
    }


def gitlab_interpolate(text: str, inputs: dict[str, Any]) -> str:
    def value(m: re.Match[str]) -> str:
        v = inputs[m.group(1)]
        return ("true" if v else "false") if isinstance(v, bool) else str(v)

    return re.sub(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]", value, text)


def test_gitlab_component(tmp_path: Path, registry: regs.Registry) -> None:
    path = ROOT / "templates" / "nameplate.yml"
    spec, _ = yaml.safe_load_all(path.read_text())
    declared = spec["spec"]["inputs"]
    assert {"target", "registry", "key"} <= set(declared)
    key, pub = pem_pair(tmp_path, "ci")
    ref = f"{registry.host}/ci/zlib-ng:2.3.3"
    given = {"target": str(PREFIX), "registry": ref, "key": str(key), "public-key": str(pub),
             "kind": "spack", "push": True}  # fmt: skip
    inputs = {k: d.get("default") for k, d in declared.items()} | given
    assert all(v is not None for v in inputs.values()), "an input without a value"
    _, jobs = yaml.safe_load_all(gitlab_interpolate(path.read_text(), inputs))
    job = jobs["nameplate"]
    assert job["stage"] == "deploy" and job["image"] == "python:3.12-slim"
    work = tmp_path / "job"
    work.mkdir()
    env = ci_env(tmp_path, registry, {k: str(v) for k, v in job["variables"].items()})
    # GitLab runs the script lines in one shell, stopping at the first that fails
    script = "\n".join(job["script"])
    done = subprocess.run(["sh", "-e", "-c", script], cwd=work, env=env, capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    digest = (work / "nameplate.digest").read_text().strip()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert "1 of 1 record signed by a trusted key" in done.stdout
    for pattern in job["artifacts"]["paths"]:
        assert list(work.glob(pattern)), pattern
    t = registry.transport
    assert oci.resolve(ref, transport=t).json["artifactType"] == oci.FILES_ARTIFACT_TYPE
    types = {d.artifact_type for d in oci.discover(ref, transport=t)}
    assert {oci.ARTIFACT_TYPE, sign.BUNDLE_MEDIA_TYPE, "application/vnd.cyclonedx+json",
            "application/spdx+json"} <= types  # fmt: skip
    assert oci.verify(ref, sign.load_trusted([pub]), transport=t).trusted


def github_expr(text: str, inputs: dict[str, str], steps: dict[str, dict[str, str]]) -> str:
    def value(m: re.Match[str]) -> str:
        expr = m.group(1).strip()
        if expr.startswith("inputs."):
            return inputs[expr[len("inputs.") :]]
        parts = expr.split(".")
        if parts[0] == "steps" and parts[2] == "outputs":
            return steps.get(parts[1], {}).get(parts[3], "")
        raise AssertionError(f"unexpected expression {expr}")

    return re.sub(r"\$\{\{(.*?)\}\}", value, text)


@pytest.mark.parametrize("signed", [True, False])
def test_github_action(tmp_path: Path, registry: regs.Registry, signed: bool) -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    declared = action["inputs"]
    assert {"target", "registry", "key"} <= set(declared)
    key, pub = pem_pair(tmp_path, "gh", "ed25519")
    # (another target when unsigned: pushing the same file twice gives the same digest)
    ref = f"{registry.host}/gh/{'saxpy' if signed else 'zlib-ng'}:1"
    given = {"target": str(BINARY if signed else PREFIX), "registry": ref, "push": "true",
             "key": key.read_text() if signed else "",       # a secret's contents
             "public-key": pub.read_text() if signed else ""}  # fmt: skip
    inputs = {k: str(d.get("default", "")) for k, d in declared.items()} | given
    work, temp = tmp_path / "workspace", tmp_path / "runner-temp"
    work.mkdir()
    temp.mkdir()
    outputs: dict[str, dict[str, str]] = {}
    for i, step in enumerate(action["runs"]["steps"]):
        assert "uses" not in step, "the test runs run: steps only"
        assert step["shell"] == "bash"
        out_file, path_file = tmp_path / f"out-{i}", tmp_path / f"path-{i}"
        out_file.touch()
        path_file.touch()
        step_env = {k: github_expr(str(v), inputs, outputs) for k, v in step.get("env", {}).items()}
        env = ci_env(tmp_path, registry, step_env | {
            "GITHUB_OUTPUT": str(out_file), "GITHUB_PATH": str(path_file),
            "RUNNER_TEMP": str(temp)})  # fmt: skip
        script = github_expr(step["run"], inputs, outputs)
        # GitHub runs a bash step as: bash --noprofile --norc -eo pipefail {0}
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                              cwd=work, env=env, capture_output=True, text=True, timeout=300,
                              check=False)  # fmt: skip
        assert done.returncode == 0, f"step {step.get('name')}: {done.stdout}{done.stderr}"
        assert path_file.read_text() == ""  # nameplate was on PATH: nothing installed
        if "id" in step:
            outputs[step["id"]] = dict(
                line.split("=", 1) for line in out_file.read_text().splitlines() if "=" in line
            )
        if step.get("name") == "Verify" and signed:
            assert "1 of 1 record signed by a trusted key" in done.stdout
    record = github_expr(action["outputs"]["record"]["value"], inputs, outputs)
    digest = github_expr(action["outputs"]["digest"]["value"], inputs, outputs)
    assert Path(record) == work / "nameplate.json" and Path(record).is_file()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert not (temp / "nameplate.key").exists()  # the key does not outlive the step
    found = oci.discover(ref, artifact_type=sign.BUNDLE_MEDIA_TYPE, transport=registry.transport)
    assert len(found) == (1 if signed else 0)
    assert sorted(p.name for p in work.glob("nameplate.*.json")) == [
        "nameplate.cyclonedx-json.json", "nameplate.spdx-2.3.json"]  # fmt: skip
    assert os.access(record, os.R_OK)
