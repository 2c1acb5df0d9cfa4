"""A layer's bytes as a stream: sniffed, read, hashed, decompressed, bounded.

:func:`open_stream` gives a reader of exact reads and skips (:class:`_Reader`) over one layer:
either :class:`_Stream`, where a helper thread reads and hashes the (compressed) bytes and
another inflates them (gzip through ISA-L where ``isal`` is installed, else zlib; zstd; or plain
tar), each a bounded number of chunks ahead of the tar parser; or :class:`_InPlace`, a plain
tar that is a window of a regular file with no digest to check (a Docker archive member), read
in place with file data seeked over. :mod:`.tarstream` parses the tar headers on top.

Bounds (:class:`Limits`): decompressed bytes of the whole scan and the compression ratio of a
layer (``InputTooLarge``); a truncated or corrupt stream, or a layer whose bytes do not match
its ``sha256`` digest, is a ``SourceError``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import queue
import re
import stat
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, cast

from ...errors import InputTooLarge, SourceError

__all__ = ["Limits", "open_stream"]

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_READ = 256 * 1024
_MAX_OUT = 1024 * 1024


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """Safety bounds of a layer scan (defaults suit real images of tens of GB)."""

    max_bytes: int = 64 * 1024**3
    max_ratio: int = 250
    ratio_floor: int = 64 * 1024**2
    max_entries: int = 2_000_000
    max_header: int = 1024 * 1024
    keep_file: int = 64 * 1024**2
    keep_total: int = 128 * 1024**2
    cache_total: int = 64 * 1024**2


_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")
#: Decompressed chunks the inflating thread may hold ahead of the tar parser (bounded memory).
_AHEAD = 8
#: Read size of a plain tar read in place (headers and small files; larger files are seeked).
_SEEK_READ = 65536


def _inflater() -> Any:
    """A gzip decompressor: ISA-L's (``isal``, about twice zlib's speed) where its wheel is
    installed, else zlib's; both take the same calls."""
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover - the optional fast path
        return zlib.decompressobj(wbits=31)
    return isal_zlib.decompressobj(wbits=31)


_INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error,)
try:
    from isal import isal_zlib as _isal_zlib

    _INFLATE_ERRORS = (zlib.error, cast("type[Exception]", _isal_zlib.error))
except ImportError:  # pragma: no cover - the optional fast path
    pass


