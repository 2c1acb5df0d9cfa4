"""Fuzz the parsers of untrusted input that had no fuzz test: the Spack DB, build-cache YAML,
EasyBuild module files (through the whole module-file path) and install files, easyconfig value
bombs, OS package databases, Docker archive manifests, registry answers (``Link`` headers, tag
lists, token answers, challenges), SPARQL and catalog queries, time stamps, and the text a record
holds. Each accepts only a ``NameplateError`` (or a result); anything else fails the test.

Inputs start from the real fixtures (mutated) or from pieces of the real syntax, so the
examples reach past the first check."""

from __future__ import annotations

import contextlib
import io
import json
import math
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nameplate import normalize
from nameplate.errors import NameplateError
from nameplate.record import Component, Record
from nameplate.sources import ExtractOptions, extract_all
from nameplate.sources.easybuild.easyconfig import parse_easyconfig
from nameplate.sources.easybuild.install import _read_buildstats, _read_config, _read_log
from nameplate.sources.easybuild.modulefile import parse_modulefile
from nameplate.sources.image.ospkgs import parse_apk_installed, parse_dpkg_status, parse_os_release
from nameplate.sources.image.stores import ArchiveStore
from nameplate.sources.spack.db import installed_at, read_db
from nameplate.sources.spack.files import parse_yaml
from nameplate.sources.spack.graph import Graph
from nameplate.sources.spack.specfile import parse_specfile
from nameplate.tree import DirectoryTree
from tests.conftest import DATA
from tests.property.test_spack_fuzz import json_values, mutate, paths

pytestmark = pytest.mark.property

STORE = DATA / "spack/spack1.3-fake-store/opt/spack"
SPEC_YAML = next((DATA / "spack/spack-test-data/mirrors/legacy_yaml/build_cache").glob("*.yaml"))
EB = DATA / "easybuild/install"
EB_FILES = EB / "software/tinyhello/1.0-GCCcore-12.2.0/easybuild"
LUA = (EB / "modules/all/tinygreet/2.1-GCCcore-12.2.0-demo.lua").read_text()


def only_typed_errors(func: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """``func(*args, **kw)``, or None when it raised a NameplateError (anything else fails)."""
    with contextlib.suppress(NameplateError):
        return func(*args, **kw)
    return None


# -- Spack: the store DB, with time stamps of every kind ------------------------------------

_times = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.text(max_size=12)
    | st.booleans()
    | st.none()
)


_DB_FULL = json.loads((STORE / ".spack-db/index.json").read_text())


def _closure(name: str) -> dict[str, Any]:
    """The DB installs of ``name`` and its dependencies (a small, consistent store)."""
    installs = _DB_FULL["database"]["installs"]
    todo = [next(k for k, v in installs.items() if v["spec"]["name"] == name)]
    out: dict[str, Any] = {}
    while todo:
        key = todo.pop()
        if key not in out:
            out[key] = installs[key]
            todo.extend(d["hash"] for d in installs[key]["spec"].get("dependencies", []))
    return out


_DB = {"database": {**_DB_FULL["database"], "installs": _closure("zlib-ng")}}
_KEYS = sorted(_DB["database"]["installs"])


@pytest.fixture(scope="module")
def store_copy() -> Iterator[Path]:
    """The real store cut to zlib-ng and its dependencies (6 installs, 4 prefixes)."""
    with tempfile.TemporaryDirectory(prefix="fuzz-db-") as tmp:
        dest = Path(tmp) / "spack"
        (dest / ".spack-db").mkdir(parents=True)
        for entry in _DB["database"]["installs"].values():
            path = entry.get("path")
            if isinstance(path, str) and "/linux-icelake/" in path:
                rel = "linux-icelake/" + path.rsplit("/", 1)[1]
                shutil.copytree(STORE / rel, dest / rel, symlinks=True)
        yield dest


