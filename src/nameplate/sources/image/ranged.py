"""A registry blob read by byte ranges: a SIF pushed with ``apptainer push oras://`` is read
where the SIF and squashfs readers need it, never downloaded whole.

:class:`RangedBlob` is a :class:`~nameplate.squashfs.ReadAt` over HTTP ``Range`` requests made by
:mod:`nameplate.oci` (the only code that speaks HTTP). Reads are rounded to aligned chunks,
contiguous missing chunks are fetched in one request, and chunks are kept in a bounded LRU cache.
A server that ignores ``Range`` and sends the whole blob is accepted only up to ``whole_limit``
bytes (then the whole blob is checked against its digest and served from memory); a larger one is
refused by the wire. ``fetched`` and ``requests`` count what crossed the network.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from ...errors import SourceError

__all__ = ["RangedBlob"]

Fetch = Callable[[int, int], tuple[bytes, bool]]


class RangedBlob:
    """``size`` bytes of a blob, fetched by ranges through ``fetch(start, length)``."""

    def __init__(
        self,
        fetch: Fetch,
        size: int,
        *,
        where: str,
        chunk: int = 64 * 1024,
        cache_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self._fetch, self._size, self.where = fetch, size, where
        self._chunk = chunk
        self._max_chunks = max(1, cache_bytes // chunk)
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._whole: bytes | None = None
        #: bytes received and requests made (for the benchmark and the report)
        self.fetched = 0
        self.requests = 0

    @property
    def size(self) -> int:
        return self._size

    def _get(self, first: int, last: int) -> None:
        """Fetch chunks ``first..last`` (inclusive) in one request and cache them."""
        start = first * self._chunk
        length = min(self._size, (last + 1) * self._chunk) - start
        data, whole = self._fetch(start, length)
        self.requests += 1
        self.fetched += len(data)
        if whole:
            if len(data) != self._size:
                raise SourceError(f"{self.where}: the blob has {len(data)} bytes, not {self._size}")
            self._whole = data
            return
        if len(data) != length:
            raise SourceError(f"{self.where}: {len(data)} bytes for a range of {length}")
        for i in range(first, last + 1):
            off = (i - first) * self._chunk
            self._cache[i] = data[off : off + self._chunk]
            self._cache.move_to_end(i)
        while len(self._cache) > self._max_chunks:
            self._cache.popitem(last=False)

    def _from_whole(self, offset: int, n: int) -> bytes | None:
        return None if self._whole is None else self._whole[offset : offset + n]

    def read_at(self, offset: int, n: int) -> bytes:
        if offset < 0 or n <= 0 or offset >= self._size:
            return b""
        n = min(n, self._size - offset)
        first, last = offset // self._chunk, (offset + n - 1) // self._chunk
        run: list[int] = []
        for i in range(first, last + 1):
            if self._whole is not None or i in self._cache:
                continue
            if run and i != run[-1] + 1:
                self._get(run[0], run[-1])
                run = []
            run.append(i)
        if run:
            self._get(run[0], run[-1])
        parts = []
        for i in range(first, last + 1):
            whole = self._from_whole(offset, n)
            if whole is not None:
                return whole
            chunk = self._cache.get(i)
            if chunk is None:  # evicted by a read larger than the cache
                self._get(i, i)
                whole = self._from_whole(offset, n)
                if whole is not None:
                    return whole
                chunk = self._cache[i]
            self._cache.move_to_end(i)
            parts.append(chunk)
        whole = self._from_whole(offset, n)
        if whole is not None:
            return whole
        skip = offset - first * self._chunk
        return b"".join(parts)[skip : skip + n]
