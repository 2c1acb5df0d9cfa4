"""select on a repository of variant images (an OCI layout written at test time, records
attached as OCI 1.1 referrers) picks the right tag for real host fixtures, with reasons."""

from __future__ import annotations

import dataclasses

import pytest

from nameplate import oci
from nameplate.compat.profile import Host
from nameplate.compat.report import Verdict
from nameplate.compat.select import Found, crawl, rank, select

from ._helpers import (
    MPICH,
    OPENMPI,
    cpu_host,
    h200,
    hypre,
    variant,
    with_gpu,
    write_image,
    write_index,
)

REPLACE = "mpi_replace"

#: tag -> (target, mpi, cuda, sass, created)
VARIANTS = {
    "generic-openmpi": ("x86_64_v3", "openmpi", None, (), "2026-01-02T00:00:00Z"),
    "zen3-mpich": ("zen3", "mpich", None, (), "2026-01-02T00:00:00Z"),
    "zen4-openmpi": ("zen4", "openmpi", None, (), "2026-01-02T00:00:00Z"),
    "icelake-openmpi-cuda12": (
        "icelake",
        "openmpi",
        "12.4",
        ("sm_80", "sm_90"),
        "2026-01-02T00:00:00Z",
    ),
    "icelake-mpich-cuda13": (
        "icelake",
        "mpich",
        "13.0",
        ("sm_90", "sm_100"),
        "2026-01-03T00:00:00Z",
    ),
    "sapphirerapids-openmpi-cuda13": (
        "sapphirerapids",
        "openmpi",
        "13.0",
        ("sm_90",),
        "2026-01-02T00:00:00Z",
    ),
}
#: a multi-platform tag: amd64 generic (x86_64_v2) and arm64 neoverse_v1, both MPICH
MULTI = {"amd64": ("x86_64_v2", "mpich"), "arm64": ("neoverse_v1", "mpich")}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("variants") / "layout"
    layout = oci.Layout(path)
    base = hypre()
    for tag, (target, mpi, cuda, sass, created) in VARIANTS.items():
        digest = write_image(layout, tag, tag)
        rec = variant(
            base, target=target, mpi=mpi, cuda=cuda, sass=sass, created=created, mode=REPLACE
        )
        oci.attach(rec, f"oci:{path}@{digest}")
    digests = write_index(layout, "multi", [(f"multi-{a}", a) for a in MULTI])
    for digest, (arch, (target, mpi)) in zip(digests, MULTI.items(), strict=True):
        rec = variant(base, target=target, mpi=mpi, mode=REPLACE)
        oci.attach(rec, f"oci:{path}@{digest}", platform=f"linux/{arch}")
    write_image(layout, "no-record", "bare")
    return f"oci:{path}"


def _hosts() -> dict[str, Host]:
    return {
        "zen4+openmpi": cpu_host("linux-rocky8.5-zen4", mpi=(OPENMPI,)),
        "zen3+mpich": cpu_host("linux-ubuntu20.04-zen3", mpi=(MPICH,)),
        "h200+openmpi": dataclasses.replace(h200(), mpi=(OPENMPI,)),
        "h200+mpich": dataclasses.replace(h200(), mpi=(MPICH,)),
        "sapphirerapids+h100+openmpi": with_gpu(
            cpu_host("linux-unknown-sapphirerapids", mpi=(OPENMPI,)),
            cuda="13.0",
            driver="580.65.06",
            cc="9.0",
            name="NVIDIA H100",
        ),
        "neoverse_v1+mpich": cpu_host("linux-amazon-neoverse_v1", mpi=(MPICH,)),
        "icelake-vm+both": cpu_host("linux-debian12-icelake", mpi=(MPICH, OPENMPI)),
        "broadwell+no-mpi": cpu_host("linux-rhel7-broadwell"),
    }


TABLE = [
    ("zen4+openmpi", "zen4-openmpi", None),
    ("zen3+mpich", "zen3-mpich", None),
    ("h200+openmpi", "icelake-openmpi-cuda12", None),
    ("h200+mpich", "icelake-mpich-cuda13", None),
    ("sapphirerapids+h100+openmpi", "sapphirerapids-openmpi-cuda13", None),
    ("neoverse_v1+mpich", "multi", "linux/arm64"),
    ("icelake-vm+both", "generic-openmpi", None),
    ("broadwell+no-mpi", None, None),
]


@pytest.mark.parametrize(("host", "tag", "platform"), TABLE, ids=[t[0] for t in TABLE])
def test_select_picks_the_right_variant(
    repo: str, host: str, tag: str | None, platform: str | None
) -> None:
    sel = select(repo, _hosts()[host])
    best = sel.best
    if tag is None:
        assert best is None
        assert all("does not run" in c.why or "no record" in c.why for c in sel.candidates)
        return
    assert best is not None, [c.why for c in sel.candidates]
    assert (best.found.tag, best.found.platform) == (tag, platform), [
        (c.found.tag, c.why) for c in sel.candidates
    ]
    assert best.why.startswith("best: ")
    # every other candidate says why it lost
    for c in sel.candidates[1:]:
        assert c.why.startswith(("runs, but lost on", "does not run:", "no record:")), c.why


def test_reasons_name_the_rule(repo: str) -> None:
    sel = select(repo, _hosts()["h200+openmpi"])
    why = {c.found.tag: c.why for c in sel.candidates}
    assert "cpu.features" in why["sapphirerapids-openmpi-cuda13"]
    assert "mpi.abi-mismatch" in why["icelake-mpich-cuda13"]
    assert "lost on" in why["generic-openmpi"]
    assert why["no-record"].startswith("no record:")


def test_crawl_lists_platform_manifests(repo: str) -> None:
    found = list(crawl(repo))
    tags = sorted({f.tag for f in found})
    assert tags == sorted([*VARIANTS, "multi", "no-record"])
    multi = [f for f in found if f.tag == "multi"]
    assert sorted(f.platform or "" for f in multi) == ["linux/amd64", "linux/arm64"]
    assert all(f.record is not None for f in found if f.tag != "no-record")
    one = list(crawl(f"{repo}:zen3-mpich"))
    assert [f.tag for f in one] == ["zen3-mpich"]


def test_rank_is_pure_and_orders_by_specificity() -> None:
    base = hypre()
    found = [
        Found(ref=f"r@{t}", tag=t, digest=t, record=variant(base, target=t))
        for t in ("x86_64", "x86_64_v3", "zen3", "zen2")
    ]
    sel = rank(found, cpu_host("linux-rocky8.5-zen4"))
    assert [c.found.tag for c in sel.candidates] == ["zen3", "zen2", "x86_64_v3", "x86_64"]
    assert all(c.report is not None and c.report.verdict is Verdict.PASS for c in sel.candidates)
    assert "a less specific CPU target" in sel.candidates[1].why
    assert sel.to_dict()["best_tag"] == "zen3"