@given(
    paths,
    json_values,
    st.lists(st.tuples(st.sampled_from(_KEYS), _times), max_size=4),
)
def test_spack_db_mutated(
    store_copy: Path, path: list[int], value: Any, times: list[tuple[str, Any]]
) -> None:
    doc = json.loads(json.dumps(_DB))
    for key, when in times:
        doc["database"]["installs"][key]["installation_time"] = when
    doc = mutate(doc, [0, 0, *path], value) if path else doc  # database.installs...
    (store_copy / ".spack-db/index.json").write_text(json.dumps(doc))
    tree = DirectoryTree(store_copy)
    only_typed_errors(
        read_db, tree, PurePosixPath("."), Graph(), ExtractOptions(include_files=False)
    )


@given(_times)
def test_installation_time_of_any_value(when: Any) -> None:
    graph = Graph()
    stamp = installed_at(when, "$.t", "db", graph)
    assert stamp is None or (len(stamp) == 20 and stamp.endswith("Z"))
    seconds = normalize.epoch_seconds(when)
    assert seconds is None or (math.isfinite(seconds) and normalize.iso_time(seconds) == stamp)


# -- Spack: build-cache YAML (anchors and aliases included) ---------------------------------

_YAML_PIECES = st.sampled_from([
    "spec:\n", "- ", "  ", "    ", "zlib:\n", "version: 1.2\n", "&a ", "*a", "&b ", "*b", "[", "]",
    "{", "}", ", ", ": ", "\n", "hash: abc\n", "!!str ", "!!python/object ", "'x'", '"\\ud800"',
    "- *a\n", "cflags: ", "parameters:\n", "? ", "~", "null", "1e300", ".nan", "---\n", "...\n",
])  # fmt: skip


@given(st.lists(_YAML_PIECES, max_size=60).map("".join))
def test_spec_yaml_pieces(text: str) -> None:
    data = only_typed_errors(parse_yaml, text.encode(), where="fuzz.spec.yaml")
    if data is not None:
        only_typed_errors(parse_specfile, data, where="fuzz.spec.yaml")


@given(st.integers(0, 4000), st.binary(min_size=1, max_size=24))
def test_spec_yaml_mutated_bytes(at: int, junk: bytes) -> None:
    real = SPEC_YAML.read_bytes()
    at %= len(real)
    data = only_typed_errors(parse_yaml, real[:at] + junk + real[at:], where="fuzz.spec.yaml")
    if data is not None:
        only_typed_errors(parse_specfile, data, where="fuzz.spec.yaml")


@given(st.integers(1, 12), st.integers(2, 12))
def test_yaml_alias_bombs_are_bounded(levels: int, width: int) -> None:
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    lines.append(f"spec: *a{levels - 1}")
    data = only_typed_errors(parse_yaml, "\n".join(lines).encode(), where="bomb.yaml")
    if data is not None:  # accepted: then it is small enough to walk
        assert width**levels <= 100_000 * width


# -- EasyBuild: module files through the whole module-file path (ids, purls) -----------------

_MODULE_ARGS = st.one_of(
    st.sampled_from(["", "/", "//", "a/", "/a", "a//b", ".", "..", "../x", " ", "x y", "\\", "%"]),
    st.text(max_size=12),
)
_LUA_CALLS = st.sampled_from(["depends_on", "load", "always_load", "prereq", "setenv", "whatis"])


@pytest.fixture(scope="module")
def module_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="fuzz-mod-") as tmp:
        yield Path(tmp)


@given(st.lists(st.tuples(_LUA_CALLS, _MODULE_ARGS, _MODULE_ARGS), max_size=6))
def test_lua_module_file_alone(module_dir: Path, calls: list[tuple[str, str, str]]) -> None:
    lines = []
    for call, first, second in calls:
        args = [json.dumps(first)] + ([json.dumps(second)] if call == "setenv" else [])
        lines.append(f"{call}({', '.join(args)})")
    path = module_dir / "tinygreet" / "2.1-GCCcore-12.2.0-demo.lua"
    path.parent.mkdir(exist_ok=True)
    path.write_text(LUA + "\n".join(lines) + "\n")
    only_typed_errors(extract_all, path, kind="easybuild")


