"""The catalog's SQL (SQLite) answers every spec query as the in-memory matcher does
(``specquery.record_matches``), root-only and with ``any_node``: queries made of the names,
virtuals, versions, variants, compilers, targets and hash prefixes the generated records hold.
(``hdf5 ^mpi@1.14`` matched every record with an MPI; ``hdf5 api=,`` every hdf5.)"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nameplate.compat.catalog import Catalog
from nameplate.compat.specquery import SpecSyntaxError, parse, record_matches
from nameplate.record import Record
from tests.compat._gen import record

pytestmark = pytest.mark.property

N = 200
NAMES = ["hdf5", "mpi", "openmpi", "mpich", "mvapich2", "zlib-api", "zlib-ng", "lammps", "x"]
PARTS = [
    "@1.14",
    "@:4.1",
    "@4.1.6:",
    "@=5.0.5",
    "@2.2",
    "@4:",
    "@1.14,2.2",
    "+mpi",
    "~mpi",
    "~shared",
    "mpi=true",
    "build_type=Release",
    "build_type=Release,Debug",
    "build_type=release",
    "%gcc",
    "%gcc@13:",
    "%gcc@=13.2.0",
    "%clang",
    "target=zen3",
    "target=zen3:",
    "target=:icelake",
    "target=x86_64_v3:zen4",
    "target=zen3,icelake",
    "os=rhel8",
    "platform=linux",
]


@functools.cache
def _catalog() -> tuple[Catalog, list[Record]]:
    records = [record(i) for i in range(N)]
    cat = Catalog.open(str(Path(tempfile.mkdtemp(prefix="np-query-")) / "catalog.db"))
    cat.add_many(records, batch=64)
    return cat, records


@st.composite
def queries(draw: st.DrawFn) -> str:
    _, records = _catalog()
    hashes = [h.value for r in records[:20] for c in r.components for h in c.hashes]
    parts = st.sampled_from(PARTS) | st.sampled_from(hashes).flatmap(
        lambda h: st.integers(1, 6).map(lambda n: "/" + h[:n])
    )
    clauses = []
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(["", *NAMES]))
        rest = draw(st.lists(parts, min_size=0 if name else 1, max_size=2))
        clauses.append(" ".join([name, *rest]).strip())
    return ("^" if draw(st.booleans()) else "") + " ^".join(clauses)


@given(queries(), st.booleans())
def test_the_sql_answers_as_the_matcher_does(spec: str, any_node: bool) -> None:
    try:
        q = parse(spec)
    except SpecSyntaxError:
        return
    cat, records = _catalog()
    got = {e.key for e in cat.query(spec, any_node=any_node)}
    assert got == {r.serial for r in records if record_matches(q, r, any_node=any_node)}
