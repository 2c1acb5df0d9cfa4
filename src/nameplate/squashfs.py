"""SquashFS 4.0 read in-process, bounded, never mounted or extracted.

The root file system of an Apptainer/SingularityCE image (SIF) is a squashfs partition, and
OCI-SIF images keep squashfs layers. :class:`SquashFs` reads one through any random-access
source (:class:`ReadAt`: a window of a local file, byte ranges of a registry blob), parsing the
superblock, the inode and directory tables and the fragment table, and decompressing gzip, xz,
lzma, zstd, lz4 and lzo blocks (lz4 and lzo through the optional ``lz4`` and ``python-lzo``
packages).

Every size is checked against what the format allows before it is used: a metadata block holds
at most 8 KiB, a data block at most the superblock's block size, a name at most 256 bytes;
decompressed metadata, directory listings and entries are bounded (:class:`Limits`); a
directory reached twice (a loop) and names that are empty, ``.``, ``..`` or hold a ``/`` are
refused. A malformed image raises :class:`~nameplate.errors.SourceError`, never anything else.
The walk yields members for :class:`~nameplate.sources.image.layers.LayerTree`, which makes the
file system a read-only :class:`~nameplate.tree.FileTree` like any image layer.
"""

from __future__ import annotations

import lzma
import struct
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from .errors import InputTooLarge, SourceError, UnsafeInput

__all__ = ["MAGIC", "Inode", "Limits", "Member", "ReadAt", "SquashFs"]

MAGIC = b"hsqs"
_SUPER = struct.Struct("<IIIIIHHHHHHQQQQQQQQ")
_META = 8192
_NO_FRAGMENT = 0xFFFFFFFF
_UNCOMPRESSED_BLOCK = 1 << 24
_COMPRESSORS = {1: "gzip", 2: "lzma", 3: "lzo", 4: "xz", 5: "lz4", 6: "zstd"}
_KIND = {1: "d", 2: "f", 3: "l", 4: "o", 5: "o", 6: "o", 7: "o"}
_HEADER = struct.Struct("<HHHHII")


