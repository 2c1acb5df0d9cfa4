"""Fuzz the Spack parsers: arbitrary input ends in a record or a NameplateError, nothing else."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nameplate.errors import NameplateError
from nameplate.sources.spack.buildcache import _read_index
from nameplate.sources.spack.graph import Graph
from nameplate.sources.spack.lockfile import read_lockfile
from nameplate.sources.spack.metadata import parse_install_environment, parse_sbom, read_install
from nameplate.sources.spack.prefix import manifest_files
from nameplate.sources.spack.specfile import parse_specfile, strip_clearsign
from nameplate.sources.spack.tarball import TarballRef, metadata_tree
from tests.conftest import DATA

pytestmark = pytest.mark.property

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)

SPEC = json.loads(
    next(
        (DATA / "spack/spack1.3-fake-store/opt/spack/linux-icelake").glob(
            "zlib-ng-*/.spack/spec.json"
        )
    ).read_text()
)
LOCK = json.loads((DATA / "spack/spack1.3-fake-store/env/spack.lock").read_text())
INDEX = json.loads(
    (DATA / "spack/spack-test-data/mirrors/v2_layout/unsigned/build_cache/index.json").read_text()
)


def mutate(doc: Any, path: list[Any], value: Any) -> Any:
    """``doc`` with the value at ``path`` (as far as it exists) replaced by ``value``."""
    if not path or not isinstance(doc, dict | list):
        return value
    key = path[0]
    if isinstance(doc, dict):
        keys = list(doc)
        if not keys:
            return value
        k = keys[key % len(keys)] if isinstance(key, int) else key
        return {**doc, k: mutate(doc[k], path[1:], value)}
    if not doc:
        return value
    i = key % len(doc) if isinstance(key, int) else 0
    return [*doc[:i], mutate(doc[i], path[1:], value), *doc[i + 1 :]]


paths = st.lists(st.integers(min_value=0, max_value=50), max_size=6)


def accepts_only_typed_errors(func: Any, *args: Any, **kw: Any) -> None:
    try:
        func(*args, **kw)
    except NameplateError:
        pass


@given(json_values)
def test_specfile_arbitrary_json(data: Any) -> None:
    accepts_only_typed_errors(parse_specfile, {"spec": data}, where="x")


@given(paths, json_values)
def test_specfile_mutated(path: list[int], value: Any) -> None:
    doc = mutate(SPEC, path, value)

    def run() -> None:
        if isinstance(doc, dict):
            _, nodes = parse_specfile(doc, where="x")
            graph = Graph()
            for n in nodes:
                graph.add(n)
            graph.check_edges("x")

    accepts_only_typed_errors(run)


@given(paths, json_values)
def test_lockfile_mutated(path: list[int], value: Any) -> None:
    accepts_only_typed_errors(read_lockfile, mutate(LOCK, path, value), where="x", graph=Graph())


@given(paths, json_values)
def test_db_index_mutated(path: list[int], value: Any) -> None:
    accepts_only_typed_errors(_read_index, mutate(INDEX, path, value), where="x", graph=Graph())


@given(st.binary(max_size=300))
def test_clearsign_arbitrary_bytes(data: bytes) -> None:
    accepts_only_typed_errors(strip_clearsign, b"-----BEGIN PGP SIGNED MESSAGE-----\n" + data)


@given(st.binary(max_size=2000))
def test_spec_file_on_disk_arbitrary_bytes(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    from nameplate import sources

    prefix = tmp_path_factory.mktemp("p")
    (prefix / ".spack").mkdir()
    (prefix / ".spack/spec.json").write_bytes(data)
    accepts_only_typed_errors(sources.extract_all, Path(prefix), kind="spack")


# ------------------------------------------------------------------ what an install's .spack/ says

SBOM = (
    DATA / "spack/spack1.3-real-store/opt/spack/linux-x86_64_v4"
    "/omp-fortran-hello-1.0-cw5cxc5hhixi7gulbvy42ghde7cah776/.spack/sbom/spdx-2.3.json"
)
#: A real install tarball (Spack 1.3 build cache of the fake store: zlib-ng), as bytes.
TARBALL = (
    DATA / "spack/spack1.3-fake-store/buildcache/file-v3-unsigned/blobs/sha256/49"
    "/4940b06c73881146124b2946f35a0e957c72e78a67009b58bbf5e89d0f5621fd"
).read_bytes()


@given(paths, json_values)
def test_sbom_mutated(path: list[int], value: Any) -> None:
    doc = mutate(json.loads(SBOM.read_text()), path, value)
    accepts_only_typed_errors(parse_sbom, json.dumps(doc).encode(), where="x")


@given(st.binary(max_size=400) | json_values.map(lambda v: json.dumps(v).encode()))
def test_install_environment_arbitrary(data: bytes) -> None:
    accepts_only_typed_errors(parse_install_environment, data, where="x")
    accepts_only_typed_errors(parse_sbom, data, where="x")


def _tarball_facts(data: bytes) -> None:
    """Read ``data`` as an install tarball whose digest is right, then its facts."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    ref = TarballRef("x", digest, len(data), lambda: io.BytesIO(data))
    tree = metadata_tree(ref)
    graph = Graph()
    read_install(tree, PurePosixPath("."), graph, "h")
    manifest_files(tree, PurePosixPath("."), None, graph)


