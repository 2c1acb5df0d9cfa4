"""Images in a registry: the test image of ``test_image.py``, copied with ``nameplate.oci.copy``
into a real distribution registry on 127.0.0.1 (plain HTTP), extracted by tag and by digest
(library and CLI) into the same record as the OCI layout it came from."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from nameplate import schema
from nameplate.cli import cli
from nameplate.errors import RegistryAuthError, RegistryError
from nameplate.oci import Credentials, Transport, copy
from nameplate.record import Record
from nameplate.sources import ExtractOptions, image
from tests import imagetools as it
from tests.conftest import FIXED_TIME, need
from tests.oci import registries as regs
from tests.sources import test_image as ti

staging = ti.staging  # the image's root file system, assembled from the shared fixtures


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[regs.Registry]:
    """distribution (Debian ``docker-registry``) on a free 127.0.0.1 port, plain HTTP."""
    need(regs.DOCKER_REGISTRY is not None, "docker-registry not installed (scripts/apt.d/oci.txt)")
    yield from regs.running(regs.start_distribution(tmp_path_factory.mktemp("dist"), auth="none"))


@pytest.fixture(scope="module")
def pushed(
    staging: Path, registry: regs.Registry, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str, str]:
    """(layout, registry repository, manifest digest): the same image on disk and in the
    registry, with the same manifest bytes."""
    path = tmp_path_factory.mktemp("layout") / "img"
    digest = it.write_layout(
        path,
        [
            it.Image(
                layers=ti._layers(staging),
                labels=ti.LABELS,
                annotations={"org.opencontainers.image.version": "1.0"},
            )
        ],
        tag="v1",
    )
    repo = registry.ref("hpc/stack")
    assert copy(f"oci:{path}:v1", f"{repo}:v1", transport=registry.transport) == 1
    return path, repo, digest


def _options(registry: regs.Registry, **kw: Any) -> ExtractOptions:
    return dataclasses.replace(ti.OPTS, transport=registry.transport, **kw)


def _extract(ref: str, options: ExtractOptions) -> Record:
    (record,) = image.extract_all(ref, options)
    schema.validate(record.to_dict())
    return record


def _facts(record: Record | dict[str, Any], ref: str) -> dict[str, Any]:
    """The record with the reference it was read from (in the subject, the provenance and
    every path inside the image) replaced by ``REF``, and without the subject's version."""
    doc = record.to_dict() if isinstance(record, Record) else record
    text = json.dumps({**doc, "subject": {**doc["subject"], "version": None}})
    out: dict[str, Any] = json.loads(text.replace(json.dumps(ref)[1:-1], "REF"))
    return out


@pytest.fixture(scope="module")
def from_layout(pushed: tuple[Path, str, str]) -> dict[str, Any]:
    """The record read from the layout, as compared (see :func:`_facts`)."""
    return _facts(_extract(f"oci:{pushed[0]}:v1", ti.OPTS), f"oci:{pushed[0]}:v1")


def test_by_tag_equals_the_layout(
    pushed: tuple[Path, str, str], registry: regs.Registry, from_layout: dict[str, Any]
) -> None:
    _, repo, digest = pushed
    record = _extract(f"docker://{repo}:v1", _options(registry))
    assert record.subject.kind == "image" and record.subject.digest == digest
    assert record.subject.version == "v1"
    assert record.subject.name == f"docker://{repo}:v1"
    assert sum("spack" in c.found_by for c in record.components) > 60
    facts = _facts(record, f"docker://{repo}:v1")
    for key in ("components", "dependencies", "roots", "hpc", "evidence", "annotations"):
        assert facts[key] == from_layout[key], key
    assert facts == from_layout


def test_by_digest_without_scheme(
    pushed: tuple[Path, str, str], registry: regs.Registry, from_layout: dict[str, Any]
) -> None:
    _, repo, digest = pushed
    assert image.detect(f"{repo}@{digest}")
    record = _extract(f"{repo}@{digest}", _options(registry))
    assert record.subject.digest == digest and record.subject.version is None
    assert _facts(record, f"{repo}@{digest}") == from_layout


def _cli(args: list[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(FIXED_TIME.timestamp())))
    return CliRunner().invoke(cli, args, prog_name="nameplate")


