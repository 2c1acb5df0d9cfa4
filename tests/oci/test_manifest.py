"""Pure manifest code: digests over exact bytes, descriptors, the fallback tag."""

from __future__ import annotations

import json

import pytest

from nameplate.errors import RegistryError
from nameplate.oci import manifest as m


def test_empty_descriptor_is_the_spec_one() -> None:
    assert (
        m.EMPTY.digest == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )
    assert m.EMPTY.to_dict()["data"] == "e30="


def test_artifact_manifest_shape_and_digest() -> None:
    layer = m.Descriptor(media_type=m.RECORD_LAYER_TYPE, digest=m.digest_of(b"x"), size=1)
    subject = m.Descriptor(
        media_type=m.MANIFEST, digest=m.digest_of(b"s"), size=1, annotations={"dropped": "yes"}
    )
    data = m.artifact_manifest(
        artifact_type=m.ARTIFACT_TYPE,
        layers=[layer],
        subject=subject,
        annotations={"b": "2", "a": "1"},
    )
    doc = json.loads(data)
    assert doc["artifactType"] == m.ARTIFACT_TYPE
    assert doc["config"]["mediaType"] == m.EMPTY_TYPE
    assert "annotations" not in doc["subject"]
    assert data == m.canonical_json(doc)  # compact, sorted: bytes are what we hash
    assert m.artifact_type_of(doc) == m.ARTIFACT_TYPE
    assert m.subject_of(doc) == subject.digest


def test_compat_manifest_has_type_in_config() -> None:
    config = m.Descriptor(media_type=m.CONFIG_COMPAT_TYPE, digest=m.EMPTY.digest, size=2)
    doc = json.loads(
        m.artifact_manifest(
            artifact_type=m.ARTIFACT_TYPE,
            layers=[],
            subject=None,
            annotations={},
            compat=True,
            config=config,
        )
    )
    assert "artifactType" not in doc
    assert m.artifact_type_of(doc) == m.CONFIG_COMPAT_TYPE
    assert doc["layers"] == [m.EMPTY.to_dict()]


def test_referrers_tag() -> None:
    assert m.referrers_tag("sha256:" + "ab" * 32) == "sha256-" + "ab" * 32


@pytest.mark.parametrize(
    "data",
    [
        b"[]",
        b"{",
        b'{"schemaVersion":1}',
        b'{"schemaVersion":2,"config":{}}',
        b'{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:00","size":1}]}',
        b'{"schemaVersion":2,"manifests":{}}',
        b'{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"sha256:'
        + b"0" * 64
        + b'","size":-1}}',
    ],
)
def test_parse_rejects(data: bytes) -> None:
    with pytest.raises(RegistryError):
        m.parse_manifest(data)


def test_bad_media_type() -> None:
    with pytest.raises(RegistryError):
        m.artifact_manifest(artifact_type="not a type", layers=[], subject=None, annotations={})
