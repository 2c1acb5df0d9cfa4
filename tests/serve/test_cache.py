"""The service's caches: content keys, the query cache's single flight, cached-only reads."""

from __future__ import annotations

import threading
import time

import pytest

from nameplate.serve.cache import Fresh, Memo, Miss, cached_only


def test_a_query_runs_once_however_many_wait() -> None:
    fresh: Fresh[int] = Fresh(ttl=10)
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        time.sleep(0.2)
        return 42

    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(fresh.get("q", slow))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [42] * 8
    assert len(calls) == 1


def test_an_expired_value_is_served_while_it_is_refreshed() -> None:
    fresh: Fresh[str] = Fresh(ttl=0.05)
    assert fresh.get("q", lambda: "old") == "old"
    time.sleep(0.06)
    started, release = threading.Event(), threading.Event()

    def refresh() -> str:
        started.set()
        release.wait(5)
        return "new"

    worker = threading.Thread(target=lambda: fresh.get("q", refresh))
    worker.start()
    started.wait(5)
    assert fresh.get("q", lambda: "never") == "old"  # not a second query
    with cached_only():
        assert fresh.get("q", lambda: "never") == "old"
    release.set()
    worker.join()
    assert fresh.get("q", lambda: "never") == "new"


def test_cached_only_never_computes() -> None:
    memo: Memo[int] = Memo(10)
    fresh: Fresh[int] = Fresh(ttl=10)
    with cached_only():
        with pytest.raises(Miss):
            memo.get("k", lambda: 1)
        with pytest.raises(Miss):
            fresh.get("k", lambda: 1)
    assert memo.get("k", lambda: 1) == 1
    assert fresh.get("k", lambda: 2) == 2
    with cached_only():
        assert memo.get("k", lambda: 3) == 1
        assert fresh.get("k", lambda: 3) == 2
    off: Fresh[int] = Fresh(ttl=0)
    assert off.get("k", lambda: 4) == 4
    with cached_only(), pytest.raises(Miss):
        off.get("k", lambda: 5)


def test_a_failed_computation_is_tried_again() -> None:
    fresh: Fresh[int] = Fresh(ttl=10)

    def boom() -> int:
        raise RuntimeError("down")

    with pytest.raises(RuntimeError):
        fresh.get("k", boom)
    assert fresh.get("k", lambda: 7) == 7
