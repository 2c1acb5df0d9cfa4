"""The site the service tests serve: records extracted from the real fixture stores, tagged
variants of a repository (for select), one record with hostile strings, and host profiles.

- records: ``sources.extract_all`` on the Spack stores in ``shared/fixtures/spack/`` (Spack 1.3
  and 0.23, with and without CUDA) and the EasyBuild installation in
  ``shared/fixtures/easybuild/install``; keyed by their serials, as ``nameplate index FILE``
  would index them.
- ``registry.example.org/hpc/hypre``: the real hypre record rebuilt for other targets, MPIs and
  CUDA versions (``tests/compat/_helpers.variant``), one tag each, as a crawl of a registry
  would index them (keys ``REPO@DIGEST``; nothing is contacted).
- the hostile record: the real zlib-ng record with markup in its subject, a component name, a
  variant value, an annotation and an evidence detail.
- host profiles: real ``/proc/cpuinfo`` dumps (``tests/data/hosts``) with the C library, MPI and
  GPU facts of a partition each, and the H200 profile.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from nameplate import sources
from nameplate.compat.catalog import Catalog, Entry
from nameplate.compat.profile import Host, HostCxx, HostLibc
from nameplate.record import Component, Evidence, Record
from tests.compat._helpers import MPICH, OPENMPI, cpu_host, h200, hypre, variant
from tests.conftest import SHARED

STORES = [
    SHARED / "fixtures/spack/fake-store/opt/spack",
    SHARED / "fixtures/spack/fake-store-v0.23/opt/spack",
    SHARED / "fixtures/spack/fake-store-cuda/opt/spack",
    SHARED / "fixtures/easybuild/install",
]

REPO = "registry.example.org/hpc/hypre"

#: tag -> (target, mpi, cuda, sass, platform, created)
VARIANTS = {
    "3.1.0-x86_64_v3-openmpi-cuda12": (
        "x86_64_v3",
        "openmpi",
        "12.9",
        ("sm_80",),
        "linux/amd64",
        "2026-01-02T00:00:00Z",
    ),
    "3.1.0-zen4-openmpi": ("zen4", "openmpi", None, (), "linux/amd64", "2026-01-03T00:00:00Z"),
    "3.1.0-icelake-openmpi-cuda13": (
        "icelake",
        "openmpi",
        "13.0",
        ("sm_90",),
        "linux/amd64",
        "2026-01-04T00:00:00Z",
    ),
    "3.1.0-zen3-mpich": ("zen3", "mpich", None, (), "linux/amd64", "2026-01-05T00:00:00Z"),
    "3.1.0-neoverse_v2-openmpi": (
        "neoverse_v2",
        "openmpi",
        None,
        (),
        "linux/arm64",
        "2026-01-06T00:00:00Z",
    ),
}

SCRIPT = "<script>localStorage.setItem('np-sentinel','changed');document.title='pwned'</script>"
IMG = "<img src=x onerror=\"localStorage.setItem('np-sentinel','changed')\">"


def fixture_records() -> list[Record]:
    """Every record of the fixture stores."""
    out: list[Record] = []
    for store in STORES:
        out.extend(sources.extract_all(store))
    return out


def hostile(records: list[Record]) -> Record:
    """The zlib-ng record with markup wherever a record holds free text."""
    base = next(r for r in records if r.subject.name == "zlib-ng" and r.subject.version == "2.3.3")
    comps = list(base.components)
    comps[0] = dataclasses.replace(
        comps[0], options={**comps[0].options, "note": '"><svg onload=alert(1)>'}
    )
    comps.append(Component(id="hostile:1", name=IMG, version="1.0", ecosystem="generic"))
    return dataclasses.replace(
        base,
        serial="urn:uuid:00000000-0000-4000-8000-00000000bad1",
        subject=dataclasses.replace(base.subject, name=SCRIPT, version="6.6.6"),
        components=tuple(comps),
        annotations={**base.annotations, "org.example.note": SCRIPT},
        evidence=(*base.evidence, Evidence(kind="file", path="/etc/" + IMG, detail=SCRIPT)),
    )


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def repo_entries() -> list[Entry]:
    """The tagged variants of ``REPO``, one manifest each."""
    base = hypre()
    out = []
    for tag, (target, mpi, cuda, sass, platform, created) in VARIANTS.items():
        rec = variant(
            base, target=target, mpi=mpi, cuda=cuda, sass=sass, created=created, mode="mpi_replace"
        )
        ref = f"{REPO}@{_digest(tag)}"
        out.append(Entry(record=rec, ref=ref, repository=REPO, tag=tag, platform=platform))
    return out


def hosts() -> dict[str, Host]:
    """The site's partitions."""
    return {
        "gpu-h200": dataclasses.replace(h200(), mpi=(OPENMPI,)),
        "cpu-icelake": cpu_host("linux-debian12-icelake", mpi=(OPENMPI,)),
        "cpu-zen4": cpu_host(
            "linux-rocky8.5-zen4",
            libc=HostLibc(family="glibc", version="2.28"),
            cxx=HostCxx(glibcxx="3.4.25", cxxabi="1.3.11"),
            mpi=(MPICH,),
        ),
        "arm-grace": cpu_host(
            "linux-rhel9-neoverse_v2",
            libc=HostLibc(family="glibc", version="2.34"),
            cxx=HostCxx(glibcxx="3.4.29", cxxabi="1.3.13"),
            mpi=(OPENMPI,),
        ),
        "legacy-haswell": cpu_host(
            "linux-rhel7-haswell",
            libc=HostLibc(family="glibc", version="2.17"),
            cxx=HostCxx(glibcxx="3.4.19", cxxabi="1.3.7"),
        ),
    }


def write_hosts(folder: Path, names: list[str] | None = None) -> Path:
    """``NAME.json`` for each site host (as ``nameplate host -f json`` writes them)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, host in hosts().items():
        if names is None or name in names:
            (folder / f"{name}.json").write_text(dataclasses.replace(host, name=name).to_json())
    return folder


def fill(url: str, records: list[Record], *, with_hostile: bool = True) -> dict[str, str]:
    """Index the site into the catalog at ``url``; returns ids by a short name."""
    entries = [Entry(record=r) for r in records] + repo_entries()
    ids = {f"{r.subject.name}@{r.subject.version}": r.serial for r in records}
    if with_hostile:
        bad = hostile(records)
        entries.append(Entry(record=bad))
        ids["hostile"] = bad.serial
    with Catalog.open(url) as cat:
        cat.add_many(entries)
        cat.analyze()
    for e in repo_entries():
        ids[f"hypre:{e.tag}"] = e.key
    return ids


def profile_json(name: str) -> str:
    """A site host's profile JSON."""
    return json.dumps(dataclasses.replace(hosts()[name], name=name).to_dict())
