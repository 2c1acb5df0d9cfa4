"""Property tests: the CPU rule is monotone; parsers of untrusted input raise only NameplateError."""

from __future__ import annotations

import contextlib
import functools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nameplate import normalize
from nameplate.compat.profile import cpu_from_cpuinfo, host_from_json
from nameplate.compat.rules import CheckOptions, cpu_rule
from nameplate.compat.specquery import parse
from nameplate.errors import NameplateError
from nameplate.record import Hpc

from ._helpers import HOSTS, cpu_host, hypre

pytestmark = pytest.mark.property

HOST_NAMES = sorted(p.name.removesuffix(".cpuinfo") for p in HOSTS.glob("linux-*.cpuinfo"))


def _at_or_below(name: str) -> list[str]:
    import archspec.cpu

    host = cpu_host(name)
    t = archspec.cpu.TARGETS.get(host.cpu.target or "")
    return [] if t is None else sorted({t.name, *(a.name for a in t.ancestors)})


@given(st.sampled_from(HOST_NAMES), st.data())
def test_a_target_at_or_below_the_hosts_never_fails(name: str, data: st.DataObject) -> None:
    below = _at_or_below(name)
    if not below:
        return
    target = data.draw(st.sampled_from(below))
    base = hypre()
    record = base.__class__(
        serial=base.serial,
        subject=base.subject,
        provenance=base.provenance,
        hpc=Hpc(target=normalize.cpu_target(target)),
    )
    findings = cpu_rule(record, cpu_host(name), CheckOptions())
    assert all(f.severity != "fail" for f in findings), findings


@given(st.text(max_size=200))
def test_specquery_parser_raises_only_nameplate_errors(text: str) -> None:
    with contextlib.suppress(NameplateError):
        parse(text)


@given(st.text(alphabet="hdf5@1.4:+~-^%=,mpi target zen3 /abgc27", max_size=80))
def test_specquery_parser_on_spec_like_text(text: str) -> None:
    with contextlib.suppress(NameplateError):
        parse(text)


@functools.cache
def _small_catalog() -> Any:
    """A SQLite catalog of generated records and the two real ones, made once per run."""
    import atexit
    import shutil
    import tempfile

    from nameplate.compat.catalog import Catalog

    from ._gen import record
    from ._helpers import hdf5

    folder = tempfile.mkdtemp(prefix="np-catalog-fuzz-")
    atexit.register(shutil.rmtree, folder, True)
    cat = Catalog.open(f"{folder}/catalog.db")
    cat.add_many([hdf5(), hypre(), *(record(i) for i in range(60))])
    return cat


@given(
    st.text(alphabet="hdf5zlib-ngopenmpi@1.4:+~^%=,/ target zen3 x86_64_v3 abgc27", max_size=60),
    st.booleans(),
    st.sampled_from([None, 1, 7, 100]),
)
def test_catalog_queries_answer_or_raise_nameplate_errors(
    text: str, any_node: bool, limit: int | None
) -> None:
    """Any query text reaches SQL only as parameters: the catalog answers (newest first) or
    raises a NameplateError (a syntax error names its column)."""
    try:
        hits = _small_catalog().query(text, limit=limit, any_node=any_node)
    except NameplateError:
        return
    assert limit is None or len(hits) <= limit
    created = [h.created or "" for h in hits]
    assert created == sorted(created, reverse=True)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_host_profile_reader_raises_only_nameplate_errors(value: object) -> None:
    import json

    for doc in (value, {"schema_version": "1.0.0", "cpu": value}):
        with contextlib.suppress(NameplateError):
            host_from_json(json.dumps(doc), where="h.json")


@given(st.binary(max_size=200))
def test_host_profile_reader_on_bytes(data: bytes) -> None:
    with contextlib.suppress(NameplateError):
        host_from_json(data, where="h.json")


@given(st.text(max_size=400))
def test_cpuinfo_reader_never_crashes(text: str) -> None:
    cpu_from_cpuinfo(text)