@given(st.integers(min_value=0, max_value=len(TARBALL) - 1), st.binary(min_size=1, max_size=8))
def test_tarball_mutated(at: int, patch: bytes) -> None:
    accepts_only_typed_errors(_tarball_facts, TARBALL[:at] + patch + TARBALL[at + len(patch) :])


@given(st.integers(min_value=0, max_value=len(TARBALL)))
def test_tarball_truncated(at: int) -> None:
    accepts_only_typed_errors(_tarball_facts, TARBALL[:at])


_NAMES = st.lists(
    st.sampled_from(
        [
            "p",
            ".spack",
            "sbom",
            "spdx-2.3.json",
            "install_environment.json",
            "install_manifest.json",
            "..",
            "",
            "bin",
        ]
    ),
    min_size=1,
    max_size=5,
).map("/".join)


@given(
    st.lists(
        st.tuples(
            _NAMES, st.sampled_from(["file", "dir", "link"]), json_values | st.binary(max_size=50)
        ),
        max_size=8,
    )
)
def test_tarball_arbitrary_members(members: list[tuple[str, str, Any]]) -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, kind, content in members:
            info = tarfile.TarInfo(name or ".")
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "link":
                info.type = tarfile.SYMTYPE
                info.linkname = "/etc/passwd"
                tar.addfile(info)
            else:
                data = content if isinstance(content, bytes) else json.dumps(content).encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    accepts_only_typed_errors(_tarball_facts, out.getvalue())


def test_a_tarball_that_does_not_match_its_digest_is_refused() -> None:
    ref = TarballRef("x", "sha256:" + "0" * 64, len(TARBALL), lambda: io.BytesIO(TARBALL))
    with pytest.raises(NameplateError, match="does not match"):
        metadata_tree(ref)
    # Tampered where .spack/ is (the gzip stream breaks there): tampering is what is reported.
    digest = "sha256:" + hashlib.sha256(TARBALL).hexdigest()
    bad = TARBALL[:40] + bytes([TARBALL[40] ^ 0xFF]) + TARBALL[41:]
    with pytest.raises(NameplateError, match="does not match"):
        metadata_tree(TarballRef("x", digest, len(bad), lambda: io.BytesIO(bad)))
    ref = TarballRef(
        "x", "sha256:" + hashlib.sha256(TARBALL).hexdigest(), 10, lambda: io.BytesIO(TARBALL)
    )
    with pytest.raises(NameplateError, match="longer than"):
        metadata_tree(ref)


@given(paths, json_values)
def test_buildcache_index_records_mutated(path: list[int], value: Any) -> None:
    """A build-cache index (the layer of an OCI cache's index.spack image) to records."""
    from nameplate.sources import ExtractOptions
    from nameplate.sources.spack.extract import records_from_buildcache_index

    accepts_only_typed_errors(
        records_from_buildcache_index,
        mutate(INDEX, path, value),
        where="x",
        options=ExtractOptions(),
    )


def test_a_node_without_a_name_is_a_typed_error() -> None:
    """Found by the fuzz pass: an empty name reached the purl builder (ValueError)."""
    from nameplate.sources import ExtractOptions
    from nameplate.sources.spack.extract import records_from_buildcache_index

    bad = mutate(INDEX, [0, 1, 0, 0, 0], "")
    with pytest.raises(NameplateError, match="name: empty"):
        records_from_buildcache_index(bad, where="x", options=ExtractOptions())


REAL_SPEC = json.loads(
    (
        DATA / "spack/spack1.3-real-store/opt/spack/linux-x86_64_v4"
        "/omp-fortran-hello-1.0-cw5cxc5hhixi7gulbvy42ghde7cah776/.spack/spec.json"
    ).read_text()
)


@given(paths, json_values)
def test_real_spec_to_record_mutated(path: list[int], value: Any) -> None:
    """A really compiled install's spec.json (compilers, externals, virtuals), mutated, to a
    record: components, edges, HPC fields."""
    from nameplate.sources import ExtractOptions
    from nameplate.sources.spack.extract import record_from_specfile_data

    doc = mutate(REAL_SPEC, path, value)
    if isinstance(doc, dict):
        accepts_only_typed_errors(
            record_from_specfile_data, doc, where="x", options=ExtractOptions()
        )
