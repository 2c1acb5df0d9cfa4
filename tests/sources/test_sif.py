"""SIF images, real ones: a Debian rootfs made by mmdebstrap (Open MPI, libgomp, python3-minimal),
turned into a SIF by mksquashfs + siftool, an OCI layout by umoci, a docker archive and a zstd copy
by skopeo (``scripts/setup.d/40-images.sh``; kept out of git under ``.cache/images``), and the SIF
pushed to a real registry the way ``apptainer push oras://`` lays it out (with the oras CLI).

Every form gives the same packages (100 % against ``dpkg-query -W --admindir``), OS, MPI and libc
facts; the registry SIF is read by byte ranges, well under its size."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from nameplate import schema
from nameplate.cli import cli
from nameplate.record import Record
from nameplate.sources import ExtractOptions, image
from tests.conftest import FIXED_TIME, ROOT, need
from tests.oci import registries as regs

IMAGES = ROOT / ".cache" / "images"
OPTS = ExtractOptions(clock=FIXED_TIME, platform="linux/amd64")
SIF_CONFIG = "application/vnd.sylabs.sif.config.v1+json"
SIF_LAYER = "application/vnd.sylabs.sif.layer.v1.sif"


def dpkg_query(rootfs: Path) -> set[tuple[str, str, str]]:
    """(name, version, arch) of every installed package, as dpkg itself lists them."""
    out = subprocess.run(
        [
            "dpkg-query",
            "-W",
            f"--admindir={rootfs / 'var/lib/dpkg'}",
            "-f",
            "${db:Status-Status} ${Package} ${Version} ${Architecture}\n",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {tuple(line.split()[1:]) for line in out.splitlines() if line.startswith("installed ")}  # type: ignore[misc]


def extract(ref: str, options: ExtractOptions = OPTS) -> Record:
    (record,) = image.extract_all(ref, options)
    schema.validate(record.to_dict())
    return record


def packages(record: Record) -> set[tuple[str, str, str]]:
    return {
        (c.name, c.version, str(c.purl).split("arch=")[1].split("&")[0])
        for c in record.components
        if c.ecosystem == "deb"
    }


def facts(record: Record) -> dict[str, Any]:
    """What must not depend on the form the image takes."""
    comps = sorted((c.id, c.purl, c.licenses, tuple(sorted(c.found_by))) for c in record.components)
    return {"components": comps, "hpc": record.to_dict()["hpc"]}


@pytest.fixture(scope="session")
def layout_record(images: Path) -> Record:
    return extract(f"oci:{images / 'oci'}:deb")


def test_sif_packages_are_dpkgs_own(images: Path, sif_record: Record) -> None:
    want = dpkg_query(images / "rootfs")
    assert len(want) > 100
    assert packages(sif_record) == want


def test_sif_same_record_as_layout_archive_and_zstd(
    images: Path, sif_record: Record, layout_record: Record
) -> None:
    assert facts(sif_record) == facts(layout_record)
    for ref in (f"docker-archive:{images / 'docker.tar'}", f"oci:{images / 'oci-zstd'}:deb"):
        assert facts(extract(ref)) == facts(layout_record), ref
    hpc = sif_record.hpc
    assert hpc.os is not None and (hpc.os.name, hpc.os.version) == ("debian", "12")
    assert hpc.mpi is not None and hpc.mpi.soname == "libmpi.so.40"
    assert hpc.mpi.abi == "openmpi"
    assert hpc.libc is not None and hpc.libc.version == "2.36"


def test_sif_metadata(images: Path, sif_record: Record) -> None:
    """The SIF's own metadata: id and arch from the header (as ``siftool header`` prints them),
    the definition file, and the labels as image labels; the subject is the file's sha256."""
    header = subprocess.run(
        ["siftool", "header", str(images / "app.sif")], capture_output=True, text=True, check=True
    ).stdout
    fields = dict(
        (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in header.splitlines())
    )
    notes = sif_record.annotations
    assert notes["nameplate.sif.id"] == fields["ID"]
    assert notes["nameplate.sif.arch"] == fields["Primary Architecture"]
    assert notes["nameplate.sif.deffile"] == (images / "app.def").read_text()
    labels = json.loads((images / "labels.json").read_text())
    assert {k: notes[k] for k in labels} == labels
    import hashlib

    digest = hashlib.sha256((images / "app.sif").read_bytes()).hexdigest()
    assert sif_record.subject.digest == f"sha256:{digest}"
    assert sif_record.subject.platform == "linux/amd64"


