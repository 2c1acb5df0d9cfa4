"""The cyclic garbage collector paused while a record is built or converted in bulk.

Reading a Spack store of 10,000 specs makes about a million containers (parsed JSON, nodes,
components, their JSON data) that all stay alive until the record is done. Each automatic
collection of the oldest generation walks every one of them, so the collector cost grows faster
than the input: with it paused, extracting such a store takes about 40 % less CPU time
(``benchmarks/spack_store.py``). Nothing built there forms reference cycles that must be freed
early; the collector runs again as usual once the outermost pause ends, with what was made
meanwhile counted as old objects.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused"]


class _State:
    lock = threading.Lock()
    depth = 0
    was_enabled = False


@contextmanager
def paused() -> Iterator[None]:
    """Disable automatic collection inside the block (re-entrant, shared by threads: the
    collector is enabled again when the last block ends, if it was enabled before the first)."""
    with _State.lock:
        if _State.depth == 0:
            _State.was_enabled = gc.isenabled()
            gc.disable()
        _State.depth += 1
    try:
        yield
    finally:
        with _State.lock:
            _State.depth -= 1
            if _State.depth == 0 and _State.was_enabled:
                # Everything made meanwhile joins the oldest generation without a traversal
                # (freeze, then unfreeze): the first collection after the pause would otherwise
                # walk all of it as young objects, and again one generation up.
                gc.freeze()
                gc.unfreeze()
                gc.enable()
