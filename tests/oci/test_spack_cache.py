"""The OCI build cache that Spack 1.3 pushed itself (``tests/data/spack/spack1.3-oci-buildcache``,
5 spec images and ``index.spack``), loaded byte for byte into distribution 2.8.2 and ggcr:
``nameplate attach --spack-cache`` gives each spec image one record of its spec (signed), a
second run attaches nothing, Spack's manifests, tags and ``index.spack`` are unchanged, and
``select`` picks a spec image for a host.

The fixture lacks one blob (the 10 MB gcc-runtime tarball, a layer of 4 images; see
``tests/data/spack/PROVENANCE.md``). ggcr stores manifests whose layers it has not seen;
distribution refuses them, so a stand-in of the listed size is put in its storage. The record of
gcc-runtime, whose own tarball that is, says it could not be read (missing on ggcr, not matching
its digest on distribution): an unknown, never a failed attach.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from nameplate import oci, sign
from nameplate.cli import cli
from nameplate.oci import manifest as m
from tests.conftest import DATA
from tests.sign.keys import pem_pair

from . import registries as regs

pytestmark = pytest.mark.service

CACHE = DATA / "spack" / "spack1.3-oci-buildcache"
SPEC_TAGS = {
    # the nodes of the spec in each image's config
    "omp-fortran-hello-1.0-cw5cxc5hhixi7gulbvy42ghde7cah776.spack": ("omp-fortran-hello", 9),
    "zstd-1.5.4-kiaxfa2ktv6lqnzpvnm6idtmq247xekb.spack": ("zstd", 8),
    "xz-5.4.1-jc3kmofwtwai5bglz6cbp22o7p4cfw23.spack": ("xz", 6),
    "gcc-runtime-12.2.0-6ax4uhtlybyiruf6b2pvqsnpkvvpodzi.spack": ("gcc-runtime", 3),
    "compiler-wrapper-1.1.0-ggm6hhbbhwyrzsbdm44g5kac3nh7se27.spack": ("compiler-wrapper", 1),
}


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), prog_name="nameplate", env=env)
    return result.exit_code, result.stdout, result.stderr


def _index() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((CACHE / "index.json").read_text())["manifests"]
    return entries


def load_cache(reg: regs.Registry, repo: str) -> str:
    """Push the fixture's blobs and manifests (exact bytes) under Spack's tags."""
    base = f"{reg.host}/{repo}"
    st, _ = oci.open_store(f"{base}:x", transport=reg.transport)
    for entry in _index():
        data = (CACHE / "blobs/sha256" / entry["digest"][7:]).read_bytes()
        doc = json.loads(data)
        for blob in [doc["config"], *doc["layers"]]:
            path = CACHE / "blobs/sha256" / blob["digest"][7:]
            if path.is_file():
                st.put_blob(io.BytesIO(path.read_bytes()), blob["digest"], blob["size"])
            elif reg.flavour != "ggcr":
                _stand_in(reg, repo, blob["digest"], blob["size"])
        tag = entry["annotations"][m.ANNOTATION_REF_NAME]
        assert st.put_manifest(data, entry["mediaType"], tag=tag).digest == entry["digest"]
    return base


def _stand_in(reg: regs.Registry, repo: str, digest: str, size: int) -> None:
    """A blob the fixture lacks, in distribution's filesystem storage (a sparse file)."""
    root = reg.folder / "data" / "docker" / "registry" / "v2"
    hexpart = digest.split(":", 1)[1]
    data = root / "blobs" / "sha256" / hexpart[:2] / hexpart / "data"
    data.parent.mkdir(parents=True, exist_ok=True)
    with data.open("wb") as f:
        f.truncate(size)
    link = root / "repositories" / repo / "_layers" / "sha256" / hexpart / "link"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.write_text(digest)


def snapshot(base: str, reg: regs.Registry) -> dict[str, bytes]:
    """Every Spack tag's manifest bytes, and the bytes of index.spack's layer."""
    st, _ = oci.open_store(f"{base}:x", transport=reg.transport)
    out = {}
    for entry in _index():
        tag = entry["annotations"][m.ANNOTATION_REF_NAME]
        out[tag] = st.resolve(tag).data
    layer = json.loads(out["index.spack"])["layers"][0]["digest"]
    with st.open_blob(layer) as f:
        out["index.spack layer"] = f.read()
    return out