class _Raw:
    """The compressed bytes of a layer, counted and hashed, with the sniffed head put back in
    front. :meth:`start` moves reading and hashing to a thread of its own, a stage ahead of the
    inflater (both release the GIL: the three stages run on separate cores)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0
        self.consumed = 0
        self.sha256 = hashlib.sha256()
        self.head = self._take(raw.read(4))
        self._pending = self.head
        self._queue: queue.Queue[bytes | BaseException] | None = None
        self._thread: threading.Thread | None = None
        self._stop = False
        self._eof = False

    def _take(self, data: bytes) -> bytes:
        self.count += len(data)
        self.sha256.update(data)
        return data

    def start(self) -> None:
        """Read and hash in a helper thread from now on, at most :data:`_AHEAD` reads ahead."""
        self._queue = queue.Queue(_AHEAD)
        self._thread = threading.Thread(target=self._reader, name="nameplate-read", daemon=True)
        self._thread.start()

    def _reader(self) -> None:
        q = self._queue
        assert q is not None
        try:
            while not self._stop:
                data = self._take(self.raw.read(_READ))
                q.put(data)
                if not data:
                    return
        except BaseException as exc:  # raised again by read(), in the inflater's thread
            q.put(exc)

    def read(self, n: int = _READ) -> bytes:
        """The next compressed bytes (up to ``n`` when read here, a read of the helper thread
        otherwise); b"" at the end. ``consumed`` counts what was handed out."""
        if self._pending:
            data, self._pending = self._pending, b""
        elif self._queue is None:
            data = self._take(self.raw.read(n if n > 0 else _READ))
        elif self._eof:
            return b""
        else:
            item = self._queue.get()
            if isinstance(item, BaseException):
                self._eof = True
                raise item
            if not item:
                self._eof = True
            data = item
        self.consumed += len(data)
        return data

    def rest(self) -> None:
        """Read (and hash) what is left."""
        while self.read(_READ):
            pass

    def close(self) -> None:
        """Stop the reading thread, if any, and wait for it."""
        thread, q = self._thread, self._queue
        if thread is None or q is None:
            return
        self._stop = True
        _wind_down(thread, q)


def _wind_down(thread: threading.Thread, q: queue.Queue[Any]) -> None:
    """Wait for a helper thread told to stop, taking what it still puts so it never blocks."""
    while thread.is_alive():
        with contextlib.suppress(queue.Empty):
            q.get(timeout=0.05)
    thread.join()


def _window(raw: BinaryIO) -> tuple[int, int, int] | None:
    """(file descriptor, offset, size) of a layer that is a window of a regular file (an
    archive member, a layout blob), so that it can be read in place; None otherwise."""
    window = getattr(raw, "window", None)
    if callable(window):
        return cast("tuple[int, int, int] | None", window())
    if not isinstance(raw, io.BufferedReader | io.FileIO):
        return None
    try:
        fd = raw.fileno()
        st = os.fstat(fd)
        pos = raw.tell()
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return fd, pos, st.st_size - pos


def open_stream(
    raw: BinaryIO,
    where: str,
    limits: Limits,
    counted: list[int],
    progress: Callable[[int], None] | None,
    *,
    digest: str | None = None,
) -> _Stream | _InPlace:
    """The decompressed bytes of one layer. ``digest``: its content address; a ``sha256:``
    digest is checked by :meth:`_Stream.finish` over every byte read. A plain tar with no digest
    to check (a Docker archive member) that is a window of a regular file is read in place,
    file data seeked over; anything else is inflated (and hashed) by a helper thread."""
    checked = digest if digest is not None and _SHA256.match(digest) else None
    if checked is None:
        window = _window(raw)
        if window is not None:
            fd, offset, size = window
            head = os.pread(fd, 4, offset)
            if head[:2] != _GZIP_MAGIC and head[:4] != _ZSTD_MAGIC:
                return _InPlace(
                    fd, offset, size, where=where, limits=limits, counted=counted, progress=progress
                )
    return _Stream(raw, where, limits, counted, progress, digest=checked)


class _Reader:
    """Exact reads and skips over chunks of decompressed bytes (:meth:`_more`)."""

    where: str
    buf: bytes
    pos: int

    def _more(self) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def read(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or fewer only at the end of the stream."""
        pos = self.pos
        if len(self.buf) - pos >= n:
            self.pos = pos + n
            return self.buf[pos : pos + n]
        parts = [self.buf[pos:]]
        need = n - len(parts[0])
        self.buf, self.pos = b"", 0
        while need > 0:
            chunk = self._more()
            if not chunk:
                break
            if len(chunk) > need:
                parts.append(chunk[:need])
                self.buf, self.pos = chunk, need
                need = 0
            else:
                parts.append(chunk)
                need -= len(chunk)
        return b"".join(parts)

    def skip(self, n: int) -> None:
        avail = len(self.buf) - self.pos
        if avail >= n:
            self.pos += n
            return
        need = n - avail
        self.buf, self.pos = b"", 0
        self._skip(need)

    def _skip(self, need: int) -> None:
        while need > 0:
            chunk = self._more()
            if not chunk:
                raise SourceError(f"{self.where}: layer ends inside a file (truncated)")
            if len(chunk) > need:
                self.buf, self.pos = chunk, need
                return
            need -= len(chunk)

    def drain(self) -> None:
        """Read to the end, so that a truncated or corrupt tail is still detected."""
        self.buf, self.pos = b"", 0
        while self._more():
            pass


def _bound(limits: Limits, where: str, total: int, out: int, compressed: int) -> None:
    """The bounds on decompressed bytes: of the whole scan (``total``) and of this layer's
    ratio (``out`` from ``compressed``)."""
    if total > limits.max_bytes:
        raise InputTooLarge(
            f"{where}: the image decompresses to more than {limits.max_bytes} bytes"
        )
    if out > limits.ratio_floor and out > limits.max_ratio * max(compressed, 1):
        raise InputTooLarge(
            f"{where}: decompresses to over {limits.max_ratio} times its size (a compression bomb?)"
        )


