"""Fuzz the Spack parsers: arbitrary input ends in a record or a NameplateError, nothing else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nameplate.errors import NameplateError
from nameplate.sources.spack.buildcache import _read_index
from nameplate.sources.spack.graph import Graph
from nameplate.sources.spack.lockfile import read_lockfile
from nameplate.sources.spack.specfile import parse_specfile, strip_clearsign
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