@pytest.mark.parametrize("kind", ["distribution", "ggcr"])
def test_every_spec_image_gets_one_record_spack_unchanged(
    kind: str, request: pytest.FixtureRequest, repo: str, tmp_path: Path
) -> None:
    reg: regs.Registry = request.getfixturevalue(kind)
    base = load_cache(reg, repo)
    before = snapshot(base, reg)
    for entry in _index():  # loaded byte for byte
        assert m.digest_of(before[entry["annotations"][m.ANNOTATION_REF_NAME]]) == entry["digest"]
    tags_before = set(oci.list_tags(base, internal=True, transport=reg.transport))
    key, pub = pem_pair(tmp_path, "site")
    env = {"NAMEPLATE_PLAIN_HTTP": reg.host}

    code, out, err = run("attach", "--spack-cache", base, "--sign", str(key), env=env)
    assert code == 0, out + err
    assert "5 spec images: 5 records attached, 0 signed, 0 already present" in out
    assert "zstd-1.5.4-kiaxfa2ktv6lqnzpvnm6idtmq247xekb.spack (zstd@1.5.4/kiaxfa2)" in out
    referrers_after_first = {
        t: len(oci.discover(f"{base}:{t}", transport=reg.transport)) for t in SPEC_TAGS
    }
    tags_after_first = set(oci.list_tags(base, internal=True, transport=reg.transport))

    code, out, err = run("attach", "--spack-cache", base, "--sign", str(key), env=env)
    assert code == 0, out + err
    assert "5 spec images: 0 records attached, 0 signed, 5 already present" in out
    assert {
        t: len(oci.discover(f"{base}:{t}", transport=reg.transport)) for t in SPEC_TAGS
    } == referrers_after_first
    assert set(oci.list_tags(base, internal=True, transport=reg.transport)) == tags_after_first

    # Spack's manifests, tags and index.spack: byte-identical; no Spack tag added or lost
    assert snapshot(base, reg) == before
    assert tags_before <= tags_after_first
    new = tags_after_first - tags_before
    assert all(oci.is_internal_tag(t) for t in new), new
    assert set(oci.list_tags(base, transport=reg.transport)) == tags_before
    assert all(not t.endswith(".spack") for t in new)  # Spack's update-index reads *.spack only
    assert oci.discover(f"{base}:index.spack", transport=reg.transport) == []

    trusted = sign.load_trusted([pub])
    for tag, (name, components) in SPEC_TAGS.items():
        records = oci.discover(
            f"{base}:{tag}", artifact_type=oci.ARTIFACT_TYPE, transport=reg.transport
        )
        assert len(records) == 1, tag
        record = oci.pull(f"{base}:{tag}", transport=reg.transport)
        root = record.component(record.roots[0])
        assert root is not None and root.name == name
        assert any(
            h.algorithm == "spack-dag" and tag.endswith(f"-{h.value}.spack") for h in root.hashes
        )
        assert len(record.components) == components
        assert record.subject.digest == m.digest_of(before[tag])
        # the root's install tarball is read for its .spack/ (Spack's SBOM); the fixture lacks
        # gcc-runtime's, which its record says (an unknown), never a failed attach
        not_read = [u for u in record.unknowns if "install tarball not read" in u.reason]
        assert bool(not_read) == (name == "gcc-runtime"), [u.reason for u in not_read]
        verified = oci.verify(f"{base}:{tag}", trusted, transport=reg.transport)
        assert len(verified.trusted) == 1 and verified.refusals == ()


def test_select_picks_a_spec_image(distribution: regs.Registry, repo: str, tmp_path: Path) -> None:
    from nameplate.compat.profile import Host, HostLibc, cpu_from_cpuinfo

    base = load_cache(distribution, repo)
    env = {"NAMEPLATE_PLAIN_HTTP": distribution.host}
    key, pub = pem_pair(tmp_path, "site")
    code, out, err = run(
        "attach",
        "--spack-cache",
        base,
        "--tag",
        "omp-*",
        "--tag",
        "zstd-*",
        "--sign",
        str(key),
        env=env,
    )
    assert code == 0 and "2 records attached" in out, out + err
    hosts = {}
    for name in ("linux-debian12-icelake", "linux-rhel7-haswell"):
        cpu = cpu_from_cpuinfo((DATA / "hosts" / f"{name}.cpuinfo").read_text())
        hosts[name] = tmp_path / f"{name}.json"
        hosts[name].write_text(
            Host(cpu=cpu, libc=HostLibc(family="glibc", version="2.36")).to_json()
        )
    code, out, err = run(
        "select", base, "--host", str(hosts["linux-debian12-icelake"]), "-f", "json", env=env
    )
    sel = json.loads(out)
    assert code == 0, out + err
    assert sel["best_tag"] in SPEC_TAGS and sel["best_tag"].startswith(
        ("omp-fortran-hello", "zstd")
    )
    by_tag = {c["tag"]: c for c in sel["candidates"]}
    assert by_tag["index.spack"]["verdict"] == "unknown"  # the index has no record
    assert "no record" in by_tag["xz-5.4.1-jc3kmofwtwai5bglz6cbp22o7p4cfw23.spack"]["why"]
    code, out, _ = run(
        "select",
        base,
        "--host",
        str(hosts["linux-debian12-icelake"]),
        "--key",
        str(pub),
        "-f",
        "json",
        env=env,
    )
    assert code == 0 and json.loads(out)["best_tag"] == sel["best_tag"]
    # x86_64_v4 binaries do not run on haswell
    code, out, _ = run("select", base, "--host", str(hosts["linux-rhel7-haswell"]), env=env)
    assert code == 1 and "best: none" in out and "x86_64_v4" in out


