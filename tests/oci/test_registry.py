"""Round trips on real registries: distribution 2.8.2 (plain, htpasswd+TLS, token) and ggcr."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from nameplate import oci
from nameplate.errors import RegistryAuthError, RegistryError
from nameplate.oci import Credentials, Transport
from nameplate.oci import manifest as m
from nameplate.oci._wire import Registry as Client
from nameplate.oci._wire import Repository

from . import registries as regs
from .conftest import make_record, push_image


def test_round_trip(any_registry: regs.Registry, repo: str) -> None:
    t = any_registry.transport
    ref = any_registry.ref(f"{repo}:v1")
    subject = push_image(ref, transport=t)
    rec = make_record(7)
    desc = oci.attach(rec, ref, transport=t)
    found = oci.discover(ref, transport=t)
    assert [d.digest for d in found] == [desc.digest]
    assert found[0].artifact_type == oci.ARTIFACT_TYPE  # ggcr lists config.mediaType: fixed up
    assert found[0].annotations["dev.nameplate.cpu.target"] == "zen3"
    _, data = oci.pull_bytes(ref, transport=t)
    assert data == rec.to_json().encode()
    assert oci.pull(any_registry.ref(f"{repo}@{subject}"), transport=t) == rec
    assert oci.list_tags(any_registry.ref(repo), transport=t) == ["v1"]


def test_fallback_index_on_distribution(distribution: regs.Registry, repo: str) -> None:
    t = distribution.transport
    ref = distribution.ref(f"{repo}:v1")
    subject = push_image(ref, transport=t)
    descs = [oci.attach(make_record(n), ref, transport=t) for n in range(2)]
    tags = oci.list_tags(distribution.ref(repo), internal=True, transport=t)
    assert m.referrers_tag(subject) in tags
    index = oci.resolve(distribution.ref(f"{repo}:{m.referrers_tag(subject)}"), transport=t)
    listed = m.index_descriptors(index.json)
    assert {d.digest for d in listed} == {d.digest for d in descs}
    assert all(d.artifact_type == oci.ARTIFACT_TYPE and d.annotations for d in listed)


def test_index_subject_platform_and_copy_with_referrers(
    distribution: regs.Registry, ggcr: regs.Registry, repo: str, tmp_path: Path
) -> None:
    src = distribution.ref(f"{repo}:multi")
    t = distribution.transport
    push_image(src, transport=t, arches=("amd64", "arm64"))
    oci.attach(make_record(1), src, transport=t, platform="linux/amd64")
    oci.attach(make_record(2), src, transport=t, platform="linux/arm64")
    # registry → layout → other registry (API) → back, referrers of both platforms kept
    layout = f"oci:{tmp_path / 'copy'}:multi"
    oci.copy(src, layout, transport=t)
    assert oci.pull(layout, platform="linux/arm64") == make_record(2)
    dst = ggcr.ref(f"{repo}:multi")
    oci.copy(layout, dst, transport=ggcr.transport)
    assert oci.pull(dst, platform="linux/amd64", transport=ggcr.transport) == make_record(1)
    assert oci.resolve(dst, transport=ggcr.transport).digest == oci.resolve(src, transport=t).digest
    back = distribution.ref(f"{repo}-back:multi")
    oci.copy(dst, back, transport=Transport(plain_http=True))
    assert oci.pull(back, platform="linux/arm64", transport=t) == make_record(2)


def test_wrong_password_is_clear_and_secret_free(
    distribution_tls: regs.Registry,
    distribution_token: regs.Registry,
    repo: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "wrong-Secret-987"
    for reg in (distribution_tls, distribution_token):
        bad = dataclasses.replace(reg.transport, credentials=Credentials(regs.USER, secret))
        with pytest.raises(RegistryAuthError) as info:
            push_image(reg.ref(f"{repo}:v1"), transport=bad)
        assert "authentication failed for user 'alice'" in str(info.value)
        assert secret not in str(info.value) and secret not in caplog.text


def test_token_scopes_pull_then_push(distribution_token: regs.Registry, repo: str) -> None:
    """A read first gets a pull token; the push must ask for pull,push (oras-py 0.2.43 fails)."""
    t = distribution_token.transport
    ref = distribution_token.ref(f"{repo}:v1")
    with pytest.raises(RegistryError):
        oci.resolve(ref, transport=t)
    push_image(ref, transport=t)
    oci.attach(make_record(), ref, transport=t)
    requests = distribution_token.extras["tokens"].requests
    assert any("pull%2Cpush" in r for r in requests)
    anonymous = Transport(plain_http=True, credentials=None)
    assert oci.pull(ref, transport=anonymous) == make_record()  # anonymous pull allowed
    with pytest.raises(RegistryAuthError):
        push_image(distribution_token.ref(f"{repo}:anon"), transport=anonymous)


def test_tls_unknown_ca_refused(distribution_tls: regs.Registry, repo: str) -> None:
    no_ca = dataclasses.replace(distribution_tls.transport, ca_file=None)
    with pytest.raises(RegistryError, match="TLS certificate not trusted"):
        oci.list_tags(distribution_tls.ref(repo), transport=no_ca)
    plain = dataclasses.replace(distribution_tls.transport, plain_http=True)
    with pytest.raises(RegistryError):
        oci.list_tags(distribution_tls.ref(repo), transport=plain)
    assert oci.list_tags(distribution_tls.ref(repo), transport=distribution_tls.transport) == []


def test_docker_config_credentials(
    distribution_tls: regs.Registry, repo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nameplate.oci._wire import basic_token

    (tmp_path / "config.json").write_text(
        json.dumps(
            {"auths": {distribution_tls.host: {"auth": basic_token(regs.USER, regs.PASSWORD)}}}
        )
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    t = dataclasses.replace(distribution_tls.transport, credentials=None)
    push_image(distribution_tls.ref(f"{repo}:v1"), transport=t)
    helper = tmp_path / "bin" / "docker-credential-np-test"
    helper.parent.mkdir()
    helper.write_text(
        f'#!/bin/sh\necho \'{{"Username":"{regs.USER}","Secret":"{regs.PASSWORD}"}}\'\n'
    )
    helper.chmod(0o755)
    (tmp_path / "config.json").write_text(
        json.dumps({"credHelpers": {distribution_tls.host: "np-test"}})
    )
    monkeypatch.setenv("PATH", f"{helper.parent}:/usr/bin:/bin")
    assert Repository(Client(distribution_tls.host, t), repo).tags() == ["v1"]


def test_chunked_upload_accepts_any_2xx(
    any_registry: regs.Registry, repo: str, tmp_path: Path
) -> None:
    t = dataclasses.replace(any_registry.transport, chunk_size=64 * 1024)
    blob = tmp_path / "blob"
    blob.write_bytes(bytes(range(256)) * 1000)
    desc = oci.push(blob, any_registry.ref(f"{repo}:chunked"), transport=t)
    man = oci.resolve(any_registry.ref(f"{repo}@{desc.digest}"), transport=t).json
    with oci.open_blob(any_registry.ref(repo), man["layers"][0]["digest"], transport=t) as f:
        assert f.read() == blob.read_bytes()


def test_exports_as_sibling_referrers(distribution: regs.Registry, repo: str) -> None:
    from nameplate import formats

    t = distribution.transport
    ref = distribution.ref(f"{repo}:v1")
    push_image(ref, transport=t)
    oci.attach(make_record(), ref, transport=t, exports=["cyclonedx-json", "spdx-2.3"])
    types = {d.artifact_type for d in oci.discover(ref, transport=t)}
    assert types == {
        oci.ARTIFACT_TYPE,
        formats.MEDIA_TYPES["cyclonedx-json"],
        formats.MEDIA_TYPES["spdx-2.3"],
    }
    assert len(oci.discover(ref, artifact_type="application/spdx+json", transport=t)) == 1


def test_not_an_index_fallback_is_refused(distribution: regs.Registry, repo: str) -> None:
    t = distribution.transport
    ref = distribution.ref(f"{repo}:v1")
    subject = push_image(ref, transport=t)
    # a torn mirror (skopeo sync without --all): the fallback tag names a plain manifest
    push_image(distribution.ref(f"{repo}:{m.referrers_tag(subject)}"), transport=t, seed="y")
    with pytest.raises(RegistryError, match="does not name an image index"):
        oci.attach(make_record(), ref, transport=t)
