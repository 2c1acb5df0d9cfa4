"""One truth, whichever way Spack data is read.

For each root of a real Spack store, every way nameplate reads it (the store, the root's install
prefix, the environment, each build cache that holds it, its OCI build-cache image) gives the same
components (name, version, DAG hash, sources, licenses, variants, external flag, where an external
lives), the same edges and the same builder (name and version). Where a path cannot know a field,
``CANNOT`` names the field and the reason: the record must list that field as an unknown with that
reason, and leave it empty. What the paths agree on is then checked against the files Spack itself
wrote: ``spack find --json`` (nodes, edges), the root's ``.spack/sbom/spdx-2.3.json`` (sources,
licenses), ``install_environment.json`` and ``spack.lock`` (builder), ``spack find -lv``
(compiler languages).

The fixtures: ``spack1.3-real-store`` (really compiled by Spack 1.3.0.dev0; this copy lacks the
build caches' install tarballs, which archive Spack code), the same store as the team's shared
fixture (with the tarballs; only where ``../shared`` is there) and ``spack1.3-fake-store``
(``spack install --fake``, whose build caches keep their tarballs).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nameplate import schema, sources
from nameplate.errors import SourceError
from nameplate.record import Component, Record
from nameplate.sources import ExtractOptions
from tests.conftest import DATA, FIXED_TIME, ROOT

SOURCES = ("components.sources", "components.licenses")
BUILDER = ("provenance.builder",)
#: Every field the paths must agree on, by the name an unknown gives it.
FIELDS = ("components", "dependencies", *SOURCES, *BUILDER, "hpc.compilers")

NO_LOCK_SOURCES = "a lockfile holds specs only"
NO_TARBALL = "install tarball not read"
FAKE_INSTALL = "spack install --fake does not write it"


@dataclass(frozen=True)
class Fixture:
    """A store, the other ways its installs can be read, and what each way cannot know."""

    base: Path
    roots: tuple[str, ...]
    caches: tuple[str, ...]
    oci: str | None
    #: path → field → a phrase of the unknown's reason.
    cannot: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: the same, for one install only (root hash → path → field → phrase).
    cannot_for: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    #: root hash → the compiler languages ``spack find -lv`` groups it under.
    languages: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


REAL_ROOTS = ("cw5cxc5hhixi7gulbvy42ghde7cah776", "kiaxfa2ktv6lqnzpvnm6idtmq247xekb")
GCC_RUNTIME = "6ax4uhtlybyiruf6b2pvqsnpkvvpodzi"
#: Every install Spack built in the real store: its two roots, then xz, gcc-runtime and the
#: compiler wrapper (``--root`` names them in the store, the environment and the caches).
REAL_INSTALLS = (
    *REAL_ROOTS,
    "jc3kmofwtwai5bglz6cbp22o7p4cfw23",
    GCC_RUNTIME,
    "ggm6hhbbhwyrzsbdm44g5kac3nh7se27",
)
#: The groups of `spack find -lv`: ``%cxx,fortran=gcc@12.2.0`` and so on; () for "no compilers".
REAL_LANGUAGES = dict(
    zip(REAL_INSTALLS, [("cxx", "fortran"), ("c", "cxx"), ("c",), (), ()], strict=True)
)
#: The gcc-runtime tarball (10 MB) was pruned from both caches of the shared fixture too.
NO_GCC_RUNTIME_TARBALL = {
    GCC_RUNTIME: {
        cache: dict.fromkeys(
            ("components.sources", "components.licenses", "provenance.builder"),
            "install tarball not read",
        )
        for cache in ("buildcache-v3", "oci")
    }
}
REAL_CACHES = ("buildcache-v3",)
SHARED_REAL = ROOT.parent / "shared/fixtures/spack/real-store"

FIXTURES = {
    "real-store": Fixture(
        base=DATA / "spack/spack1.3-real-store",
        roots=REAL_INSTALLS,
        caches=REAL_CACHES,
        oci="buildcache-oci-layout",
        cannot={
            "environment": dict.fromkeys(SOURCES, NO_LOCK_SOURCES),
            # The install tarballs were left out of this copy (they archive Spack's code).
            "buildcache-v3": dict.fromkeys((*SOURCES, *BUILDER), NO_TARBALL),
            "oci": dict.fromkeys((*SOURCES, *BUILDER), NO_TARBALL),
        },
        languages=REAL_LANGUAGES,
    ),
    "real-store (shared, with tarballs)": Fixture(
        base=SHARED_REAL,
        roots=REAL_INSTALLS,
        caches=REAL_CACHES,
        oci="buildcache-oci-layout",
        cannot={"environment": dict.fromkeys(SOURCES, NO_LOCK_SOURCES)},
        cannot_for=NO_GCC_RUNTIME_TARBALL,
        languages=REAL_LANGUAGES,
    ),
    "fake-store": Fixture(
        base=DATA / "spack/spack1.3-fake-store",
        roots=(
            "ijgf36wm3vplbmlo25gfr724jlciv43i",  # hdf5
            "g32vemqewbcc2j2pcffahyu2y4kfw4t6",  # zlib-ng
            "u3d2cosbuii5sbrxal3bo5laih4wcw2e",  # py-numpy
        ),
        caches=("buildcache/file-v3-unsigned", "buildcache/file-v3-signed"),
        oci=None,
        cannot={
            "store": dict.fromkeys(BUILDER, FAKE_INSTALL),
            "prefix": dict.fromkeys(BUILDER, FAKE_INSTALL),
            "environment": dict.fromkeys(SOURCES, NO_LOCK_SOURCES),
            "buildcache/file-v3-unsigned": dict.fromkeys(BUILDER, FAKE_INSTALL),
            "buildcache/file-v3-signed": dict.fromkeys(BUILDER, FAKE_INSTALL),
        },
    ),
}
CASES = [
    pytest.param(
        name,
        root,
        marks=pytest.mark.skipif(
            not fixture.base.is_dir(), reason=f"{fixture.base} is not here (team fixture)"
        ),
        id=f"{name}-{root[:7]}",
    )
    for name, fixture in FIXTURES.items()
    for root in fixture.roots
]


def _opts(**kw: Any) -> ExtractOptions:
    return ExtractOptions(clock=FIXED_TIME, **kw)


def _checked(records: list[Record]) -> list[Record]:
    for r in records:
        schema.validate(r.to_dict())
    return records


def _for_root(records: list[Record], root: str) -> Record:
    (record,) = [r for r in records if r.roots == (f"spack:{root}",)]
    return record


def records_by_path(fixture: Fixture, root: str) -> dict[str, Record]:
    """The record of ``root`` read every way the fixture allows."""
    base = fixture.base
    spack = lambda path, **kw: _checked(
        sources.extract_all(path, kind="spack", options=_opts(**kw))
    )
    (store,) = spack(base / "opt/spack", roots=(f"/{root}",))
    (environment,) = spack(base / "env", roots=(f"/{root}",))
    out = {"store": store, "environment": environment}
    (prefix,) = (base / "opt/spack").glob(f"*/*-{root}")
    (out["prefix"],) = spack(prefix)
    for cache in fixture.caches:
        try:
            (out[cache],) = spack(base / cache, roots=(f"/{root}",))
        except SourceError:  # not in that cache
            continue
    if fixture.oci is not None:
        layout = base / fixture.oci
        index = json.loads((layout / "index.json").read_text())
        (tag,) = [
            m["annotations"]["org.opencontainers.image.ref.name"]
            for m in index["manifests"]
            if root in m["annotations"]["org.opencontainers.image.ref.name"]
        ]
        (out["oci"],) = _checked(
            sources.extract_all(f"oci:{layout}:{tag}", kind="image", options=_opts())
        )
    return out


def _component_facts(c: Component, fields: set[str]) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "name": c.name,
        "version": c.version,
        "hashes": c.hashes,
        "variants": dict(c.options),
        "external": c.external,
        "lives": (c.prefix, c.modules) if c.external else None,
    }
    if "components.sources" in fields:
        facts["sources"] = c.sources
    if "components.licenses" in fields:
        facts["licenses"] = c.licenses
    return facts


def facts(record: Record, fields: set[str]) -> dict[str, Any]:
    """What the paths must agree on, restricted to ``fields``."""
    out: dict[str, Any] = {
        "components": {
            c.id: _component_facts(c, fields) for c in record.components if c.ecosystem == "spack"
        },
        "dependencies": sorted(
            (d.dependent, d.dependency, d.types, d.virtuals, d.direct) for d in record.dependencies
        ),
        "compilers": [(c.name, c.version, c.languages) for c in record.hpc.compilers],
    }
    if "provenance.builder" in fields:
        builder = record.provenance.builder
        out["builder"] = (builder.name, builder.version) if builder else None
    return out


def cannot(fixture: Fixture, root: str, path: str) -> dict[str, str]:
    """What ``path`` cannot know of ``root``, field → a phrase of the reason."""
    return {**fixture.cannot.get(path, {}), **fixture.cannot_for.get(root, {}).get(path, {})}


def _empty(record: Record, field_name: str) -> bool:
    if field_name == "components.sources":
        return not any(c.sources for c in record.components)
    if field_name == "components.licenses":
        return not any(c.licenses for c in record.components)
    assert field_name == "provenance.builder"
    builder = record.provenance.builder
    return builder is None or builder.version is None


@pytest.mark.parametrize(("fixture_name", "root"), CASES)
def test_every_path_gives_the_same_record(fixture_name: str, root: str) -> None:
    fixture = FIXTURES[fixture_name]
    by_path = records_by_path(fixture, root)
    everywhere = {"store", "prefix", "environment"}
    if fixture.oci is not None:  # the real store: every install pushed to both caches
        everywhere |= {*fixture.caches, "oci"}
    assert everywhere <= set(by_path)
    # What each path cannot know, it says so, for the reason given, and claims nothing.
    for path, record in by_path.items():
        for field_name, phrase in cannot(fixture, root, path).items():
            reasons = [u.reason for u in record.unknowns if u.field == field_name]
            assert any(phrase in r for r in reasons), (path, field_name, reasons)
            assert _empty(record, field_name), (path, field_name)
        known = set(FIELDS) - set(cannot(fixture, root, path))
        # (sources: checked against the SBOM below; gcc-runtime has none, a bundle of gcc's)
        for field_name in known & {"components.licenses", *BUILDER}:
            assert not _empty(record, field_name), (path, field_name)
    # Every other field: the same on every path as in the store.
    reference = by_path["store"]
    for path, record in by_path.items():
        both = set(FIELDS) - set(cannot(fixture, root, path)) - set(cannot(fixture, root, "store"))
        assert facts(record, both) == facts(reference, both), path
    # The root's files: its install_manifest.json, in its prefix or in its install tarball.
    root_id = f"spack:{root}"
    files = by_path["prefix"].component(root_id).files  # type: ignore[union-attr]
    assert files
    for path in (*fixture.caches, "oci"):
        if path in by_path and NO_TARBALL not in cannot(fixture, root, path).values():
            assert by_path[path].component(root_id).files == files, path  # type: ignore[union-attr]


def _closure(nodes: dict[str, dict[str, Any]], root: str) -> set[str]:
    seen: set[str] = set()
    stack = [root]
    while stack:
        h = stack.pop()
        if h not in seen:
            seen.add(h)
            stack += [d["hash"] for d in nodes[h].get("dependencies", [])]
    return seen


@pytest.mark.parametrize(("fixture_name", "root"), CASES)
def test_what_every_path_gives_is_what_spack_wrote(fixture_name: str, root: str) -> None:
    fixture = FIXTURES[fixture_name]
    by_path = records_by_path(fixture, root)
    truth = {n["hash"]: n for n in json.loads((fixture.base / "spack-find.json").read_text())}
    (prefix,) = (fixture.base / "opt/spack").glob(f"*/*-{root}")
    sbom = json.loads((prefix / ".spack/sbom/spdx-2.3.json").read_text())
    by_name = {(p["name"], p["versionInfo"]): p for p in sbom["packages"]}
    lock = json.loads((fixture.base / "env/spack.lock").read_text())
    environment = prefix / ".spack/install_environment.json"
    built_by = (
        json.loads(environment.read_text())["spack_version"] if environment.is_file() else None
    )
    for path, record in by_path.items():
        unknowable = cannot(fixture, root, path)
        comps = {
            c.id.removeprefix("spack:"): c for c in record.components if c.ecosystem == "spack"
        }
        # Nodes and edges: the root's DAG as `spack find --json` lists it.
        assert set(comps) == _closure(truth, root), path
        edges = {
            (d.dependent.removeprefix("spack:"), d.dependency.removeprefix("spack:")): d
            for d in record.dependencies
        }
        for h in comps:
            for dep in truth[h].get("dependencies", []):
                edge = edges[(h, dep["hash"])]
                assert set(edge.types) == set(dep["parameters"]["deptypes"]), path
                assert set(edge.virtuals) == set(dep["parameters"]["virtuals"]), path
        for h, c in comps.items():
            node = truth[h]
            assert (c.name, c.version) == (node["name"], node["version"])
            assert c.external == ("external" in node), (path, c.name)
            if c.external:  # where it lives, never sources it was not built from
                assert c.prefix == node["external"]["path"] and not c.sources, (path, c.name)
                assert list(c.modules) == (node["external"]["module"] or []), (path, c.name)
            # Sources and licenses: the root's own SBOM, as Spack wrote it.
            spdx = by_name.get((c.name, c.version))
            if spdx is None:
                continue
            if "components.licenses" not in unknowable:
                declared = spdx["licenseDeclared"]
                assert c.licenses == (() if declared == "NOASSERTION" else (declared,)), c.name
            if "components.sources" not in unknowable and not c.external:
                sums = {s["checksumValue"] for s in spdx.get("checksum", [])}
                got = {h.value for s in c.sources for h in s.checksums}
                assert got == sums, (path, c.name)
                if spdx["downloadLocation"] not in ("NOASSERTION", "NONE", "None"):
                    assert [s.url for s in c.sources] == [spdx["downloadLocation"]], c.name
        # The builder: install_environment.json of the install, spack.lock for the environment.
        if "provenance.builder" not in unknowable:
            builder = record.provenance.builder
            assert builder is not None
            expected = lock["spack"]["version"] if path == "environment" else built_by
            assert builder.version == expected, path
        # Compiler languages: what `spack find -lv` groups the root under.
        if root in fixture.languages:
            expected = fixture.languages[root]
            got = [(c.name, c.version, c.languages) for c in record.hpc.compilers]
            assert got == ([("gcc", "12.2.0", expected)] if expected else []), path


def test_a_build_cache_has_the_roots_nothing_in_it_depends_on() -> None:
    """A v3 cache of one pushed root and its four dependencies has that one root (its index
    says ``ref_count`` 0 for it alone), and every entry can still be named with ``--root``."""
    cache = DATA / "spack/spack1.3-real-store/buildcache-v3"
    (record,) = _checked(sources.extract_all(cache, kind="spack", options=_opts()))
    assert record.roots == (f"spack:{REAL_ROOTS[0]}",)
    assert len(record.components) == 9 and len(record.dependencies) == 21
    for name in ("zstd", "xz", "gcc-runtime", "compiler-wrapper"):
        (one,) = sources.extract_all(cache, kind="spack", options=_opts(roots=(name,)))
        assert one.component(one.roots[0]).name == name  # type: ignore[union-attr]
    store = _for_root(
        sources.extract_all(
            DATA / "spack/spack1.3-real-store/opt/spack", kind="spack", options=_opts()
        ),
        REAL_ROOTS[0],
    )
    assert facts(record, {"components", "dependencies"}) == facts(
        store, {"components", "dependencies"}
    )
    # The OCI build cache's index image (index.spack), read as Spack's build-cache index: the
    # same root, though `spack buildcache push /cw5cxc5 /kiaxfa2` named zstd too (the cache
    # does not record which specs were named; zstd's ref_count is 1).
    layout = DATA / "spack/spack1.3-real-store/buildcache-oci-layout"
    (index,) = _checked(
        sources.extract_all(f"oci:{layout}:index.spack", kind="image", options=_opts())
    )
    assert index.roots == record.roots and index.subject.kind == "spack-buildcache"
    assert facts(index, {"components", "dependencies"}) == facts(
        store, {"components", "dependencies"}
    )
    (zstd,) = sources.extract_all(
        f"oci:{layout}:index.spack", kind="image", options=_opts(roots=("zstd",))
    )
    assert zstd.roots == (f"spack:{REAL_ROOTS[1]}",)


def test_an_external_says_where_it_lives_never_what_it_was_not_built_from() -> None:
    """Spack 1.3 concretized ``zstd compression=zlib`` against a zlib external known only by
    its modules (``path: null``) and a gcc external at ``/usr`` (``external-modules/``)."""
    base = DATA / "spack/external-modules"
    lock = json.loads((base / "spack.lock").read_text())
    truth = {n["name"]: n["external"] for n in lock["concrete_specs"].values() if "external" in n}
    for path in (base, base / "zlib.spec.json"):
        (record,) = _checked(sources.extract_all(path, kind="spack", options=_opts()))
        externals = {c.name: c for c in record.components if c.external}
        assert set(externals) <= set(truth) and "zlib" in externals
        for name, c in externals.items():
            assert c.status == "external" and not c.sources
            assert c.prefix == truth[name]["path"]
            assert list(c.modules) == (truth[name]["module"] or [])
    zlib = next(c for c in record.components if c.name == "zlib")
    assert zlib.modules == ("zlib/1.2.13", "craype-x86-milan") and zlib.prefix is None