def test_unsigned_then_signed_then_nothing(ggcr: regs.Registry, repo: str, tmp_path: Path) -> None:
    base = load_cache(ggcr, repo)
    env = {"NAMEPLATE_PLAIN_HTTP": ggcr.host}
    key, pub = pem_pair(tmp_path, "site", "ed25519")
    code, out, _ = run("attach", "--spack-cache", base, "--tag", "xz-*", env=env)
    assert code == 0 and "1 records attached, 0 signed" in out
    code, out, _ = run(
        "attach", "--spack-cache", base, "--tag", "xz-*", "--sign", str(key), env=env
    )
    assert code == 0 and "0 records attached, 1 signed, 0 already present" in out
    code, out, _ = run(
        "attach", "--spack-cache", base, "--tag", "xz-*", "--sign", str(key), env=env
    )
    assert code == 0 and "1 already present" in out
    tag = "xz-5.4.1-jc3kmofwtwai5bglz6cbp22o7p4cfw23.spack"
    code, out, _ = run("verify", f"{base}:{tag}", "--key", str(pub), env=env)
    assert code == 0 and "1 of 1 record signed" in out


def test_a_key_that_cannot_sign_pushes_nothing(
    ggcr: regs.Registry, repo: str, tmp_path: Path
) -> None:
    base = load_cache(ggcr, repo)
    rsa_key, _ = pem_pair(tmp_path, "rsa", "rsa")
    tags = oci.list_tags(base, internal=True, transport=ggcr.transport)
    code, out, err = run(
        "attach",
        "--spack-cache",
        base,
        "--sign",
        str(rsa_key),
        env={"NAMEPLATE_PLAIN_HTTP": ggcr.host},
    )
    assert code == 3 and "ECDSA P-256 or Ed25519" in err and out == ""
    assert oci.list_tags(base, internal=True, transport=ggcr.transport) == tags
    assert all(oci.discover(f"{base}:{t}", transport=ggcr.transport) == [] for t in SPEC_TAGS)
    code, _, err = run("attach", "rec.json", "--spack-cache", base)
    assert code == 2


def test_a_layout_of_the_cache(tmp_path: Path) -> None:
    layout = tmp_path / "cache"
    shutil.copytree(CACHE, layout)
    before = {p.name: p.read_bytes() for p in (layout / "blobs/sha256").iterdir()}
    index_before = json.loads((layout / "index.json").read_text())["manifests"]
    key, pub = pem_pair(tmp_path, "site")
    code, out, err = run("attach", "--spack-cache", f"oci:{layout}", "--sign", str(key))
    assert code == 0 and "5 records attached" in out, out + err
    code, out, _ = run("attach", "--spack-cache", f"oci:{layout}", "--sign", str(key))
    assert code == 0 and "5 already present" in out
    after = json.loads((layout / "index.json").read_text())["manifests"]
    assert [
        e
        for e in after
        if m.ANNOTATION_REF_NAME in e.get("annotations", {})
        and not oci.is_internal_tag(e["annotations"][m.ANNOTATION_REF_NAME])
    ] == index_before
    assert all(
        (layout / "blobs/sha256" / name).read_bytes() == data for name, data in before.items()
    )
    code, out, _ = run(
        "verify",
        f"oci:{layout}:zstd-1.5.4-kiaxfa2ktv6lqnzpvnm6idtmq247xekb.spack",
        "--key",
        str(pub),
    )
    assert code == 0