def test_sif_prefix_and_check(images: Path, sif_record: Record) -> None:
    """``sif:PATH`` names the same image; ``check app.sif`` judges it like any target."""
    again = extract(f"sif:{images / 'app.sif'}")
    assert facts(again) == facts(sif_record)
    result = CliRunner().invoke(cli, ["check", str(images / "app.sif"), "-f", "json"])
    assert result.exit_code in (0, 1, 3), result.output
    assert "verdict" in result.output


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[regs.Registry]:
    need(regs.DOCKER_REGISTRY is not None, "docker-registry not installed (scripts/apt.d/oci.txt)")
    yield from regs.running(regs.start_distribution(tmp_path_factory.mktemp("sif"), auth="none"))


def push_sif(sif: Path, ref: str, tmp: Path) -> None:
    """What ``apptainer push app.sif oras://REF`` sends: an empty ``{}`` config of the SIF config
    type and one layer, the SIF file, titled ``image.sif``."""
    need(regs.ORAS is not None, "oras CLI not installed (scripts/setup.d/20-oci.sh)")
    shutil.copyfile(sif, tmp / "image.sif")
    (tmp / "config.json").write_text("{}")
    regs.oras(
        "push",
        "--plain-http",
        ref,
        "--config",
        f"config.json:{SIF_CONFIG}",
        f"image.sif:{SIF_LAYER}",
        cwd=tmp,
    )


def test_sif_in_registry_read_by_ranges(
    images: Path,
    sif_record: Record,
    registry: regs.Registry,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ref = registry.ref("hpc/debian-mpi") + ":sif"
    push_sif(images / "app.sif", ref, tmp_path)
    options = ExtractOptions(clock=FIXED_TIME, transport=registry.transport)
    with caplog.at_level(logging.INFO, logger="nameplate.sources.image.extract"):
        record = extract(ref, options)
    assert facts(record) == facts(sif_record)
    size = (images / "app.sif").stat().st_size
    fetched = [r for r in caplog.records if "fetched" in r.getMessage()]
    assert fetched, "the ranged read reports what it fetched"
    got = fetched[-1].args
    assert isinstance(got, tuple)
    assert got[2] == size and 0 < got[1] < size // 2, got
    assert record.annotations["nameplate.sif.digest"] == sif_record.subject.digest
    assert record.subject.version == "sif"


def test_record_of_the_sif_file_attaches_to_its_artifact(
    images: Path, sif_record: Record, registry: regs.Registry, tmp_path: Path
) -> None:
    """The record of app.sif names the file's sha256, which is the pushed artifact's SIF layer:
    attach accepts it there, and refuses it on another image."""
    from nameplate import oci
    from nameplate.errors import SubjectMismatch

    ref = registry.ref("hpc/attach-sif") + ":sif"
    push_sif(images / "app.sif", ref, tmp_path)
    desc = oci.attach(sif_record, ref, transport=registry.transport)
    assert desc.digest.startswith("sha256:")
    other = registry.ref("hpc/attach-sif") + ":other"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "image.sif").write_bytes(b"not the same SIF")
    (tmp_path / "other" / "config.json").write_text("{}")
    regs.oras(
        "push", "--plain-http", other, "--config", f"config.json:{SIF_CONFIG}",
        f"image.sif:{SIF_LAYER}", cwd=tmp_path / "other",
    )  # fmt: skip
    with pytest.raises(SubjectMismatch):
        oci.attach(sif_record, other, transport=registry.transport)