@given(st.lists(st.tuples(st.sampled_from(["module load", "depends-on", "prereq"]), _MODULE_ARGS)))
def test_tcl_module_lines(lines: list[tuple[str, str]]) -> None:
    body = "".join(f"{cmd} {{{arg}}}\n" if arg else f'{cmd} ""\n' for cmd, arg in lines)
    text = "#%Module\nsetenv EBROOTX /x\nsetenv EBVERSIONX 1\n" + body
    mod = only_typed_errors(parse_modulefile, text, where="fuzz")
    if mod is not None:
        assert all(d and "//" not in d and not d.startswith("/") for d in mod.depends_on)


@given(st.integers(0, 20000), st.binary(max_size=64), st.sampled_from(["log", "report", "repo"]))
def test_easybuild_install_files_mutated(at: int, junk: bytes, which: str) -> None:
    source = {
        "log": next(EB_FILES.glob("*.log")),
        "report": next(EB_FILES.glob("*_test_report.md")),
        "repo": EB / "ebfiles_repo/tinyhello/tinyhello-1.0-GCCcore-12.2.0.eb",
    }[which]
    real = source.read_bytes()
    at %= len(real)
    data = real[:at] + junk + real[at + len(junk) :]
    _read_log(data)
    _read_config(data)
    stats = _read_buildstats(data, "fuzz")
    normalize.epoch_seconds(stats.get("timestamp"))


# -- EasyBuild: easyconfig value bombs -------------------------------------------------------

_VALUE = st.sampled_from([
    "{'a': d, 'b': d}", "[d, d, d]", "(d,) * 9", "[d] * 1000", "d + d", "[[0] * 1000] * 1000",
    "{**d}", "[x for x in d]", "list(d)", "sorted(d)", "d * 3", "'x' * 999999", "[d]",
    "d.copy()", "str(d)", "[i for i in range(10000)]", "dict(a=d)",
])  # fmt: skip


@given(st.lists(_VALUE, min_size=1, max_size=40))
def test_easyconfig_value_bombs_end(exprs: list[str]) -> None:
    text = "name = 'x'\nversion = '1'\nd = [1]\n" + "".join(f"d = {e}\n" for e in exprs)
    text += "d.append(d)\nx = [d]\ndependencies = d\n"
    ec = parse_easyconfig(text, where="bomb.eb")
    from nameplate.sources.easybuild.declared import facts_from_easyconfig

    only_typed_errors(facts_from_easyconfig, ec, where="bomb.eb")


# -- images: OS package databases, Docker archive manifests ---------------------------------

_DPKG = (DATA / "images/debian12/dpkg-status").read_bytes()[:20000]
_OS_RELEASE = (DATA / "images/debian12/os-release").read_bytes()


@given(st.integers(0, 20000), st.binary(max_size=64))
def test_os_package_databases_mutated(at: int, junk: bytes) -> None:
    for real, parse in (
        (_DPKG, parse_dpkg_status),
        (_DPKG.replace(b"Package:", b"P:").replace(b"Version:", b"V:"), parse_apk_installed),
        (_OS_RELEASE, parse_os_release),
    ):
        cut = at % len(real)
        only_typed_errors(parse, real[:cut] + junk + real[cut:])


@given(st.binary(max_size=400))
def test_os_package_databases_arbitrary(data: bytes) -> None:
    for parse in (parse_dpkg_status, parse_apk_installed, parse_os_release):
        only_typed_errors(parse, data)


_MANIFEST_JSON: Any = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["Config", "Layers", "RepoTags", "x"]), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(_MANIFEST_JSON)
def test_docker_archive_manifest(doc: Any) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("manifest.json", json.dumps(doc).encode()), ("c.json", b"{}")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with tempfile.TemporaryDirectory(prefix="fuzz-archive-") as tmp:
        archive = Path(tmp) / "image.tar"
        archive.write_bytes(buf.getvalue())
        store = only_typed_errors(ArchiveStore, archive)
        if store is not None:
            only_typed_errors(store.docker_image, None, "fuzz")


# -- registry answers ------------------------------------------------------------------------

