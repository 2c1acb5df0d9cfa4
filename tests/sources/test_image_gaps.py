"""Gaps found on real images (``scripts/setup.d/40-images.sh``): a docker archive's tag named as
skopeo names it, an index whose platform disagrees with the image config, and ``attach`` of one
image's record to another."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from nameplate import oci
from nameplate.cli import cli
from nameplate.errors import SubjectMismatch
from nameplate.record import Record
from tests.sources.test_sif import OPTS, extract


@pytest.mark.parametrize("tag", ["holdout/a:tag", "docker.io/holdout/a:tag", "tag"])
def test_docker_archive_tag_as_skopeo_writes_it(images: Path, tag: str) -> None:
    """skopeo stores ``holdout/a:tag`` as ``docker.io/holdout/a:tag`` in RepoTags."""
    with tarfile.open(images / "docker.tar") as tf:
        member = tf.extractfile("manifest.json")
        assert member is not None
        tags = json.loads(member.read())
    assert tags[0]["RepoTags"] == ["docker.io/holdout/a:tag"]
    record = extract(f"docker-archive:{images / 'docker.tar'}:{tag}")
    assert len(record.components) > 100


def _arm64_index(images: Path, tmp_path: Path) -> Path:
    """The umoci layout with its manifest listed in an image index as linux/arm64 (its config
    says amd64): the index and the config disagree."""
    layout = tmp_path / "oci"
    shutil.copytree(images / "oci", layout)
    top = json.loads((layout / "index.json").read_text())
    (entry,) = top["manifests"]
    child = {k: v for k, v in entry.items() if k != "annotations"}
    child["platform"] = {"os": "linux", "architecture": "arm64"}
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [child],
        }
    ).encode()
    digest = hashlib.sha256(index).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(index)
    top["manifests"] = [
        {
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": f"sha256:{digest}",
            "size": len(index),
            "annotations": entry["annotations"],
        }
    ]
    (layout / "index.json").write_text(json.dumps(top))
    return layout


def test_index_platform_disagrees_with_config(
    images: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    layout = _arm64_index(images, tmp_path)
    with caplog.at_level("WARNING"):
        record = extract(f"oci:{layout}:deb", dataclasses.replace(OPTS, platform="linux/arm64"))
    assert record.subject.platform is None
    (unknown,) = [u for u in record.unknowns if u.field == "platform"]
    assert "linux/arm64" in unknown.reason and "linux/amd64" in unknown.reason
    assert any("the platform is unknown" in r.getMessage() for r in caplog.records)


def test_attach_refuses_another_images_record(
    images: Path, sif_record: Record, tmp_path: Path
) -> None:
    """A record of the SIF attached to the OCI layout of another image: refused (exit 3), unless
    --force; the layout's own record attaches."""
    layout = tmp_path / "oci"
    shutil.copytree(images / "oci", layout)
    target = f"oci:{layout}:deb"
    with pytest.raises(SubjectMismatch, match="--force"):
        oci.attach(sif_record, target)
    rec = tmp_path / "sif.json"
    rec.write_text(sif_record.to_json())
    refused = CliRunner().invoke(cli, ["attach", str(rec), "--to", target])
    assert refused.exit_code == 3, refused.output
    assert "--force" in refused.output
    forced = CliRunner().invoke(cli, ["attach", str(rec), "--to", target, "--force"])
    assert forced.exit_code == 0, forced.output
    own = extract(target)
    assert oci.attach(own, target).digest.startswith("sha256:")
