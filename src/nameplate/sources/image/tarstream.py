"""Tar layers read as a stream: decompression, tar headers, and the bounds on both.

A layer (gzip, zstd or plain tar, sniffed from its first bytes) is decompressed as a stream
(:class:`_Stream`) and its tar headers are parsed one by one (:func:`_members`: ustar, GNU long
names and base-256 numbers, PAX extended and global headers), the data of each member left for
the caller to read or skip. Nothing is extracted to disk.

Bounds, all enforced while streaming (:class:`Limits`): decompressed bytes of the whole scan, the
compression ratio of a layer, and the size of an extended header are bounded (``InputTooLarge``);
a truncated or corrupt stream or header, or a layer whose bytes do not match its ``sha256``
digest, is a ``SourceError``. Used by :mod:`.layers`, which merges the members into a tree.
"""

from __future__ import annotations

import hashlib
import re
import struct
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, BinaryIO, cast

from ...errors import InputTooLarge, SourceError

__all__ = ["Limits"]

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_BLOCK = 512
_READ = 256 * 1024
_MAX_OUT = 4 * 1024 * 1024


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


class _Raw:
    """The compressed bytes of a layer, counted, with the sniffed head put back in front."""

    def __init__(self, raw: BinaryIO, progress: Callable[[int], None] | None) -> None:
        self.raw = raw
        self.progress = progress
        self.count = 0
        self.sha256 = hashlib.sha256()
        self.head = self._take(raw.read(4))
        self._pending = self.head

    def _take(self, data: bytes) -> bytes:
        self.count += len(data)
        self.sha256.update(data)
        if self.progress is not None and data:
            self.progress(len(data))
        return data

    def read(self, n: int = _READ) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        return self._take(self.raw.read(n if n > 0 else _READ))

    def verify(self, digest: str, where: str, size: int = 0) -> None:
        """Read what is left and check the bytes against a content address (``sha256:<hex>``)
        and the descriptor's ``size`` (0: none declared); other names (a docker-archive path)
        are not digests and are not checked."""
        if not _SHA256.match(digest):
            return
        while self._take(self.raw.read(_READ)):
            pass
        actual = "sha256:" + self.sha256.hexdigest()
        if actual != digest:
            raise SourceError(f"{where}: content does not match its digest (got {actual[:19]}…)")
        if size and self.count != size:
            raise SourceError(
                f"{where}: the descriptor's size is {size} bytes, the content has {self.count}"
            )