def test_cli_by_tag_and_digest(
    pushed: tuple[Path, str, str],
    from_layout: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, repo, digest = pushed
    monkeypatch.delenv("NAMEPLATE_PLAIN_HTTP", raising=False)
    for ref in (f"docker://{repo}:v1", f"{repo}@{digest}"):
        result = _cli(
            ["extract", "image", "--plain-http", "--platform", "linux/amd64", ref], monkeypatch
        )
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        assert doc["subject"]["name"] == ref and doc["subject"]["digest"] == digest
        assert _facts(doc, ref) == from_layout
    # the environment variable the oci commands honour works here too, per host
    host = repo.split("/", 1)[0]
    monkeypatch.setenv("NAMEPLATE_PLAIN_HTTP", host)
    result = _cli(["extract", "auto", "--platform", "linux/amd64", f"{repo}:v1"], monkeypatch)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["subject"]["digest"] == digest


def test_https_to_a_plain_registry_is_a_clear_error(
    pushed: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain HTTP is never the default, not even on loopback (docs/sources/image.md)."""
    monkeypatch.delenv("NAMEPLATE_PLAIN_HTTP", raising=False)
    result = _cli(["extract", "image", f"{pushed[1]}:v1"], monkeypatch)
    assert result.exit_code == 4, result.output
    assert "Traceback" not in result.output
    (line,) = result.stderr.strip().splitlines()
    assert pushed[1].split("/", 1)[0] in line and "--plain-http" in line


def test_missing_tag_is_a_one_line_error(
    pushed: tuple[Path, str, str], registry: regs.Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, repo, _ = pushed
    with pytest.raises(RegistryError, match="not found"):
        _extract(f"{repo}:nope", _options(registry))
    result = _cli(["extract", "image", "--plain-http", f"docker://{repo}:nope"], monkeypatch)
    assert result.exit_code == 4, result.output
    assert result.stdout == "" and "Traceback" not in result.output
    (line,) = result.stderr.strip().splitlines()
    assert "hpc/stack" in line and "nope" in line


def test_multi_platform_index(
    registry: regs.Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    amd = it.Image(layers=[it.tar_members([it.Member("etc/os-release", data=b"ID=debian\n")])])
    arm = it.Image(
        layers=[it.tar_members([it.Member("etc/os-release", data=b"ID=alpine\n")])],
        architecture="arm64",
        compression="zstd",
    )
    out = tmp_path / "multi"
    index_digest = it.write_layout(out, [amd, arm], tag="latest")
    repo = registry.ref(f"multi/{uuid.uuid4().hex[:8]}")
    assert copy(f"oci:{out}:latest", f"{repo}:2.0", transport=registry.transport) == 3
    for img, plat, os_id in ((amd, "linux/amd64", "debian"), (arm, "linux/arm64", "alpine")):
        layout_ref = f"oci:{out}:latest"
        on_disk = _facts(
            _extract(layout_ref, dataclasses.replace(ti.OPTS, platform=plat)), layout_ref
        )
        for ref in (f"{repo}:2.0", f"{repo}@{index_digest}"):
            record = _extract(ref, _options(registry, platform=plat))
            assert record.hpc.os is not None and record.hpc.os.name == os_id
            assert record.subject.digest == it.build(img).manifest_digest
            assert _facts(record, ref) == on_disk
    result = _cli(
        ["extract", "image", "--plain-http", "--platform", "linux/arm64", f"{repo}:2.0"],
        monkeypatch,
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["subject"]["digest"] == it.build(arm).manifest_digest
    result = _cli(
        ["extract", "image", "--plain-http", "--platform", "linux/s390x", f"{repo}:2.0"],
        monkeypatch,
    )
    assert result.exit_code == 3 and "Traceback" not in result.output
    (line,) = result.stderr.strip().splitlines()
    assert "no manifest for platform linux/s390x" in line


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[regs.Registry]:
    """distribution with TLS (a CA made by the tests) and htpasswd credentials."""
    need(regs.DOCKER_REGISTRY is not None, "docker-registry not installed (scripts/apt.d/oci.txt)")
    need(regs.HTPASSWD is not None, "htpasswd not installed (apache2-utils)")
    folder = tmp_path_factory.mktemp("dist-tls")
    yield from regs.running(regs.start_distribution(folder, auth="htpasswd"))


def test_tls_registry_with_ca_file_and_credentials(
    tls_registry: regs.Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    img = it.Image(layers=[it.tar_members([it.Member("etc/os-release", data=b"ID=debian\n")])])
    it.write_layout(tmp_path / "img", [img], tag="1")
    ref = tls_registry.ref("secure/img:1")
    copy(f"oci:{tmp_path / 'img'}:1", ref, transport=tls_registry.transport)
    record = _extract(ref, _options(tls_registry))
    assert record.subject.digest == it.build(img).manifest_digest
    ca = str(tls_registry.extras["ca"])
    for var in ("NAMEPLATE_PLAIN_HTTP", "NAMEPLATE_CA_FILE", "NAMEPLATE_REGISTRY_HOST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    monkeypatch.setenv("NAMEPLATE_REGISTRY_USERNAME", regs.USER)
    monkeypatch.setenv("NAMEPLATE_REGISTRY_PASSWORD", regs.PASSWORD)
    result = _cli(["extract", "image", "--ca-file", ca, ref], monkeypatch)
    assert result.exit_code == 0, result.output
    assert _facts(json.loads(result.stdout), ref) == _facts(record, ref)
    result = _cli(["extract", "image", ref], monkeypatch)  # the CA is not trusted
    assert result.exit_code == 4 and "Traceback" not in result.output
    (line,) = result.stderr.strip().splitlines()
    assert "TLS certificate not trusted" in line and "--ca-file" in line
    wrong = Transport(ca_file=ca, credentials=Credentials(regs.USER, "wrong"))
    with pytest.raises(RegistryAuthError) as caught:  # credentials reach the store
        _extract(ref, dataclasses.replace(ti.OPTS, transport=wrong))
    assert "wrong" not in str(caught.value) and "\n" not in str(caught.value)
