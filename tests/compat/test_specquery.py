"""The spec-syntax query language: parsing, errors, and matching components."""

from __future__ import annotations

import pytest

from nameplate import normalize
from nameplate.compat.specquery import (
    NodeQuery,
    SpecSyntaxError,
    TargetRange,
    VersionRange,
    component_matches,
    parse,
    target_names,
)
from nameplate.errors import CatalogError
from nameplate.record import Component


def test_issue_example() -> None:
    q = parse("hdf5@1.14: +mpi ^mpich target=zen3:")
    assert q.root.name == "hdf5"
    assert q.root.versions == (VersionRange(lo="1.14"),)
    assert q.root.variants == (("mpi", True),)
    assert q.deps[0].name == "mpich"
    assert q.deps[0].targets == (TargetRange(lo="zen3"),)


@pytest.mark.parametrize(
    ("ranges", "version", "inside"),
    [
        ("1.14", "1.14", True),
        ("1.14", "1.14.6", True),
        ("1.14", "1.15", False),
        ("1.14:", "2.0", True),
        ("1.14:", "1.12.2", False),
        (":1.14", "1.14.6", True),
        (":1.14", "1.15.0", False),
        ("1.12:1.14", "1.13.1", True),
        ("=1.14.3", "1.14.3", True),
        ("=1.14.3", "1.14.3.1", False),
        ("1.10,1.14:", "1.10.2", True),
        ("1.10,1.14:", "1.12", False),
    ],
)
def test_version_ranges(ranges: str, version: str, inside: bool) -> None:
    assert parse(f"x@{ranges}").root.version_ok(version) is inside


def test_variants_compilers_and_arch() -> None:
    q = parse("openmpi~cuda -java fabrics=ucx,ofi %gcc@12: arch=linux-rhel8-zen2")
    assert q.root.variants == (("cuda", False), ("java", False), ("fabrics", ("ucx", "ofi")))
    assert q.root.compiler == "gcc" and q.root.compiler_version_ok("12.3.0")
    assert not q.root.compiler_version_ok("11.4.0")
    assert (q.root.platform, q.root.os) == ("linux", "rhel8")
    assert q.root.targets == (TargetRange(lo="zen2", hi="zen2"),)


def test_anonymous_spec() -> None:
    q = parse("+mpi target=x86_64_v3:")
    assert q.root.name is None


def test_target_ranges_follow_archspec() -> None:
    newer = target_names(parse("target=zen3:").root.targets)
    assert {"zen3", "zen4"} <= newer and "zen2" not in newer and "icelake" not in newer
    older = target_names(parse("target=:zen3").root.targets)
    assert {"zen3", "zen2", "x86_64_v3", "x86_64"} <= older and "zen4" not in older
    between = target_names(parse("target=x86_64_v3:zen4").root.targets)
    assert "zen3" in between and "icelake" not in between and "x86_64_v2" not in between
    assert target_names(parse("target=nosuchcpu").root.targets) == {"nosuchcpu"}
    assert target_names(parse("target=nosuchcpu:").root.targets) == frozenset()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty query"),
        ("hdf5 ^", "query ends with '^'"),
        ("^", "query ends with '^'"),
        ("hdf5/", "query column 5: unexpected '/'"),
        ("hdf5/abc/def", "query column 9: hash given twice"),
        ("/" + "a" * 65, "a hash is at most 64 characters"),
        ("hdf5 mpich", "query column 6: unexpected name 'mpich'"),
        ("hdf5@1.14 @1.12", "query column 11: versions given twice"),
        ("hdf5@1.14@1.12", "query column 5: bad version '1.14@1.12'"),
        ("hdf5 $", "query column 6: unexpected '$'"),
        ("hdf5@", "query column 5: unexpected '@'"),
        ("x arch=linux-zen3", "query column 3: arch= needs platform-os-target"),
        ("x@1.2::3", "bad version"),
        # a list of no value: the catalog's SQL matched every hdf5, the matcher none
        ("hdf5 api=,", "query column 6: api= names no value"),
        ("hdf5 cuda_arch==, +mpi", "query column 6: cuda_arch= names no value"),
        ("x" * 5000, "query longer than 4096 characters"),
    ],
)
def test_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(SpecSyntaxError) as info:
        parse(text)
    assert message in str(info.value)
    assert isinstance(info.value, CatalogError)


def test_spack_forms() -> None:
    """``^dep`` alone, ``/hash`` prefixes anywhere, as Spack writes them."""
    q = parse("^mpich@4:")
    assert q.root == NodeQuery() and q.deps[0].name == "mpich"
    q = parse("hdf5/IJGF36W %gcc ^/mb6fva4")
    assert (q.root.name, q.root.hash, q.root.compiler) == ("hdf5", "ijgf36w", "gcc")
    assert q.deps[0] == NodeQuery(hash="mb6fva4")
    assert parse("/ijgf36w").root.hash == "ijgf36w"
    assert parse("hdf5@1.14/ijg").root.versions == (VersionRange(lo="1.14", hi="1.14"),)


def test_component_matching() -> None:
    c = Component(
        id="x",
        name="hdf5",
        version="1.14.6",
        target=normalize.cpu_target("zen4"),
        options={"mpi": True, "api": "v114", "fabrics": ("ucx", "ofi")},
    )
    gcc = [("gcc", "13.2.0")]
    assert component_matches(parse("hdf5@1.14: +mpi target=zen3:").root, c, gcc)
    assert component_matches(parse("hdf5 fabrics=ucx api=v114 %gcc@13").root, c, gcc)
    assert not component_matches(parse("hdf5~mpi").root, c, gcc)
    assert not component_matches(parse("hdf5 target=:zen3").root, c, gcc)
    assert not component_matches(parse("hdf5 %gcc@14:").root, c, gcc)
    assert not component_matches(parse("hdf5 fabrics=psm2").root, c, gcc)
    assert not component_matches(parse("hdf5 os=rhel8").root, c, gcc)
    assert not component_matches(parse("hdf5 +cuda").root, c, gcc)
