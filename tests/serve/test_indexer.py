"""The notification worker, one step at a time: what it skips, what it indexes, and how a
registry that does not answer is retried and then given up."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nameplate import oci
from nameplate.compat.catalog import Catalog
from nameplate.record import Record
from nameplate.serve.config import ServeConfig
from nameplate.serve.indexer import IndexWorker
from nameplate.serve.notify import PushEvent
from nameplate.serve.store import MAX_ATTEMPTS, Store
from tests.conftest import need
from tests.oci import registries as regs
from tests.oci.conftest import push_image

from . import server


def event(registry: str, repo: str, digest: str, tag: str | None = None, n: int = 0) -> PushEvent:
    return PushEvent(
        event_id=f"t-{n}-{digest[7:19]}-{tag}",
        source="distribution",
        registry=registry,
        repository=repo,
        digest=digest,
        tag=tag,
    )


def states(url: str) -> list[tuple[str, str, int]]:
    store = Store.open(url)
    try:
        return [
            (e["state"], str(e["detail"]), int(e["attempts"])) for e in reversed(store.events(50))
        ]
    finally:
        store.close()


def test_an_unreachable_registry_is_retried_then_given_up(tmp_path: Path) -> None:
    url = str(tmp_path / "catalog.db")
    dead = f"127.0.0.1:{server.free_port()}"
    config = ServeConfig(catalog=url, registries=frozenset({dead}), plain_http=frozenset({dead}))
    with Catalog.open(url):
        pass
    store = Store.open(url)
    store.enqueue([event(dead, "hpc/app", "sha256:" + "1" * 64, "1.0")])
    worker = IndexWorker(config)
    assert worker.step()
    ((state, detail, attempts),) = states(url)
    assert (state, attempts) == ("pending", 1)
    assert dead in detail
    (not_before,) = store._run("SELECT not_before FROM serve_events")[0]
    assert not_before > time.time() + 0.5  # not before its backoff (2 s after the attempt)
    for _ in range(MAX_ATTEMPTS - 1):
        store._run("UPDATE serve_events SET not_before = 0")
        assert worker.step()
    ((state, detail, attempts),) = states(url)
    assert (state, attempts) == ("failed", MAX_ATTEMPTS)
    store.close()


@pytest.mark.service
def test_what_is_skipped_and_what_is_indexed(tmp_path: Path, site_records: list[Record]) -> None:
    need(regs.DOCKER_REGISTRY is not None, "docker-registry not installed (scripts/apt.d/oci.txt)")
    reg = regs.start_distribution(tmp_path / "registry")
    try:
        url = str(tmp_path / "catalog.db")
        config = ServeConfig(
            catalog=url, registries=frozenset({reg.host}), plain_http=frozenset({reg.host})
        )
        with Catalog.open(url):
            pass
        store = Store.open(url)
        ref = reg.ref("hpc/app:2.0")
        image = push_image(ref, transport=reg.transport, seed="skip")
        worker = IndexWorker(config)
        # an image with no record yet, then its record, a bookkeeping tag, another registry
        store.enqueue([event(reg.host, "hpc/app", image, "2.0", 1)])
        assert worker.step()
        record = next(r for r in site_records if r.subject.name == "zlib-ng")
        desc = oci.attach(record, ref, transport=reg.transport)
        store.enqueue(
            [
                event(reg.host, "hpc/app", desc.digest, None, 2),
                event(reg.host, "hpc/app", desc.digest, "nameplate-ref-" + image[7:] + "-x", 3),
                event("other.example.org", "hpc/app", image, "2.0", 4),
            ]
        )
        while worker.step():
            pass
        got = states(url)
        assert got[0][0] == "done" and "no record attached" in got[0][1]
        assert got[1][0] == "done" and got[1][1].startswith("indexed 1: zlib-ng@2.0")
        assert got[2][0] == "ignored" and "bookkeeping" in got[2][1]
        assert got[3][0] == "ignored" and "not a configured registry" in got[3][1]
        with Catalog.open(url, readonly=True) as cat:
            entry = cat.get(f"{reg.host}/hpc/app@{image}")
        assert entry is not None
        assert (entry.tag, entry.repository) == ("2.0", f"{reg.host}/hpc/app")
        store.close()
    finally:
        reg.stop()
