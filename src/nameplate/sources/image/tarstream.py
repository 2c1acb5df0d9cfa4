"""Tar layers read as a stream: the tar headers, one by one.

:func:`_members` parses the members of a layer's decompressed bytes (a reader of
:mod:`.layerstream`: ustar, GNU long names and base-256 numbers, PAX extended and global
headers), the data of each member left for the caller to read or skip. Nothing is extracted to
disk. A truncated or corrupt header is a ``SourceError``; an extended header over
``Limits.max_header`` is ``InputTooLarge``. Used by :mod:`.layers`, which merges the members
into a tree.
"""

from __future__ import annotations

import struct
import tarfile
from collections.abc import Iterator
from typing import NamedTuple

from ...errors import InputTooLarge, SourceError
from .layerstream import Limits, _Reader, open_stream

__all__ = ["Limits", "open_stream"]

_BLOCK = 512


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


class _Member(NamedTuple):
    name: str
    type: bytes
    size: int
    mode: int
    linkname: str
    ordinal: int  # the member's place in its layer


_HEADER = struct.Struct("100s8s8s8s12s12s8sc100s6s2s32s32s8s8s155s")
_ZERO_BLOCK = bytes(_BLOCK)
_EXTENDED = frozenset(
    {
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
    }
)
_NO_DATA = frozenset(
    {tarfile.LNKTYPE, tarfile.SYMTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE}
)


def _octal(field: bytes, what: str, where: str) -> int:
    try:  # the common form: octal digits, NUL- or space-terminated
        return int(field.rstrip(b"\0"), 8)
    except ValueError:
        pass
    if field[:1] and field[0] & 0x80:  # GNU base-256 for large numbers
        value = int.from_bytes(field[1:], "big")
        return -value if field[0] & 0x40 else value
    text = field.split(b"\0", 1)[0].strip(b" ")
    try:
        return int(text, 8) if text else 0
    except ValueError as exc:
        raise SourceError(f"{where}: not a tar layer, or a corrupt header ({what})") from exc


def _header(block: bytes, where: str) -> tuple[str, bytes, int, int, str]:
    """One ustar/GNU/PAX header block: (name, type, size, mode, link), the checksum verified."""
    (name, mode, _, _, size, _, chksum, kind, link, magic, _, _, _, _, _, prefix) = (
        _HEADER.unpack_from(block)
    )
    if _octal(chksum, "checksum", where) != sum(block) - sum(chksum) + 256:
        raise SourceError(f"{where}: not a tar layer, or a corrupt header (bad checksum)")
    text = name.split(b"\0", 1)[0]
    if magic[:5] == b"ustar" and magic != b"ustar " and prefix[:1] != b"\0":
        text = prefix.split(b"\0", 1)[0] + b"/" + text
    return (
        text.decode("utf-8", "surrogateescape"),
        kind if kind != b"\0" else tarfile.REGTYPE,
        _octal(size, "size", where),
        _octal(mode, "mode", where) & 0o7777,
        link.split(b"\0", 1)[0].decode("utf-8", "surrogateescape") if link[:1] != b"\0" else "",
    )


def _members(stream: _Reader, where: str, limits: Limits) -> Iterator[_Member]:
    """Tar members of a stream (PAX and GNU long names applied); data left for the caller."""
    index = 0
    long_name: str | None = None
    long_link: str | None = None
    pax: dict[str, str] = {}
    global_pax: dict[str, str] = {}
    zero_blocks = 0
    read = stream.read
    while True:
        block = read(_BLOCK)
        if len(block) < _BLOCK:
            if not block:
                return  # end of data without the end-of-archive blocks: accepted
            raise SourceError(f"{where}: layer ends inside a tar header (truncated)")
        if block == _ZERO_BLOCK:
            zero_blocks += 1
            if zero_blocks == 2:
                stream.drain()
                return
            continue
        zero_blocks = 0
        name, kind, size, mode, link = _header(block, where)
        if kind in _EXTENDED:
            if size > limits.max_header:
                raise InputTooLarge(f"{where}: a {size}-byte extended tar header is too large")
            data = read(size)
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
        if pax or global_pax or long_name is not None or long_link is not None:
            fields = {**global_pax, **pax}
            name = fields.get("path", long_name if long_name is not None else name)
            link = fields.get("linkpath", long_link if long_link is not None else link)
            if "size" in fields:
                try:
                    size = int(fields["size"])
                except ValueError as exc:
                    raise SourceError(f"{where}: {name}: bad PAX size") from exc
            pax, long_name, long_link = {}, None, None
        if kind in _NO_DATA:
            size = 0
        if size < 0:
            raise SourceError(f"{where}: {name}: negative size")
        yield _Member(name, kind, size, mode, link, index)
        index += 1
