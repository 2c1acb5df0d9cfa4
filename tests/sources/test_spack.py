"""The Spack source on real Spack data: every format, against Spack's own `spack find --json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nameplate import schema, sources
from nameplate.record import Record
from nameplate.sources import ExtractOptions, spack
from nameplate.sources.spack import extract as spack_extract
from nameplate.sources.spack.specfile import specfile_version
from tests.conftest import DATA, FIXED_TIME

SPACK = DATA / "spack"
STORES = {
    "spack1.3-fake-store": 68,
    "spack0.23-fake-store": 40,
    "spack1.3-cuda-store": 55,
}
TEST_DATA = SPACK / "spack-test-data"


def opts(**kw: Any) -> ExtractOptions:
    return ExtractOptions(clock=FIXED_TIME, **kw)


def extract_all(path: Path, **kw: Any) -> list[Record]:
    records = sources.extract_all(path, kind="spack", options=opts(**kw))
    for r in records:
        schema.validate(r.to_dict())
        assert Record.from_dict(r.to_dict()) == r
    return records


def combined(path: Path, **kw: Any) -> Record:
    (record,) = extract_all(path, combined=True, **kw)
    return record


# ------------------------------------------------------------------ every fixture extracts


@pytest.mark.parametrize(
    "path",
    [
        *(f"{s}/opt/spack" for s in STORES),
        *(f"{s}/env" for s in STORES),
        "lockfile-v7-groups",
        *(
            f"spack-test-data/specfiles/hdf5.{v}.json"
            for v in ("v013", "v016", "v017", "v019", "v020")
        ),
        *(f"spack-test-data/legacy_env/{v}.lock" for v in ("v1", "v2", "v3", "v4", "spack")),
        "spack-test-data/mirrors/legacy_yaml",
        "spack-test-data/mirrors/legacy_layout",
        "spack-test-data/mirrors/v1_layout",
        "spack-test-data/mirrors/v2_layout/unsigned",
        "spack-test-data/mirrors/v2_layout/signed",
        "spack-test-data/mirrors/signed_json",
        "spack-test-data/mirrors/legacy_yaml/build_cache/index.json",
        "spack-test-data/mirrors/v2_layout/unsigned/build_cache/index.json",
        "spack-test-data/database/index.json.v7_v8.json",
        "spack1.3-fake-store/buildcache/file-v3-unsigned",
        "spack1.3-fake-store/buildcache/file-v3-signed",
        "spack1.3-fake-store/opt/spack/linux-icelake/zlib-ng-2.3.3-g32vemqewbcc2j2pcffahyu2y4kfw4t6",
    ],
)
def test_every_fixture_extracts_into_valid_records(path: str) -> None:
    records = extract_all(SPACK / path)
    assert records
    for r in records:
        assert r.components and r.roots
        assert all(c.ecosystem == "spack" for c in r.components)


def test_specfile_versions_are_detected() -> None:
    expected = {"v013": 1, "v016": 1, "v017": 2, "v019": 3, "v020": 4}
    for name, version in expected.items():
        data = json.loads((TEST_DATA / "specfiles" / f"hdf5.{name}.json").read_text())
        assert specfile_version(data, "x") == version
    prefix = next((SPACK / "spack1.3-fake-store/opt/spack/linux-icelake").glob("hdf5-*"))
    data = json.loads((prefix / ".spack/spec.json").read_text())
    assert specfile_version(data, "x") == 5


# ------------------------------------------------------------------ ground truth: spack find --json


def _compilers_of(node: dict[str, Any], by_hash: dict[str, dict[str, Any]]) -> set[str]:
    if "compiler" in node:
        return {f"{node['compiler']['name']}@{node['compiler']['version']}"}
    out = set()
    for dep in node.get("dependencies", []):
        if set(dep["parameters"].get("virtuals", [])) & {"c", "cxx", "fortran"}:
            target = by_hash[dep["hash"]]
            out.add(f"{target['name']}@{target['version']}")
    return out


def _target_name(node: dict[str, Any]) -> str:
    t = node["arch"]["target"]
    return t if isinstance(t, str) else t["name"]


@pytest.mark.parametrize("store", sorted(STORES))
def test_store_equals_spack_find_json(store: str) -> None:
    truth = json.loads((SPACK / store / "spack-find.json").read_text())
    assert len(truth) == STORES[store]
    by_hash = {n["hash"]: n for n in truth}
    record = combined(SPACK / store / "opt/spack")
    comps = {c.id.removeprefix("spack:"): c for c in record.components if c.id.startswith("spack:")}
    # Every installed record Spack lists is a node of the record, and nothing else is.
    assert set(comps) == set(by_hash)
    edges: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {}
    for e in record.dependencies:
        if e.dependency.startswith("spack:"):
            edges.setdefault(e.dependent.removeprefix("spack:"), {})[
                e.dependency.removeprefix("spack:")
            ] = (e.types, e.virtuals)
    by_id = {c.id: c for c in record.components}
    for h, comp in comps.items():
        node = by_hash[h]
        assert (comp.name, comp.version) == (node["name"], node["version"])
        assert comp.target is not None and comp.target.name == _target_name(node)
        want_edges = {
            d["hash"]: (
                tuple(d["parameters"]["deptypes"]),
                tuple(sorted(d["parameters"].get("virtuals", []))),
            )
            for d in node.get("dependencies", [])
        }
        got_edges = {k: (tuple(v[0]), v[1]) for k, v in edges.get(h, {}).items()}
        assert got_edges == {
            k: (tuple(sorted(t, key=_DEP_ORDER.index)), v) for k, (t, v) in want_edges.items()
        }
        # compilers: 1.x edges to compiler nodes, pre-1.0 the node's compiler attribute
        got_compilers = {
            f"{by_id[e.dependency].name}@{by_id[e.dependency].version}"
            for e in record.dependencies
            if e.dependent == comp.id
            and (
                set(e.virtuals) & {"c", "cxx", "fortran"}
                or e.dependency.startswith("spack-compiler:")
            )
        }
        if not comp.external:
            assert got_compilers == _compilers_of(node, by_hash), comp.name
        assert comp.explicit is not None


_DEP_ORDER = ["build", "link", "run", "test"]


def test_pre_1_0_and_1_x_compilers_fill_the_same_fields() -> None:
    new = extract_all(SPACK / "spack1.3-fake-store/opt/spack", roots=("hdf5",))[0]
    old = extract_all(SPACK / "spack0.23-fake-store/opt/spack", roots=("hdf5",))[0]
    for record in (new, old):
        (compiler,) = record.hpc.compilers
        assert (compiler.name, compiler.version) == ("gcc", "12.2.0")
        assert compiler.component and record.component(compiler.component).kind == "compiler"  # type: ignore[union-attr]
        assert record.hpc.mpi is not None and record.hpc.mpi.abi == "openmpi"
        assert record.hpc.target is not None and record.hpc.target.name == "icelake"
        assert record.hpc.target.generic == "x86_64_v4"
    assert new.hpc.compilers[0].languages == ("c",)  # hdf5~cxx~fortran: only a c edge
    assert old.hpc.compilers[0].languages == ()  # not recorded before Spack 1.0


def test_cuda_store_gpu_and_mpi_fields() -> None:
    hypre, kokkos = (
        extract_all(SPACK / "spack1.3-cuda-store/opt/spack", roots=(name,))[0]
        for name in ("hypre", "kokkos")
    )
    (gpu,) = hypre.hpc.gpu
    assert (gpu.vendor, gpu.runtime, gpu.version, gpu.architectures) == (
        "nvidia",
        "cuda",
        "12.9.1",
        ("sm_80",),
    )
    assert hypre.hpc.mpi is not None
    assert (hypre.hpc.mpi.implementation, hypre.hpc.mpi.abi, hypre.hpc.mpi.cuda_aware) == (
        "openmpi",
        "openmpi",
        True,
    )
    assert kokkos.hpc.mpi is None
    assert kokkos.hpc.gpu[0].architectures == ("sm_80",)  # cuda_arch given as a string there
    assert hypre.hpc.target is not None and hypre.hpc.target.name == "x86_64_v3"
    assert {m.role for m in hypre.hpc.math_libraries} >= {"blas", "lapack"}


def test_prefix_files_sources_and_sbom_evidence() -> None:
    prefix = next((SPACK / "spack1.3-fake-store/opt/spack/linux-icelake").glob("zlib-ng-*"))
    (record,) = extract_all(prefix)
    root = record.component(record.roots[0])
    assert root is not None and root.files
    assert all(f.digests[0].algorithm == "spack-sha1-b32" for f in root.files)
    assert not any(f.path.startswith(".spack/") for f in root.files)
    assert root.sources and root.sources[0].url and root.sources[0].checksums
    assert any(e.kind == "spack-spdx-2.3" for e in record.evidence)
    assert root.purl == f"pkg:spack/builtin/zlib-ng@2.3.3?sha={root.id.removeprefix('spack:')}"


def test_environment_equals_union_of_its_roots() -> None:
    env = SPACK / "spack1.3-fake-store/env"
    whole = combined(env)
    parts = extract_all(env)
    assert len(parts) == len(whole.roots) == 3
    assert {c.id for c in whole.components} == {c.id for p in parts for c in p.components}
    assert set(whole.dependencies) == {e for p in parts for e in p.dependencies}
    assert whole.provenance.builder is not None and whole.provenance.builder.version == "1.3.0.dev0"


def test_lockfile_v7_groups_are_kept() -> None:
    record = combined(SPACK / "lockfile-v7-groups")
    groups = {
        c.name: c.properties.get("spack.group") for c in record.components if c.id in record.roots
    }
    assert groups == {"zlib-ng": "base", "hdf5": "io"}


def test_root_selection() -> None:
    store = SPACK / "spack1.3-fake-store/opt/spack"
    (by_name,) = extract_all(store, roots=("zlib-ng",))
    (by_hash,) = extract_all(store, roots=("/g32vem",))
    assert by_name.roots == by_hash.roots
    assert extract_all(store, roots=("zlib-ng@2.3",))[0].roots == by_name.roots


def test_the_same_data_gives_the_same_record() -> None:
    store = SPACK / "spack1.3-fake-store/opt/spack"
    assert combined(store).to_json() == combined(store).to_json()


def test_oci_buildcache_config_reads_the_embedded_spec() -> None:
    config = SPACK / "oci-config/zlib-ng.config.json"
    (record,) = extract_all(config)
    assert record.subject.kind == "spack-buildcache"
    assert record.subject.status == "cached"
    assert record.component(record.roots[0]).name == "zlib-ng"  # type: ignore[union-attr]


def test_find_in_a_tree_reports_store_and_environment(tmp_path: Path) -> None:
    from nameplate.tree import DirectoryTree

    tree = DirectoryTree(SPACK / "spack1.3-fake-store")
    kinds = sorted(kind for kind, _ in spack_extract.find(tree))
    assert kinds == ["environment", "store"]
    record = spack_extract.extract_tree(tree, opts())
    assert record is not None and len(record.roots) == 3


def test_docs_page_lists_every_capability() -> None:
    from tests.conftest import ROOT

    page = (ROOT / "docs/sources/spack.md").read_text()
    for key in spack.CAPABILITIES:
        assert f"| `{key}` |" in page


def test_elf_files_of_a_prefix_fill_the_floors(tmp_path: Path) -> None:
    """Real binaries in a prefix: the libc/libstdc++ floors and CUDA architectures come from them."""
    import shutil

    from nameplate.elf import parse_elf
    from nameplate.normalize import max_version

    src = next((SPACK / "spack1.3-fake-store/opt/spack/linux-icelake").glob("zlib-ng-*"))
    prefix = tmp_path / src.name
    shutil.copytree(src, prefix)
    cuda = DATA / "elf/libsaxpy_a.so"
    shutil.copy(cuda, prefix / "lib/libsaxpy_a.so")
    shutil.copy("/usr/bin/true", prefix / "bin/true")
    manifest_path = prefix / ".spack/install_manifest.json"
    manifest = json.loads(manifest_path.read_text())
    root = min(manifest, key=len)
    for rel in ("lib/libsaxpy_a.so", "bin/true"):
        size = (prefix / rel).stat().st_size
        manifest[f"{root}/{rel}"] = {"mode": 33261, "hash": "x" * 32, "size": size}
    manifest_path.write_text(json.dumps(manifest))
    (record,) = extract_all(prefix)
    facts = [
        parse_elf((prefix / rel).read_bytes(), where=rel)
        for rel in ("lib/libsaxpy_a.so", "bin/true")
    ]
    assert record.hpc.libc is not None
    assert record.hpc.libc.family == "glibc"  # from Spack's libc provider
    assert record.hpc.libc.min_version == max_version(f.glibc_min for f in facts if f.glibc_min)
    (gpu,) = record.hpc.gpu
    assert set(gpu.architectures) >= {"sm_75", "sm_80"}
    assert gpu.ptx == ("compute_80",)
    assert gpu.soname == "libcudart.so.13"
    assert sum(e.kind == "elf" for e in record.evidence) == 2


def test_build_only_dependencies_do_not_set_runtime_floors() -> None:
    from nameplate.sources.spack.graph import Graph, runtime_closure
    from nameplate.sources.spack.specfile import Edge, Node

    graph = Graph()
    graph.add(
        Node(
            name="app",
            version="1",
            hash="a",
            edges=(
                Edge(name="cmake", hash="b", types=("build",)),
                Edge(name="lib", hash="c", types=("link",)),
            ),
        )
    )
    graph.add(Node(name="cmake", version="3", hash="b"))
    graph.add(Node(name="lib", version="1", hash="c"))
    assert sorted(runtime_closure(graph, ["a"])) == ["a", "c"]