class ReadAt(Protocol):
    """A random-access byte source: ``size`` bytes, read by offset."""

    @property
    def size(self) -> int:
        """The number of bytes."""
        ...

    def read_at(self, offset: int, n: int) -> bytes:
        """``n`` bytes from ``offset`` (fewer only at the end)."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """Bounds on what one squashfs may cost to read."""

    max_entries: int = 2_000_000
    max_metadata: int = 512 * 1024**2
    max_listing: int = 64 * 1024**2
    fragment_cache: int = 32


@dataclass(frozen=True, kw_only=True, slots=True)
class Inode:
    """One inode, as much of it as reading needs (the block list is read when the file is)."""

    ref: int
    kind: str  # "d" directory, "f" regular file, "l" symlink, "o" device, fifo or socket
    mode: int
    number: int
    size: int = 0
    link: str | None = None
    rdev: int | None = None
    char_device: bool = False
    blocks_start: int = 0
    fragment: int = _NO_FRAGMENT
    fragment_offset: int = 0
    list_at: tuple[int, int] = (0, 0)
    dir_at: tuple[int, int] = (0, 0)


@dataclass(frozen=True, kw_only=True, slots=True)
class Member:
    """One entry of the walk: its path (relative, ``/``-separated) and its inode."""

    path: str
    inode: Inode


class SquashFs:
    """A squashfs 4.0 file system read from ``source`` (see the module docstring)."""

    def __init__(self, source: ReadAt, *, where: str, limits: Limits | None = None) -> None:
        self.source = source
        self.where = where
        self.limits = limits or Limits()
        head = source.read_at(0, _SUPER.size)
        if len(head) < _SUPER.size or head[:4] != MAGIC:
            raise SourceError(f"{where}: not a squashfs file system (no hsqs magic)")
        (
            _magic,
            self.inode_count,
            self.mtime,
            self.block_size,
            self.fragment_count,
            compression,
            block_log,
            self.flags,
            _id_count,
            major,
            minor,
            self.root_ref,
            self.bytes_used,
            _id_table,
            _xattr_table,
            self.inode_table,
            self.directory_table,
            self.fragment_table,
            _export_table,
        ) = _SUPER.unpack(head)
        if (major, minor) != (4, 0):
            raise SourceError(f"{where}: squashfs {major}.{minor} is not read (only 4.0)")
        if not 4096 <= self.block_size <= 1024 * 1024 or self.block_size != 1 << block_log:
            raise SourceError(f"{where}: superblock block_size {self.block_size} is not valid")
        if compression not in _COMPRESSORS:
            raise SourceError(f"{where}: superblock compression id {compression} is unknown")
        self.compression = _COMPRESSORS[compression]
        end = min(self.bytes_used, source.size)
        for name, value in (
            ("inode_table", self.inode_table),
            ("directory_table", self.directory_table),
        ):
            if not _SUPER.size <= value < end:
                raise SourceError(f"{where}: superblock {name} {value} is outside the image")
        self._meta_cache: dict[int, tuple[bytes, int]] = {}
        self._meta_bytes = 0
        self._fragments: OrderedDict[int, bytes] = OrderedDict()
        self._entries = 0

    # -- blocks ------------------------------------------------------------------------------------

    def _read(self, offset: int, n: int, what: str) -> bytes:
        if offset < 0 or n < 0 or offset + n > min(self.bytes_used, self.source.size):
            raise SourceError(f"{self.where}: {what} at {offset} (+{n}) runs past the image")
        data = self.source.read_at(offset, n)
        if len(data) != n:
            raise SourceError(f"{self.where}: {what} at {offset}: the image is truncated")
        return data

    def _decompress(self, data: bytes, limit: int, what: str) -> bytes:
        kind = self.compression
        try:
            if kind == "gzip":
                d = zlib.decompressobj()
                out = d.decompress(data, limit)
                if d.unconsumed_tail:
                    raise SourceError(f"{self.where}: {what}: decompresses past {limit} bytes")
                return out
            if kind in ("xz", "lzma"):
                fmt = lzma.FORMAT_XZ if kind == "xz" else lzma.FORMAT_ALONE
                x = lzma.LZMADecompressor(fmt)
                out = x.decompress(data, max_length=limit + 1)
            elif kind == "zstd":
                import zstandard

                out = zstandard.ZstdDecompressor().decompress(data, max_output_size=limit)
            elif kind == "lz4":
                out = _lz4(data, limit)
            else:
                out = _lzo(data, limit)
        except (zlib.error, lzma.LZMAError, ValueError, MemoryError, RuntimeError) as exc:
            raise SourceError(f"{self.where}: {what}: corrupt {kind} block: {exc}") from exc
        except Exception as exc:  # zstandard.ZstdError, lz4/lzo errors: all bad input
            if isinstance(exc, SourceError):
                raise
            raise SourceError(f"{self.where}: {what}: corrupt {kind} block: {exc}") from exc
        if len(out) > limit:
            raise SourceError(f"{self.where}: {what}: decompresses past {limit} bytes")
        return out

    def _meta_block(self, offset: int) -> tuple[bytes, int]:
        """The metadata block at ``offset``: its bytes and the offset of the next block."""
        cached = self._meta_cache.get(offset)
        if cached is not None:
            return cached
        (header,) = struct.unpack("<H", self._read(offset, 2, "metadata block header"))
        size = header & 0x7FFF
        if size == 0 or size > _META:
            raise SourceError(f"{self.where}: metadata block at {offset}: size {size}")
        raw = self._read(offset + 2, size, "metadata block")
        data = raw if header & 0x8000 else self._decompress(raw, _META, "metadata block")
        self._meta_bytes += len(data)
        if self._meta_bytes > self.limits.max_metadata:
            raise InputTooLarge(
                f"{self.where}: more than {self.limits.max_metadata} bytes of metadata"
            )
        result = (data, offset + 2 + size)
        self._meta_cache[offset] = result
        return result

    def _meta(self, block: int, offset: int, n: int) -> tuple[bytes, int, int]:
        """``n`` bytes of metadata from (``block``, ``offset``); returns them and where they end."""
        data, nxt = self._meta_block(block)
        if offset + n <= len(data):  # the common case: inside one block
            return data[offset : offset + n], block, offset + n
        out = bytearray()
        while True:
            data, nxt = self._meta_block(block)
            if offset > len(data):
                raise SourceError(f"{self.where}: metadata offset {offset} past its block")
            take = data[offset : offset + n - len(out)]
            out += take
            offset += len(take)
            if len(out) == n:
                return bytes(out), block, offset
            block, offset = nxt, 0

    # -- inodes and directories ------------------------------------------------------------------

    def inode(self, ref: int) -> Inode:
        """The inode at reference ``ref`` (block offset in the inode table << 16 | offset)."""
        block, offset = self.inode_table + (ref >> 16), ref & 0xFFFF
        raw, block, offset = self._meta(block, offset, _HEADER.size)
        itype, mode, _uid, _gid, _mtime, number = _HEADER.unpack(raw)
        kind = _KIND.get(itype if itype <= 7 else itype - 7)
        if kind is None:
            raise SourceError(f"{self.where}: inode {ref:#x}: unknown type {itype}")
        extended = itype > 7
        base = itype - 7 if extended else itype
        common = {"ref": ref, "kind": kind, "mode": mode, "number": number}
        if base == 1:
            if extended:
                raw, block, offset = self._meta(block, offset, 24)
                _nlink, size, start, _parent, _icount, doff, _x = struct.unpack("<IIIIHHI", raw)
            else:
                raw, block, offset = self._meta(block, offset, 16)
                start, _nlink, size, doff, _parent = struct.unpack("<IIHHI", raw)
            return Inode(**common, size=size, dir_at=(start, doff))
        if base == 2:
            if extended:
                raw, block, offset = self._meta(block, offset, 40)
                start, size, _sparse, _nlink, frag, foff, _x = struct.unpack("<QQQIIII", raw)
            else:
                raw, block, offset = self._meta(block, offset, 16)
                start, frag, foff, size = struct.unpack("<IIII", raw)
            if frag != _NO_FRAGMENT and (frag >= self.fragment_count or foff >= self.block_size):
                raise SourceError(f"{self.where}: inode {ref:#x}: fragment {frag} is not valid")
            return Inode(
                **common,
                size=size,
                blocks_start=start,
                fragment=frag,
                fragment_offset=foff,
                list_at=(block, offset),
            )
        if base == 3:
            raw, block, offset = self._meta(block, offset, 8)
            _nlink, length = struct.unpack("<II", raw)
            if length > 4096:
                raise SourceError(f"{self.where}: inode {ref:#x}: symlink of {length} bytes")
            target, _, _ = self._meta(block, offset, length)
            return Inode(**common, size=length, link=target.decode("utf-8", "surrogateescape"))
        if base in (4, 5):
            raw, _, _ = self._meta(block, offset, 8)
            _nlink, rdev = struct.unpack("<II", raw)
            return Inode(**common, rdev=rdev, char_device=base == 5)
        return Inode(**common)

    def listdir(self, inode: Inode) -> list[tuple[str, int]]:
        """(name, inode reference) of each entry of directory ``inode``, in stored order."""
        if inode.kind != "d":
            raise SourceError(f"{self.where}: inode {inode.ref:#x} is not a directory")
        size = inode.size - 3  # the listing, without the "." and ".." squashfs counts
        if size <= 0:
            return []
        if size > self.limits.max_listing:
            raise InputTooLarge(f"{self.where}: a directory listing of {size} bytes")
        start, doff = inode.dir_at
        data, _, _ = self._meta(self.directory_table + start, doff, size)
        out: list[tuple[str, int]] = []
        pos = 0
        while pos + 12 <= size:
            count, iblock, _base = struct.unpack_from("<IIi", data, pos)
            pos += 12
            if count >= 256:
                raise SourceError(f"{self.where}: directory header of {count + 1} entries")
            for _ in range(count + 1):
                if pos + 8 > size:
                    raise SourceError(f"{self.where}: directory listing ends inside an entry")
                ioff, _delta, _etype, nlen = struct.unpack_from("<HhHH", data, pos)
                pos += 8
                name_raw = data[pos : pos + nlen + 1]
                pos += nlen + 1
                if len(name_raw) != nlen + 1:
                    raise SourceError(f"{self.where}: directory listing ends inside a name")
                name = name_raw.decode("utf-8", "surrogateescape")
                if name in (".", "..") or "/" in name or "\0" in name:
                    raise UnsafeInput(f"{self.where}: directory entry {name!r} is not a name")
                out.append((name, (iblock << 16) | ioff))
        if pos != size:
            raise SourceError(f"{self.where}: directory listing has {size - pos} stray bytes")
        return out

    def walk(self) -> Iterator[Member]:
        """Every entry below the root, parents before children (the root itself first, as
        ``""``); a directory reached twice ends the walk with ``SourceError``."""
        root = self.inode(self.root_ref)
        if root.kind != "d":
            raise SourceError(f"{self.where}: the root inode is not a directory")
        seen = {root.ref}
        stack: list[tuple[str, Inode]] = [("", root)]
        yield Member(path="", inode=root)
        while stack:
            path, directory = stack.pop()
            kids: list[tuple[str, Inode]] = []
            for name, ref in self.listdir(directory):
                self._entries += 1
                if self._entries > self.limits.max_entries:
                    raise InputTooLarge(
                        f"{self.where}: more than {self.limits.max_entries} entries"
                    )
                child = self.inode(ref)
                full = f"{path}/{name}" if path else name
                if child.kind == "d":
                    if ref in seen:
                        raise SourceError(f"{self.where}: /{full}: a directory loop")
                    seen.add(ref)
                    kids.append((full, child))
                yield Member(path=full, inode=child)
            stack.extend(reversed(kids))

    # -- file data --------------------------------------------------------------------------------

    def _block_sizes(self, inode: Inode) -> list[int]:
        bs = self.block_size
        n = inode.size // bs if inode.fragment != _NO_FRAGMENT else -(-inode.size // bs)
        if n > (1 << 24):
            raise InputTooLarge(f"{self.where}: inode {inode.ref:#x}: {n} data blocks")
        if n == 0:
            return []
        raw, _, _ = self._meta(inode.list_at[0], inode.list_at[1], 4 * n)
        return list(struct.unpack(f"<{n}I", raw))

    def _fragment(self, index: int) -> bytes:
        cached = self._fragments.get(index)
        if cached is not None:
            self._fragments.move_to_end(index)
            return cached
        (pointer,) = struct.unpack(
            "<Q", self._read(self.fragment_table + 8 * (index // 512), 8, "fragment index")
        )
        raw, _, _ = self._meta(pointer, (index % 512) * 16, 16)
        start, size, _unused = struct.unpack("<QII", raw)
        stored = size & (_UNCOMPRESSED_BLOCK - 1)
        if stored > self.block_size:
            raise SourceError(f"{self.where}: fragment {index}: {stored} bytes")
        data = self._read(start, stored, f"fragment {index}")
        if not size & _UNCOMPRESSED_BLOCK:
            data = self._decompress(data, self.block_size, f"fragment {index}")
        self._fragments[index] = data
        while len(self._fragments) > self.limits.fragment_cache:
            self._fragments.popitem(last=False)
        return data

    def read(self, inode: Inode, *, limit: int) -> bytes:
        """The content of regular file ``inode``; ``InputTooLarge`` past ``limit`` bytes."""
        if inode.kind != "f":
            raise SourceError(f"{self.where}: inode {inode.ref:#x} is not a regular file")
        if inode.size > limit:
            raise InputTooLarge(f"{self.where}: {inode.size} bytes is over the {limit}-byte limit")
        out = bytearray()
        pos = inode.blocks_start
        for i, word in enumerate(self._block_sizes(inode)):
            stored = word & (_UNCOMPRESSED_BLOCK - 1)
            want = min(self.block_size, inode.size - len(out))
            if stored == 0:  # a sparse block
                out += bytes(want)
                continue
            if stored > self.block_size:
                raise SourceError(f"{self.where}: inode {inode.ref:#x}: block {i} of {stored}")
            data = self._read(pos, stored, f"data block {i}")
            pos += stored
            if not word & _UNCOMPRESSED_BLOCK:
                data = self._decompress(data, self.block_size, f"data block {i}")
            if len(data) != want:
                raise SourceError(
                    f"{self.where}: inode {inode.ref:#x}: block {i} holds {len(data)} bytes, "
                    f"not {want}"
                )
            out += data
        if inode.fragment != _NO_FRAGMENT:
            tail = inode.size - len(out)
            frag = self._fragment(inode.fragment)
            piece = frag[inode.fragment_offset : inode.fragment_offset + tail]
            if len(piece) != tail:
                raise SourceError(f"{self.where}: inode {inode.ref:#x}: fragment too short")
            out += piece
        if len(out) != inode.size:
            raise SourceError(
                f"{self.where}: inode {inode.ref:#x}: {len(out)} of {inode.size} bytes"
            )
        return bytes(out)

    def head(self, inode: Inode, n: int) -> bytes:
        """The first ``n`` bytes of regular file ``inode`` (at most one block decompressed)."""
        if inode.kind != "f" or inode.size == 0:
            return b""
        n = min(n, inode.size)
        if inode.size < self.block_size and inode.fragment != _NO_FRAGMENT:
            frag = self._fragment(inode.fragment)
            return frag[inode.fragment_offset : inode.fragment_offset + n]
        raw, _, _ = self._meta(inode.list_at[0], inode.list_at[1], 4)
        (word,) = struct.unpack("<I", raw)
        stored = word & (_UNCOMPRESSED_BLOCK - 1)
        if stored == 0:
            return bytes(n)
        if stored > self.block_size:
            raise SourceError(f"{self.where}: inode {inode.ref:#x}: block 0 of {stored} bytes")
        data = self._read(inode.blocks_start, stored, "data block 0")
        if word & _UNCOMPRESSED_BLOCK:
            return data[:n]
        if self.compression == "gzip":
            try:
                return zlib.decompressobj().decompress(data, n)
            except zlib.error as exc:
                raise SourceError(f"{self.where}: data block 0: corrupt gzip: {exc}") from exc
        return self._decompress(data, self.block_size, "data block 0")[:n]


def _lz4(data: bytes, limit: int) -> bytes:
    try:
        import lz4.block  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError as exc:
        raise SourceError(
            "an lz4-compressed squashfs needs the lz4 package (pip install 'nameplate[sif]')"
        ) from exc
    out: bytes = lz4.block.decompress(data, uncompressed_size=limit)
    return out


def _lzo(data: bytes, limit: int) -> bytes:
    try:
        import lzo  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError as exc:
        raise SourceError(
            "an lzo-compressed squashfs needs the python-lzo package (pip install 'nameplate[sif]')"
        ) from exc
    out: bytes = lzo.decompress(data, False, limit)
    return out
