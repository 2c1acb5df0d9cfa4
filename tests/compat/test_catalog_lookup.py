"""Catalog lookups by key, by repository and by time, on SQLite and PostgreSQL: each entry
carries the repository and tag it was indexed under."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from nameplate.compat.catalog import Catalog, Entry

from ._gen import record
from .postgres import fresh_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    if request.param == "sqlite":
        url = str(tmp_path / "catalog.db")
    else:
        url = request.getfixturevalue("postgres_url")
        fresh_schema(url)
    with Catalog.open(url) as cat:
        yield cat


def test_get_in_repository_and_recent(catalog: Catalog) -> None:
    repo = "registry.example.org/hpc/app"
    tagged = []
    for i, tag in enumerate(["1.0", "1.1", "2.0"]):
        r = record(i)
        r = dataclasses.replace(
            r,
            provenance=dataclasses.replace(
                r.provenance, extracted_at=f"2026-02-0{i + 1}T00:00:00Z", built_at=None
            ),
        )
        tagged.append(
            Entry(
                record=r,
                ref=f"{repo}@sha256:{i:064x}",
                repository=repo,
                tag=tag,
                platform="linux/amd64",
            )
        )
    loose = Entry(record=record(10))
    catalog.add_many([*tagged, loose])
    got = catalog.get(f"{repo}@sha256:{1:064x}")
    assert got is not None
    assert (got.repository, got.tag, got.platform) == (repo, "1.1", "linux/amd64")
    assert got.record().serial == tagged[1].record.serial
    assert catalog.get("nope") is None
    by_repo = catalog.in_repository(repo)
    assert [e.tag for e in by_repo] == ["2.0", "1.1", "1.0"]
    assert catalog.in_repository("registry.example.org/other") == []
    loose_entry = catalog.get(loose.key)
    assert loose_entry is not None
    assert (loose_entry.repository, loose_entry.tag) == (None, None)
    recent = catalog.recent(2)
    assert len(recent) == 2
    assert [e.created for e in recent] == sorted((e.created for e in recent), reverse=True)
    assert catalog.recent(0) == []
    hits = catalog.query(tagged[0].record.subject.name, limit=10)
    first = next(h for h in hits if h.key == tagged[0].key)
    assert (first.repository, first.tag) == (repo, "1.0")
