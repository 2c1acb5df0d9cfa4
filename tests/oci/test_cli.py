"""The six OCI commands, in-process with CliRunner, on a layout and on distribution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from nameplate.cli import cli

from . import registries as regs
from .conftest import make_record, push_image


def run(*args: str, **kw: object) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="nameplate", **kw)  # type: ignore[arg-type]


@pytest.fixture
def record_file(tmp_path: Path) -> Path:
    path = tmp_path / "rec.json"
    path.write_text(make_record(4).to_json())
    return path


def test_layout_commands(tmp_path: Path, record_file: Path) -> None:
    layout = tmp_path / "l"
    binary = tmp_path / "hello"
    binary.write_bytes(b"\x7fELF...")
    pushed = run("push", str(binary), "--to", f"oci:{layout}:hello")
    assert pushed.exit_code == 0, pushed.output
    attached = run("attach", str(record_file), "--to", f"oci:{layout}:hello")
    assert attached.exit_code == 0, attached.output
    digest = attached.output.strip()
    table = run("discover", f"oci:{layout}:hello")
    assert digest in table.output and "zen3" in table.output and "ARTIFACT TYPE" in table.output
    listed = json.loads(run("discover", f"oci:{layout}:hello", "-f", "json").output)
    assert [d["digest"] for d in listed] == [digest]
    out = tmp_path / "back.json"
    assert run("pull", f"oci:{layout}:hello", "-o", str(out)).exit_code == 0
    assert out.read_bytes() == record_file.read_bytes()
    assert run("pull", f"oci:{layout}:hello").output == record_file.read_text()
    copied = run("copy", f"oci:{layout}:hello", f"oci:{tmp_path / 'm'}:hello")
    assert copied.output == "copied 2 manifests\n"
    assert run("reindex", f"oci:{tmp_path / 'm'}:hello").output == "1 referrers\n"


def test_default_store_commands(
    tmp_path: Path, record_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAMEPLATE_STORE", str(tmp_path / "default"))
    (tmp_path / "f").write_text("x")
    assert run("push", str(tmp_path / "f"), "--to", "tool:2").exit_code == 0
    assert run("attach", str(record_file), "--to", "tool:2").exit_code == 0
    assert run("pull", "tool:2").output == record_file.read_text()


def test_registry_commands(distribution: regs.Registry, repo: str, record_file: Path) -> None:
    ref = distribution.ref(f"{repo}:v1")
    push_image(ref, transport=distribution.transport)
    assert run("attach", str(record_file), "--to", ref).exit_code == 4  # TLS by default
    attached = run("attach", str(record_file), "--to", ref, "--plain-http")
    assert attached.exit_code == 0, attached.output
    assert attached.output.strip() in run("discover", ref, "--plain-http").output
    assert run("pull", ref, "--plain-http").output == record_file.read_text()
    assert run("reindex", ref, "--plain-http").output == "1 referrers\n"


def test_errors_are_one_line(
    tmp_path: Path,
    record_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    distribution_tls: regs.Registry,
    repo: str,
) -> None:
    bad = run("discover", "Bad Ref")
    assert bad.exit_code == 3 and bad.output.startswith("error: ") and bad.output.count("\n") == 1
    down = run("pull", f"127.0.0.1:{regs.free_port()}/x:y", "--plain-http")
    assert down.exit_code == 4 and "Traceback" not in down.output
    missing = run("pull", f"oci:{tmp_path}:nothing")
    assert missing.exit_code == 4 and "no manifest named" in missing.output
    monkeypatch.setenv("NAMEPLATE_REGISTRY_USERNAME", regs.USER)
    monkeypatch.setenv("NAMEPLATE_REGISTRY_PASSWORD", "Very-Wrong-Secret")
    denied = run(
        "push",
        str(record_file),
        "--to",
        distribution_tls.ref(f"{repo}:v1"),
        "--ca-file",
        str(distribution_tls.extras["ca"]),
    )
    assert denied.exit_code == 4
    assert "authentication failed for user 'alice'" in denied.output
    assert "Very-Wrong-Secret" not in denied.output
    assert "Very-Wrong-Secret" not in distribution_tls.log.read_text()