class _InPlace(_Reader):
    """A plain tar that is a window of a regular file, read in place with ``pread``: headers
    and small files in reads of 64 KiB, larger file data skipped by moving the offset."""

    def __init__(
        self,
        fd: int,
        offset: int,
        size: int,
        *,
        where: str,
        limits: Limits,
        counted: list[int],
        progress: Callable[[int], None] | None,
    ) -> None:
        self.fd, self.offset, self.end = fd, offset, offset + size
        self.where, self.limits, self.counted, self.progress = where, limits, counted, progress
        self.out = 0
        self.buf, self.pos = b"", 0

    def _advance(self, n: int) -> None:
        self.offset += n
        self.out += n
        self.counted[0] += n
        _bound(self.limits, self.where, self.counted[0], self.out, self.out)
        if self.progress is not None and n:
            self.progress(n)

    def _more(self) -> bytes:
        n = min(_SEEK_READ, self.end - self.offset)
        if n <= 0:
            return b""
        try:
            data = os.pread(self.fd, n, self.offset)
        except OSError as exc:
            raise SourceError(f"{self.where}: cannot read: {exc.strerror}") from exc
        if not data:
            raise SourceError(f"{self.where}: the file ends early (truncated)")
        self._advance(len(data))
        return data

    def _skip(self, need: int) -> None:
        if self.offset + need > self.end:
            raise SourceError(f"{self.where}: layer ends inside a file (truncated)")
        self._advance(need)

    def drain(self) -> None:
        self.buf, self.pos = b"", 0  # nothing to decompress or check after the end

    def finish(self, size: int = 0) -> None:
        """Nothing to verify: only layers without a ``sha256`` digest are read in place."""

    def close(self) -> None:
        """The file is the caller's."""

    def __enter__(self) -> _InPlace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Stream(_Reader):
    """Decompressed bytes of one layer, counted and bounded, with exact reads and skips.

    A helper thread reads, hashes and inflates (``hashlib``, zlib/ISA-L and zstd release the
    GIL), at most :data:`_AHEAD` chunks ahead of the tar parser; errors it meets are raised in
    the reader, in order."""

    def __init__(
        self,
        raw: BinaryIO,
        where: str,
        limits: Limits,
        counted: list[int],
        progress: Callable[[int], None] | None,
        *,
        digest: str | None = None,
    ) -> None:
        self.raw = _Raw(raw)
        self.where = where
        self.limits = limits
        self.counted = counted  # [decompressed bytes of the whole scan so far]
        self.progress = progress
        self.digest = digest
        self.out = 0
        self.buf = b""
        self.pos = 0
        self._ended = False
        head = self.raw.head
        self.mode = "tar"
        if head[:2] == _GZIP_MAGIC:
            self.mode = "gzip"
            self._gz = _inflater()
        elif head[:4] == _ZSTD_MAGIC:
            import zstandard

            self.mode = "zstd"
            self._zst = zstandard.ZstdDecompressor().stream_reader(
                cast("IO[bytes]", self.raw), read_across_frames=True, closefd=False
            )
        if self.mode != "tar":
            self.raw.start()
        self._queue: queue.Queue[tuple[bytes, int] | BaseException] = queue.Queue(_AHEAD)
        self._stop = False
        self._thread = threading.Thread(target=self._produce, name="nameplate-inflate", daemon=True)
        self._thread.start()

    # -- the helper thread -------------------------------------------------------------------

    def _produce(self) -> None:
        q = self._queue
        try:
            seen = self.raw.consumed
            while not self._stop:
                chunk = self._inflate()
                count = self.raw.consumed
                q.put((chunk, count - seen))
                seen = count
                if not chunk:
                    if self.digest is not None:
                        self.raw.rest()
                    return
        except BaseException as exc:  # raised again in the reader's thread
            q.put(exc)

    def _inflate(self) -> bytes:
        """The next chunk of decompressed bytes, counted and bounded; b"" at the end."""
        try:
            if self.mode == "tar":
                out = self.raw.read(_READ)
            elif self.mode == "zstd":
                out = self._zst.read(_MAX_OUT)
            else:
                out = self._gunzip()
        except _INFLATE_ERRORS as exc:
            raise SourceError(f"{self.where}: corrupt gzip stream: {exc}") from exc
        except SourceError:
            raise
        except Exception as exc:  # zstandard.ZstdError (untyped module); anything else re-raised
            if type(exc).__name__ != "ZstdError":
                raise
            raise SourceError(f"{self.where}: corrupt zstd stream: {exc}") from exc
        self.out += len(out)
        self.counted[0] += len(out)
        _bound(self.limits, self.where, self.counted[0], self.out, self.raw.consumed)
        return out

    def _gunzip(self) -> bytes:
        while True:
            if self._gz.unconsumed_tail:
                data = self._gz.unconsumed_tail
            else:
                data = self.raw.read(_READ)
                if not data:
                    if not self._gz.eof:
                        raise SourceError(f"{self.where}: truncated gzip stream")
                    return b""
                if self._gz.eof:
                    tail = self._gz.unused_data + data
                    if not tail.strip(b"\0"):
                        continue  # zero padding after the last gzip member
                    self._gz = _inflater()
                    data = tail
            out: bytes = self._gz.decompress(data, _MAX_OUT)
            if out:
                return out
            if self._gz.eof and self._gz.unused_data:
                continue

    # -- the reader ----------------------------------------------------------------------------

    def _more(self) -> bytes:
        if self._ended:
            return b""
        item = self._queue.get()
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        chunk, compressed = item
        if self.progress is not None and compressed:
            self.progress(compressed)
        if not chunk:
            self._ended = True
        return chunk

    def finish(self, size: int = 0) -> None:
        """After the last member: read to the end and check the bytes against the layer's
        ``sha256`` digest and the descriptor's ``size`` (0: none declared); other names (a
        docker-archive path) are not digests and are not checked."""
        self.drain()
        self._thread.join()
        if self.digest is None:
            return
        actual = "sha256:" + self.raw.sha256.hexdigest()
        if actual != self.digest:
            raise SourceError(
                f"{self.where}: content does not match its digest (got {actual[:19]}…)"
            )
        if size and self.raw.count != size:
            raise SourceError(
                f"{self.where}: the descriptor's size is {size} bytes, the content has "
                f"{self.raw.count}"
            )

    def close(self) -> None:
        """Stop the helper thread (when the reader leaves early) and wait for it."""
        self._stop = True
        _wind_down(self._thread, self._queue)
        self.raw.close()

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