_LINK = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda target, rel: f"<{target}>; rel={rel}",
        st.sampled_from([
            "/v2/r/tags/list?n=1", "/v2/r/tags/list?n=1000", "?last=x", "http://other/v2/x",
            "//other/x", "https://127.0.0.1:5000/v2/r/tags/list", "", "../../x", "\x00",
        ]) | st.text(max_size=20),
        st.sampled_from(['"next"', "next", '"prev"', ""]),
    ),
)  # fmt: skip


@given(st.lists(_LINK, max_size=8))
def test_link_headers_end(links: list[str]) -> None:
    from nameplate.oci._wire.transport import follow

    seen: set[str] = set()
    current = "/v2/r/tags/list?n=1000"
    for link in links:
        nxt = only_typed_errors(
            follow, link, current, host="127.0.0.1:5000", seen=seen, where="fuzz", limit=5
        )
        if nxt is None:
            return
        assert nxt not in seen and len(seen) < 5
        current = nxt


@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_registry_json_answers(body: bytes) -> None:
    from nameplate.oci._wire.auth import parse_challenge, parse_token
    from nameplate.oci._wire.repository import parse_tag_list

    tags = only_typed_errors(parse_tag_list, body, where="fuzz")
    assert tags is None or all(isinstance(t, str) for t in tags)
    token = only_typed_errors(parse_token, body, where="fuzz")
    assert token is None or (isinstance(token[0], str) and 5 <= token[1] <= 86400)
    parse_challenge(body.decode("utf-8", "replace"))


# -- SPARQL and catalog queries --------------------------------------------------------------

_SPARQL = st.sampled_from([
    "SELECT", "ASK", "CONSTRUCT", "DESCRIBE", "*", "?s", "?p", "?o", "WHERE", "{", "}", ".",
    "np:name", "FILTER", "(", ")", "regex", "LIMIT", "10", "'x'", "SERVICE", "<http://x>",
    "OPTIONAL", "UNION", "GRAPH", "LOAD", "PREFIX", "x:", "\n", " ", "COUNT", "GROUP BY",
])  # fmt: skip


@pytest.fixture(scope="module")
def rdf_graph() -> Any:
    from nameplate.formats.jsonld import load_graph
    from tests.compat._helpers import hdf5

    return load_graph([hdf5()])


@given(st.lists(_SPARQL, max_size=25).map(" ".join) | st.text(max_size=80))
def test_sparql_queries(rdf_graph: Any, text: str) -> None:
    from nameplate.formats.jsonld import query

    only_typed_errors(query, rdf_graph, text)


@pytest.fixture(scope="module")
def catalog() -> Iterator[Any]:
    from nameplate.compat.catalog import Catalog
    from tests.compat._helpers import hdf5, hypre

    with (
        tempfile.TemporaryDirectory(prefix="fuzz-cat-") as tmp,
        Catalog.open(str(Path(tmp) / "c.db")) as cat,
    ):
        cat.add_many([hdf5(), hypre()])
        yield cat


@given(
    st.lists(
        st.sampled_from(list("hdf5@1.4:+~-^%=,/ ")) | st.sampled_from(["mpi", "target", "zen3"]),
        max_size=40,
    ).map("".join)
    | st.text(max_size=60)
)
def test_catalog_queries(catalog: Any, text: str) -> None:
    only_typed_errors(catalog.query, text)


# -- the text a record holds -----------------------------------------------------------------


_ANY_CHAR = st.characters(codec=None, exclude_categories=()) | st.sampled_from(
    ["\ud800", "\udfff", "\udc80", "\u202e", "\r", "\x00", "\ufffd"]
)


@given(st.lists(_ANY_CHAR, max_size=30).map("".join))
def test_any_text_in_a_record_can_be_written(text: str) -> None:
    from tests.oci.conftest import make_record

    base = make_record(0)
    record = Record(
        serial=base.serial,
        subject=base.subject,
        provenance=base.provenance,
        annotations={text: text},
        components=(Component(id=text or "x", name=text or "x", version=text, description=text),),
    )
    encoded = record.to_json().encode("utf-8")
    again = Record.from_dict(json.loads(encoded))
    assert again == record