class _Stream:
    """Decompressed bytes of one layer, counted and bounded, with exact reads and skips."""

    def __init__(
        self,
        raw: BinaryIO,
        where: str,
        limits: Limits,
        counted: list[int],
        progress: Callable[[int], None] | None,
    ) -> None:
        self.raw = _Raw(raw, progress)
        self.where = where
        self.limits = limits
        self.counted = counted  # [decompressed bytes of the whole scan so far]
        self.out = 0
        self.buf = b""
        self.pos = 0
        head = self.raw.head
        self.mode = "tar"
        if head[:2] == _GZIP_MAGIC:
            self.mode = "gzip"
            self._gz = zlib.decompressobj(wbits=31)
        elif head[:4] == _ZSTD_MAGIC:
            import zstandard

            self.mode = "zstd"
            self._zst = zstandard.ZstdDecompressor().stream_reader(
                cast("IO[bytes]", self.raw), read_across_frames=True, closefd=False
            )

    def _more(self) -> bytes:
        """The next chunk of decompressed bytes; b"" at the end of the layer."""
        try:
            if self.mode == "tar":
                return self._count(self.raw.read(_READ))
            if self.mode == "zstd":
                return self._count(self._zst.read(_MAX_OUT))
            return self._count(self._gunzip())
        except zlib.error as exc:
            raise SourceError(f"{self.where}: corrupt gzip stream: {exc}") from exc
        except SourceError:
            raise
        except Exception as exc:  # zstandard.ZstdError (untyped module); anything else re-raised
            if type(exc).__name__ != "ZstdError":
                raise
            raise SourceError(f"{self.where}: corrupt zstd stream: {exc}") from exc

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
                    self._gz = zlib.decompressobj(wbits=31)
                    data = tail
            out = self._gz.decompress(data, _MAX_OUT)
            if out:
                return out
            if self._gz.eof and self._gz.unused_data:
                continue

    def _count(self, out: bytes) -> bytes:
        n = len(out)
        self.out += n
        self.counted[0] += n
        lim = self.limits
        if self.counted[0] > lim.max_bytes:
            raise InputTooLarge(
                f"{self.where}: the image decompresses to more than {lim.max_bytes} bytes"
            )
        if self.out > lim.ratio_floor and self.out > lim.max_ratio * max(self.raw.count, 1):
            raise InputTooLarge(
                f"{self.where}: decompresses to over {lim.max_ratio} times its size "
                "(a compression bomb?)"
            )
        return out

    def read(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or fewer only at the end of the stream."""
        avail = len(self.buf) - self.pos
        if avail >= n:
            out = self.buf[self.pos : self.pos + n]
            self.pos += n
            return out
        parts = [self.buf[self.pos :]]
        need = n - avail
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


def _pax(data: bytes, where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        sp = data.find(b" ", pos)
        if sp < 0:
            break
        try:
            length = int(data[pos:sp])
        except ValueError as exc:
            raise SourceError(f"{where}: malformed PAX header") from exc
        if length <= 0 or pos + length > len(data):
            raise SourceError(f"{where}: malformed PAX header record")
        record = data[sp + 1 : pos + length - 1]
        key, _, value = record.partition(b"=")
        out[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


@dataclass(frozen=True, slots=True)
class _Member:
    name: str
    type: bytes
    size: int
    mode: int
    linkname: str
    index: int


_HEADER = struct.Struct("100s8s8s8s12s12s8sc100s6s2s32s32s8s8s155s")


def _octal(field: bytes, what: str, where: str) -> int:
    if field[:1] and field[0] & 0x80:  # GNU base-256 for large numbers
        value = int.from_bytes(field[1:], "big")
        return -value if field[0] & 0x40 else value
    text = field.split(b"\0", 1)[0].strip(b" ")
    try:
        return int(text, 8) if text else 0
    except ValueError as exc:
        raise SourceError(f"{where}: not a tar layer, or a corrupt header ({what})") from exc


def _header(block: bytes, where: str) -> _Member:
    """One ustar/GNU/PAX header block (name, type, size, mode, link; the checksum verified)."""
    (name, mode, _, _, size, _, chksum, kind, link, magic, _, _, _, _, _, prefix) = (
        _HEADER.unpack_from(block)
    )
    expected = _octal(chksum, "checksum", where)
    if expected != sum(block[:148]) + 256 + sum(block[156:]):
        raise SourceError(f"{where}: not a tar layer, or a corrupt header (bad checksum)")
    text = name.split(b"\0", 1)[0]
    if magic[:5] == b"ustar" and magic != b"ustar " and prefix[:1] != b"\0":
        text = prefix.split(b"\0", 1)[0] + b"/" + text
    return _Member(
        name=text.decode("utf-8", "surrogateescape"),
        type=kind if kind != b"\0" else tarfile.REGTYPE,
        size=_octal(size, "size", where),
        mode=_octal(mode, "mode", where) & 0o7777,
        linkname=link.split(b"\0", 1)[0].decode("utf-8", "surrogateescape"),
        index=-1,
    )


def _members(stream: _Stream, where: str, limits: Limits) -> Iterator[_Member]:
    """Tar members of a stream (PAX and GNU long names applied); data left for the caller."""
    index = 0
    long_name: str | None = None
    long_link: str | None = None
    pax: dict[str, str] = {}
    global_pax: dict[str, str] = {}
    zero_blocks = 0
    while True:
        block = stream.read(_BLOCK)
        if not block:
            return  # end of data without the end-of-archive blocks: accepted
        if len(block) < _BLOCK:
            raise SourceError(f"{where}: layer ends inside a tar header (truncated)")
        if block.count(0) == _BLOCK:
            zero_blocks += 1
            if zero_blocks == 2:
                stream.drain()
                return
            continue
        zero_blocks = 0
        info = _header(block, where)
        size = info.size
        kind = info.type
        if kind in (
            tarfile.XHDTYPE,
            tarfile.XGLTYPE,
            tarfile.SOLARIS_XHDTYPE,
            tarfile.GNUTYPE_LONGNAME,
            tarfile.GNUTYPE_LONGLINK,
        ):
            if size > limits.max_header:
                raise InputTooLarge(f"{where}: a {size}-byte extended tar header is too large")
            data = stream.read(size)
            if len(data) < size:
                raise SourceError(f"{where}: layer ends inside an extended header (truncated)")
            stream.skip(-size % _BLOCK)
            if kind == tarfile.GNUTYPE_LONGNAME:
                long_name = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            elif kind == tarfile.GNUTYPE_LONGLINK:
                long_link = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            elif kind == tarfile.XGLTYPE:
                global_pax.update(_pax(data, where))
            else:
                pax = _pax(data, where)
            continue
        fields = {**global_pax, **pax}
        name = fields.get("path", long_name if long_name is not None else info.name)
        link = fields.get("linkpath", long_link if long_link is not None else info.linkname)
        if "size" in fields:
            try:
                size = int(fields["size"])
            except ValueError as exc:
                raise SourceError(f"{where}: {name}: bad PAX size") from exc
        pax, long_name, long_link = {}, None, None
        if kind in (
            tarfile.LNKTYPE,
            tarfile.SYMTYPE,
            tarfile.DIRTYPE,
            tarfile.CHRTYPE,
            tarfile.BLKTYPE,
            tarfile.FIFOTYPE,
        ):
            size = 0 if kind != tarfile.DIRTYPE else size
        if size < 0:
            raise SourceError(f"{where}: {name}: negative size")
        yield _Member(name=name, type=kind, size=size, mode=info.mode, linkname=link, index=index)
        index += 1
