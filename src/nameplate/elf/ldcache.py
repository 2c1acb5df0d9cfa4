"""``/etc/ld.so.cache`` read as data: the library index glibc's loader consults before its default
directories.

Both formats ``ldconfig`` writes are read (``ldconfig -c old|new|compat``; glibc's
``sysdeps/generic/dl-cache.h``):

- the old format: the magic ``ld.so-1.7.0``, a count, then 12-byte entries (flags, key, value)
  whose strings are offsets into the table that follows the entries;
- the new format, ``glibc-ld.so.cache`` version ``1.1``: a 48-byte header (count, string table
  length, byte-order flags, extension offset), then 24-byte entries (flags, key, value, OS
  version, hwcap) whose strings are offsets from the start of the new header. In the ``compat``
  layout the new table follows the old one; the loader prefers it, and so does this reader.

Entries whose ``hwcap`` has bit 62 set (``DL_CACHE_HWCAP_EXTENSION``) name a ``glibc-hwcaps``
subdirectory variant; :meth:`LdCache.lookup` prefers the baseline entry, which every CPU of the
architecture loads. Malformed input raises :class:`~.parse.MalformedElf`'s sibling
:class:`MalformedLdCache` (a :class:`~nameplate.errors.SourceError`), never anything else.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import SourceError

__all__ = ["CACHE_FLAGS", "LdCache", "LdCacheEntry", "MalformedLdCache", "parse_ldcache"]

_OLD_MAGIC = b"ld.so-1.7.0"
_NEW_MAGIC = b"glibc-ld.so.cache1.1"
_HWCAP_EXTENSION = 1 << 62
_MAX_ENTRIES = 1_000_000

#: The cache flags of a library each ELF machine and class loads (glibc's
#: ``_DL_CACHE_DEFAULT_ID``: the ELF-libc6 type in the low byte, the architecture above it).
CACHE_FLAGS: dict[tuple[str, int], frozenset[int]] = {
    ("x86_64", 64): frozenset({0x0303}),
    ("x86", 32): frozenset({0x0003, 0x0001}),
    ("aarch64", 64): frozenset({0x0A03}),
    ("ppc64", 64): frozenset({0x0503}),
    ("s390", 64): frozenset({0x0403}),
    ("riscv", 64): frozenset({0x1003, 0x0F03}),
    ("loongarch", 64): frozenset({0x1203, 0x1103}),
    ("arm", 32): frozenset({0x0903, 0x0B03, 0x0003}),
}


class MalformedLdCache(SourceError):
    """The file is not an ``ld.so.cache``, or its offsets point outside it."""


@dataclass(frozen=True, kw_only=True, slots=True)
class LdCacheEntry:
    """One library: the name looked up (``libz.so.1``), its path, flags and hwcap bits."""

    name: str
    path: str
    flags: int
    hwcap: int = 0

    @property
    def hwcaps_variant(self) -> bool:
        """True for a ``glibc-hwcaps`` subdirectory entry (a CPU-level variant)."""
        return bool(self.hwcap & _HWCAP_EXTENSION)


@dataclass(frozen=True, kw_only=True, slots=True)
class LdCache:
    """The entries of one cache file, in file order, and which format they came from."""

    format: str
    entries: tuple[LdCacheEntry, ...]

    def lookup(self, name: str, *, machine: str, elf_class: int) -> str | None:
        """The path the loader takes for ``name`` on ``machine``/``elf_class``; baseline entries
        first (a ``glibc-hwcaps`` variant only when no baseline entry exists)."""
        wanted = CACHE_FLAGS.get((machine, elf_class))
        variant: str | None = None
        for e in self.entries:
            if e.name != name:
                continue
            if wanted is not None and e.flags not in wanted:
                continue
            if wanted is None and e.flags & 0xFF not in (1, 3):
                continue
            if not e.hwcaps_variant:
                return e.path
            variant = variant or e.path
        return variant


def _cstr(data: bytes, offset: int, where: str) -> str:
    if offset < 0 or offset >= len(data):
        raise MalformedLdCache(f"{where}: a string offset ({offset}) is outside the file")
    end = data.find(b"\0", offset)
    if end < 0:
        raise MalformedLdCache(f"{where}: a string runs past the end of the file")
    return data[offset:end].decode("utf-8", "surrogateescape")


def _new(data: bytes, base: int, where: str) -> LdCache:
    if base + 48 > len(data):
        raise MalformedLdCache(f"{where}: the new-format header is cut short")
    order = data[base + 28] if base + 28 < len(data) else 0
    endian = ">" if order == 3 else "<"
    nlibs, _len_strings = struct.unpack_from(endian + "II", data, base + 20)
    if nlibs > _MAX_ENTRIES or base + 48 + nlibs * 24 > len(data):
        raise MalformedLdCache(f"{where}: nlibs: {nlibs} entries do not fit in the file")
    out = []
    for i in range(nlibs):
        flags, key, value, _osv, hwcap = struct.unpack_from(
            endian + "iIIIQ", data, base + 48 + i * 24
        )
        out.append(
            LdCacheEntry(
                name=_cstr(data, base + key, where),
                path=_cstr(data, base + value, where),
                flags=flags,
                hwcap=hwcap,
            )
        )
    return LdCache(format="new" if base == 0 else "compat", entries=tuple(out))


def parse_ldcache(data: bytes, *, where: str) -> LdCache:
    """Read an ``ld.so.cache`` (old, new or compat format)."""
    if data.startswith(_NEW_MAGIC):
        return _new(data, 0, where)
    if not data.startswith(_OLD_MAGIC) or len(data) < 16:
        raise MalformedLdCache(f"{where}: not an ld.so.cache (bad magic)")
    (nlibs,) = struct.unpack_from("<I", data, 12)
    strings = 16 + nlibs * 12
    if nlibs > _MAX_ENTRIES or strings > len(data):
        raise MalformedLdCache(f"{where}: nlibs: {nlibs} entries do not fit in the file")
    new_at = (strings + 7) & ~7
    if data[new_at : new_at + len(_NEW_MAGIC)] == _NEW_MAGIC:
        return _new(data, new_at, where)
    out = []
    for i in range(nlibs):
        flags, key, value = struct.unpack_from("<iII", data, 16 + i * 12)
        out.append(
            LdCacheEntry(
                name=_cstr(data, strings + key, where),
                path=_cstr(data, strings + value, where),
                flags=flags,
            )
        )
    return LdCache(format="old", entries=tuple(out))
