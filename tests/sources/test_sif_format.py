"""The SIF reader on a small SIF made by ``siftool`` (sylabs/sif 2.8, Debian), compared with what
``siftool list``/``header`` print, then fuzzed (Hypothesis): mutated headers and descriptor tables
raise only ``SourceError``. The license normaliser is fuzzed too: whatever a copyright file or a
License tag says, the result is a valid SPDX expression."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nameplate.errors import SourceError
from nameplate.formats.spdx2 import _valid_expression
from nameplate.sources.image.licenses import copyright_licenses, spdx_expression
from nameplate.sources.image.sif import FileReader, read_sif
from nameplate.sources.image.sifstore import sif_manifest
from tests.conftest import need
from tests.sources.test_squashfs import Bytes

SIFTOOL = shutil.which("siftool")
MKSQUASHFS = shutil.which("mksquashfs")


@pytest.fixture(scope="module")
def small_sif(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need(SIFTOOL is not None and MKSQUASHFS is not None, "siftool/mksquashfs (apt.d/images.txt)")
    tmp = tmp_path_factory.mktemp("sif")
    (tmp / "root" / "etc").mkdir(parents=True)
    (tmp / "root" / "etc" / "os-release").write_text('ID=debian\nVERSION_ID="12"\n')
    subprocess.run(
        [str(MKSQUASHFS), str(tmp / "root"), str(tmp / "r.sqfs"), "-noappend", "-quiet"],
        check=True,
        capture_output=True,
    )
    (tmp / "app.def").write_text("Bootstrap: scratch\n")
    (tmp / "labels.json").write_text(json.dumps({"org.label-schema.schema-version": "1.0"}))
    sif = tmp / "app.sif"

    def tool(*args: str) -> None:
        subprocess.run([str(SIFTOOL), *args], check=True, capture_output=True)

    tool("new", str(sif))
    tool("add", "--datatype", "1", str(sif), str(tmp / "app.def"))
    tool("add", "--datatype", "3", str(sif), str(tmp / "labels.json"))
    tool(
        "add", "--datatype", "4", "--parttype", "2", "--partfs", "1", "--partarch", "4",
        str(sif), str(tmp / "r.sqfs"),
    )  # fmt: skip
    return sif


def test_header_and_descriptors_as_siftool_lists_them(small_sif: Path) -> None:
    image = read_sif(FileReader(small_sif), where=str(small_sif))
    listed = subprocess.run(
        [str(SIFTOOL), "list", str(small_sif)], capture_output=True, text=True, check=True
    ).stdout
    rows = [line.split("|") for line in listed.splitlines() if line[:1].isdigit()]
    assert [int(r[0]) for r in rows] == [d.id for d in image.descriptors]
    for row, d in zip(rows, image.descriptors, strict=True):
        start, end = (int(x) for x in row[3].strip().split("-"))
        assert (start, end) == (d.offset, d.offset + d.size)
    assert [d.kind for d in image.descriptors] == ["deffile", "labels", "partition"]
    part = image.primary_partition()
    assert part is not None and (part.fs_type, part.part_type, part.arch) == (
        "squashfs",
        "primary-system",
        "arm64",
    )
    header = subprocess.run(
        [str(SIFTOOL), "header", str(small_sif)], capture_output=True, text=True, check=True
    ).stdout
    assert f"ID:                   {image.id}" in header
    man = sif_manifest(image, ref="app.sif", digest="sha256:" + "0" * 64)
    assert man.platform == "linux/arm64"
    assert man.annotations["nameplate.sif.deffile"] == "Bootstrap: scratch\n"
    assert man.config["config"]["Labels"] == {"org.label-schema.schema-version": "1.0"}


def test_not_a_sif_and_truncated(small_sif: Path) -> None:
    data = small_sif.read_bytes()
    with pytest.raises(SourceError, match="no SIF_MAGIC"):
        read_sif(Bytes(b"#!/bin/sh\n" + b"\0" * 200), where="x")
    with pytest.raises(SourceError):
        read_sif(Bytes(data[:3000]), where="x")


@pytest.mark.property
@given(st.data())
def test_fuzz_sif_raises_only_typed_errors(small_sif: Path, data: st.DataObject) -> None:
    original = small_sif.read_bytes()
    head = min(len(original), 40000)  # the header and the descriptor table
    buf = bytearray(original)
    for _ in range(data.draw(st.integers(1, 10))):
        buf[data.draw(st.integers(0, head - 1))] = data.draw(st.integers(0, 255))
    whole = bytes(buf)
    try:
        image = read_sif(Bytes(whole), where="fuzz")
        image.labels()
        man = sif_manifest(image, ref="fuzz", digest="sha256:" + "0" * 64)
        assert man.layers
    except SourceError:
        pass


@pytest.mark.property
@given(st.text(max_size=400))
def test_fuzz_license_texts_give_valid_spdx(text: str) -> None:
    for expression in copyright_licenses(text.encode("utf-8", "surrogatepass")):
        assert _valid_expression(expression), expression
    assert _valid_expression(spdx_expression(text))


@pytest.mark.property
@given(
    st.lists(
        st.sampled_from(
            [
                "GPL-2+",
                "LGPL-2.1",
                "BSD-3-clause",
                "Expat",
                "public-domain",
                "GPLv3+",
                "MIT",
                "Apache-2.0",
                "foo bar",
                "X11",
                "with",
                "or",
                "and",
                ",",
                "(",
                ")",
                "Perl",
            ]
        ),
        max_size=8,
    )
)
def test_fuzz_license_words_give_valid_spdx(words: list[str]) -> None:
    assert _valid_expression(spdx_expression(" ".join(words)))


@pytest.mark.parametrize(
    ("cpe_name", "want"),
    [  # CPE_NAME as these distributions' /etc/os-release write it
        ("cpe:/o:fedoraproject:fedora:39", "cpe:2.3:o:fedoraproject:fedora:39:*:*:*:*:*:*:*"),
        (
            "cpe:/o:redhat:enterprise_linux:9::baseos",
            "cpe:2.3:o:redhat:enterprise_linux:9:*:baseos:*:*:*:*:*",
        ),
        ("cpe:/o:opensuse:leap:15.5", "cpe:2.3:o:opensuse:leap:15.5:*:*:*:*:*:*:*"),
        ("cpe:/o:rocky:rocky:9::baseos", "cpe:2.3:o:rocky:rocky:9:*:baseos:*:*:*:*:*"),
        ("not a cpe", None),
    ],
)
def test_os_cpe_from_os_release(tmp_path: Path, cpe_name: str, want: str | None) -> None:
    from nameplate import formats, schema
    from nameplate.record import Component
    from nameplate.sources.image.ospkgs import find_os_packages
    from nameplate.tree import DirectoryTree
    from tests.formats.test_formats import _validate

    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "os-release").write_text(f'ID=x\nVERSION_ID="1"\nCPE_NAME="{cpe_name}"\n')
    found = find_os_packages(DirectoryTree(tmp_path))
    assert found.os is not None and found.os.cpe == want
    if want is None:
        return
    # a component with a CPE (as an imported SBOM gives one) is exported natively
    from tests.oci.conftest import make_record

    record = make_record()
    comp = Component(id="x:1", name="x", version="1", cpe=want)
    record = dataclasses.replace(record, components=(*record.components, comp))
    schema.validate(record.to_dict())
    cdx = json.loads(formats.encode(record, "cyclonedx-json"))
    assert any(c.get("cpe") == want for c in cdx["components"])
    for fmt in ("cyclonedx-json", "spdx-2.3", "spdx-3.0.1"):
        assert _validate(record, fmt) == [], fmt
