"""Records: from_dict(to_dict(r)) == r, and every generated record is schema-valid."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nameplate import schema
from nameplate._codec import frozen_map
from nameplate.record import (
    Component,
    CpuTarget,
    Dependency,
    Gpu,
    Hash,
    Hpc,
    Mpi,
    Provenance,
    Record,
    Subject,
    Tool,
    Unknown,
)

pytestmark = pytest.mark.property

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=12)
targets = st.builds(
    CpuTarget,
    name=st.sampled_from(["zen3", "icelake", "x86_64_v3", "neoverse_v1", "madeup"]),
    features=st.lists(names, max_size=4, unique=True).map(tuple),
)
components = st.builds(
    Component,
    id=names.map(lambda n: f"spack:{n}"),
    name=names,
    version=names,
    hashes=st.lists(st.builds(Hash, algorithm=st.just("sha256"), value=names), max_size=2).map(
        tuple
    ),
    options=st.dictionaries(
        names, st.booleans() | names | st.lists(names, max_size=2).map(tuple), max_size=3
    ).map(frozen_map),
    target=st.none() | targets,
    external=st.booleans(),
)
records = st.builds(
    Record,
    serial=st.uuids().map(lambda u: f"urn:uuid:{u}"),
    subject=st.builds(Subject, kind=st.just("spack-store"), name=names),
    components=st.lists(components, max_size=5, unique_by=lambda c: c.id).map(tuple),
    dependencies=st.lists(
        st.builds(
            Dependency,
            dependent=names,
            dependency=names,
            types=st.lists(
                st.sampled_from(["build", "link", "run", "test"]),
                min_size=1,
                max_size=4,
                unique=True,
            ).map(tuple),
            virtuals=st.lists(names, max_size=2).map(tuple),
        ),
        max_size=4,
    ).map(tuple),
    hpc=st.builds(
        Hpc,
        target=st.none() | targets,
        mpi=st.none()
        | st.builds(
            Mpi,
            implementation=names,
            abi=st.sampled_from(["mpich", "openmpi", "mpi-abi", "unknown"]),
        ),
        gpu=st.lists(
            st.builds(
                Gpu,
                vendor=st.just("nvidia"),
                runtime=st.just("cuda"),
                architectures=st.just(("sm_80",)),
            ),
            max_size=1,
        ).map(tuple),
    ),
    provenance=st.builds(
        Provenance,
        generator=st.builds(Tool, name=st.just("nameplate")),
        extracted_at=st.just("2026-01-01T00:00:00Z"),
    ),
    unknowns=st.lists(st.builds(Unknown, path=names, reason=names), max_size=2).map(tuple),
)


@given(records)
def test_round_trip_and_valid(record: Record) -> None:
    data = record.to_dict()
    assert Record.from_dict(data) == record
    schema.validate(data)
