"""Read the facts an HPC check needs from an ELF binary or library, without running it.

:func:`parse_elf` reads, with :mod:`struct` only:

- the dynamic section: ``DT_NEEDED``, ``DT_SONAME``, ``DT_RPATH``, ``DT_RUNPATH``;
- symbol versions: the highest ``GLIBC_``, ``GLIBCXX_`` and ``CXXABI_`` versions *required*
  (``.gnu.version_r``) and every version *defined* (``.gnu.version_d``);
- the MPI ABI family, from the MPI soname needed (or the library's own soname);
- the CUDA runtime soname needed and the SASS (``sm_XY``) and PTX (``compute_XY``) targets in the
  ``.nv_fatbin`` section, with their ``a`` (architecture-specific) and ``f`` (family-specific)
  suffixes and the PTX ISA version of embedded PTX;
- ``DF_1_NODEFLIB`` (the loader must not search the default directories for this object's needs);
- the x86-64 ISA level from the GNU property note (``x86 ISA needed``).

The fatbin container is read as documented publicly (a 16-byte header with magic ``0xBA55ED50``,
then entries with a kind, a header size, a payload size, the PTX ISA minor and major at offsets
24 and 26, the SM number at offset 28 and flags at offset 40, where bit ``0x100000`` marks
architecture-specific code (``sm_90a``) and bit ``0x200000`` family-specific code (``sm_100f``),
as nvcc 13 writes them and ``cuobjdump --list-elf`` names them); the payloads are never
decompressed. Malformed input raises :class:`MalformedElf` (a
:class:`~nameplate.errors.SourceError`), never anything else.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import SourceError
from ..normalize import max_version, mpi_abi_from_soname
from ..record import MpiAbi

__all__ = ["ELF_MAGIC", "ElfFacts", "FatbinEntry", "MalformedElf", "is_elf", "parse_elf"]

ELF_MAGIC = b"\x7fELF"

_MACHINES = {
    3: "x86",
    8: "mips",
    20: "ppc",
    21: "ppc64",
    22: "s390",
    40: "arm",
    62: "x86_64",
    183: "aarch64",
    243: "riscv",
    258: "loongarch",
}

_SHT_NOTE = 7
_SHT_DYNAMIC = 6
_SHT_NOBITS = 8
_SHT_GNU_VERDEF = 0x6FFFFFFD
_SHT_GNU_VERNEED = 0x6FFFFFFE
_PT_LOAD = 1
_PT_DYNAMIC = 2
_PT_NOTE = 4
_DT_NEEDED, _DT_STRTAB, _DT_STRSZ, _DT_SONAME, _DT_RPATH, _DT_RUNPATH = 1, 5, 10, 14, 15, 29
_DT_VERDEF, _DT_VERDEFNUM, _DT_VERNEED, _DT_VERNEEDNUM = (
    0x6FFFFFFC,
    0x6FFFFFFD,
    0x6FFFFFFE,
    0x6FFFFFFF,
)
_NT_GNU_PROPERTY_TYPE_0 = 5
_GNU_PROPERTY_X86_ISA_1_NEEDED = 0xC0008002
_X86_LEVELS = ((8, "x86_64_v4"), (4, "x86_64_v3"), (2, "x86_64_v2"), (1, "x86_64"))
_FATBIN_MAGIC = 0xBA55ED50
_FATBIN_PTX, _FATBIN_ELF = 1, 2
_FATBIN_ARCH_SPECIFIC, _FATBIN_FAMILY_SPECIFIC = 0x100000, 0x200000
_DT_FLAGS_1, _DF_1_NODEFLIB = 0x6FFFFFFB, 0x800
_MAX_ITEMS = 100_000  # bound on loops over untrusted counts (dynamic entries, versions, notes)


class MalformedElf(SourceError):
    """The file is not an ELF object, or its headers point outside it."""


@dataclass(frozen=True, kw_only=True, slots=True)
class FatbinEntry:
    """One entry of an NVIDIA fatbin: ``kind`` is ``sass`` or ``ptx``; ``arch`` the SM number;
    ``suffix`` ``a`` (architecture-specific), ``f`` (family-specific) or empty; ``ptx_isa`` the
    PTX ISA version (``9.0``) of a PTX entry."""

    kind: str
    arch: int
    suffix: str = ""
    ptx_isa: str | None = None

    @property
    def name(self) -> str:
        """``sm_90a`` for SASS, ``compute_90a`` for PTX."""
        return f"{'sm' if self.kind == 'sass' else 'compute'}_{self.arch}{self.suffix}"


@dataclass(frozen=True, kw_only=True, slots=True)
class ElfFacts:
    """What one ELF file says about where it can run."""

    machine: str
    elf_class: int
    little_endian: bool = True
    file_type: str = "unknown"
    needed: tuple[str, ...] = ()
    soname: str | None = None
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    versions_needed: tuple[tuple[str, str], ...] = ()
    version_definitions: tuple[str, ...] = ()
    glibc_min: str | None = None
    glibcxx_min: str | None = None
    cxxabi_min: str | None = None
    mpi_soname: str | None = None
    mpi_abi: MpiAbi | None = None
    cuda_runtime_soname: str | None = None
    cuda_sass: tuple[str, ...] = ()
    cuda_ptx: tuple[str, ...] = ()
    cuda_ptx_isa: str | None = None
    x86_isa_level: str | None = None
    nodeflib: bool = False

    @property
    def cuda_runtime_version(self) -> str | None:
        """The CUDA major version of the runtime soname (``libcudart.so.13`` → ``13``)."""
        if self.cuda_runtime_soname is None:
            return None
        tail = self.cuda_runtime_soname.rpartition(".so.")[2]
        return tail if tail and tail != self.cuda_runtime_soname else None


def is_elf(head: bytes) -> bool:
    """True if ``head`` (the first bytes of a file) starts with the ELF magic."""
    return head[:4] == ELF_MAGIC


class _Reader:
    """Bounded random access to bytes or a seekable binary stream."""

    def __init__(self, data: bytes | BinaryIO, where: str) -> None:
        self.where = where
        if isinstance(data, bytes | bytearray | memoryview):
            self._data: bytes | None = bytes(data)
            self._file: BinaryIO | None = None
            self.size = len(self._data)
        else:
            self._data = None
            self._file = data
            try:
                self.size = data.seek(0, 2)
            except (OSError, ValueError) as exc:
                raise MalformedElf(f"{where}: cannot seek: {exc}") from exc

    def read(self, offset: int, size: int) -> bytes:
        if offset < 0 or size < 0 or offset + size > self.size:
            raise MalformedElf(
                f"{self.where}: a header points outside the file ({offset}+{size} > {self.size})"
            )
        if self._data is not None:
            return self._data[offset : offset + size]
        assert self._file is not None
        try:
            self._file.seek(offset)
            out = self._file.read(size)
        except (OSError, ValueError) as exc:
            raise MalformedElf(f"{self.where}: cannot read: {exc}") from exc
        if len(out) != size:
            raise MalformedElf(f"{self.where}: file ended early")
        return out


@dataclass(frozen=True, slots=True)
class _Section:
    name: str
    type: int
    offset: int
    size: int
    link: int
    addr: int


class _Elf:
    def __init__(self, reader: _Reader) -> None:
        self.r = reader
        where = reader.where
        ident = reader.read(0, 16) if reader.size >= 16 else b""
        if ident[:4] != ELF_MAGIC:
            raise MalformedElf(f"{where}: not an ELF file (bad magic)")
        if ident[4] not in (1, 2) or ident[5] not in (1, 2):
            raise MalformedElf(f"{where}: e_ident: unknown ELF class or byte order")
        self.is64 = ident[4] == 2
        self.e = "<" if ident[5] == 1 else ">"
        fmt = self.e + ("HHIQQQIHHHHHH" if self.is64 else "HHIIIIIHHHHHH")
        hdr = struct.unpack(fmt, reader.read(16, struct.calcsize(fmt)))
        (self.type, self.machine, _, _, self.phoff, self.shoff, _, _) = hdr[:8]
        (self.phentsize, self.phnum, self.shentsize, self.shnum, self.shstrndx) = hdr[8:]
        self.word = "Q" if self.is64 else "I"

    def unpack(self, fmt: str, offset: int) -> tuple[int, ...]:
        full = self.e + fmt
        return struct.unpack(full, self.r.read(offset, struct.calcsize(full)))

    def sections(self) -> list[_Section]:
        if self.shoff == 0 or self.shnum == 0:
            return []
        if self.shnum > _MAX_ITEMS:
            raise MalformedElf(f"{self.r.where}: e_shnum: {self.shnum} sections is implausible")
        fmt = "IIQQQQIIQQ" if self.is64 else "IIIIIIIIII"
        if self.shentsize < struct.calcsize(self.e + fmt):
            raise MalformedElf(f"{self.r.where}: e_shentsize: {self.shentsize} is too small")
        raw = []
        for i in range(self.shnum):
            v = self.unpack(fmt, self.shoff + i * self.shentsize)
            raw.append((v[0], v[1], v[3], v[4], v[5], v[6]))  # name, type, addr, off, size, link
        names: bytes = b""
        if 0 < self.shstrndx < len(raw) and raw[self.shstrndx][1] != _SHT_NOBITS:
            _, _, _, off, size, _ = raw[self.shstrndx]
            names = self.r.read(off, size)
        out = []
        for name_off, stype, addr, off, size, link in raw:
            out.append(
                _Section(
                    name=_cstr(names, name_off),
                    type=stype,
                    offset=off,
                    size=size,
                    link=link,
                    addr=addr,
                )
            )
        return out

    def segments(self) -> list[tuple[int, int, int, int]]:
        """(type, offset, vaddr, filesz) of each program header."""
        if self.phoff == 0 or self.phnum == 0:
            return []
        fmt = "IIQQQQQQ" if self.is64 else "IIIIIIII"
        if self.phentsize < struct.calcsize(self.e + fmt):
            raise MalformedElf(f"{self.r.where}: e_phentsize: {self.phentsize} is too small")
        out = []
        for i in range(min(self.phnum, _MAX_ITEMS)):
            v = self.unpack(fmt, self.phoff + i * self.phentsize)
            if self.is64:
                out.append((v[0], v[2], v[3], v[5]))
            else:
                out.append((v[0], v[1], v[2], v[4]))
        return out


def _cstr(table: bytes, offset: int) -> str:
    if offset < 0 or offset >= len(table):
        return ""
    end = table.find(b"\0", offset)
    raw = table[offset:] if end < 0 else table[offset:end]
    return raw.decode("utf-8", "replace")


def _vaddr_to_offset(segments: list[tuple[int, int, int, int]], vaddr: int) -> int | None:
    for ptype, off, addr, filesz in segments:
        if ptype == _PT_LOAD and addr <= vaddr < addr + filesz:
            return off + (vaddr - addr)
    return None


def _dynamic(
    elf: _Elf, sections: list[_Section], segs: list[tuple[int, int, int, int]]
) -> tuple[list[tuple[int, int]], bytes, dict[int, int]]:
    """Dynamic entries, the dynamic string table, and tag → file offset of version tables."""
    dyn = next((s for s in sections if s.type == _SHT_DYNAMIC), None)
    if dyn is not None and dyn.type != _SHT_NOBITS:
        dyn_off, dyn_size = dyn.offset, dyn.size
    else:
        pt = next((p for p in segs if p[0] == _PT_DYNAMIC), None)
        if pt is None:
            return [], b"", {}
        dyn_off, dyn_size = pt[1], pt[3]
    entsize = 16 if elf.is64 else 8
    count = min(dyn_size // entsize, _MAX_ITEMS)
    raw = elf.r.read(dyn_off, count * entsize)
    fmt = elf.e + ("qQ" if elf.is64 else "iI")
    entries: list[tuple[int, int]] = []
    for tag, val in struct.iter_unpack(fmt, raw):
        if tag == 0:
            break
        entries.append((tag, val))
    by_tag = {t: v for t, v in entries}
    strtab = b""
    if dyn is not None and 0 < dyn.link < len(sections):
        link = sections[dyn.link]
        if link.type != _SHT_NOBITS:
            strtab = elf.r.read(link.offset, link.size)
    elif _DT_STRTAB in by_tag:
        off = _vaddr_to_offset(segs, by_tag[_DT_STRTAB])
        size = by_tag.get(_DT_STRSZ, 0)
        if off is not None and size:
            strtab = elf.r.read(off, min(size, elf.r.size - off))
    tables: dict[int, int] = {}
    for tag in (_DT_VERNEED, _DT_VERDEF):
        if tag in by_tag:
            off = _vaddr_to_offset(segs, by_tag[tag])
            if off is not None:
                tables[tag] = off
    return entries, strtab, tables


def _verneed(elf: _Elf, offset: int, count: int, strtab: bytes) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = offset
    for _ in range(min(count, _MAX_ITEMS)):
        _, cnt, file_off, aux, nxt = elf.unpack("HHIII", pos)
        lib = _cstr(strtab, file_off)
        apos = pos + aux
        for _ in range(min(cnt, _MAX_ITEMS)):
            _, _, _, name_off, anext = elf.unpack("IHHII", apos)
            out.append((lib, _cstr(strtab, name_off)))
            if anext == 0:
                break
            apos += anext
        if nxt == 0:
            break
        pos += nxt
    return out


def _verdef(elf: _Elf, offset: int, count: int, strtab: bytes) -> list[str]:
    out: list[str] = []
    pos = offset
    for _ in range(min(count, _MAX_ITEMS)):
        _, flags, _, cnt, _, aux, nxt = elf.unpack("HHHHIII", pos)
        if cnt and not flags & 1:  # VER_FLG_BASE names the file itself
            (name_off, _) = elf.unpack("II", pos + aux)
            out.append(_cstr(strtab, name_off))
        if nxt == 0:
            break
        pos += nxt
    return out


def _notes(
    elf: _Elf, sections: list[_Section], segs: list[tuple[int, int, int, int]]
) -> Iterator[tuple[str, int, bytes]]:
    spans = [(s.offset, s.size) for s in sections if s.type == _SHT_NOTE]
    if not spans and not sections:
        spans = [(p[1], p[3]) for p in segs if p[0] == _PT_NOTE]
    for off, size in spans[:64]:
        data = elf.r.read(off, size)
        pos = 0
        for _ in range(_MAX_ITEMS):
            if pos + 12 > len(data):
                break
            namesz, descsz, ntype = struct.unpack_from(elf.e + "III", data, pos)
            name_start = pos + 12
            desc_start = name_start + ((namesz + 3) & ~3)
            desc_end = desc_start + descsz
            if desc_end > len(data):
                raise MalformedElf(f"{elf.r.where}: a note runs past its section")
            name = data[name_start : name_start + namesz].rstrip(b"\0").decode("ascii", "replace")
            yield name, ntype, data[desc_start:desc_end]
            align = 8 if ntype == _NT_GNU_PROPERTY_TYPE_0 and elf.is64 else 4
            pos = (desc_end + align - 1) & ~(align - 1)


def _x86_isa_needed(elf: _Elf, desc: bytes) -> int | None:
    pos = 0
    align = 8 if elf.is64 else 4
    while pos + 8 <= len(desc):
        ptype, datasz = struct.unpack_from(elf.e + "II", desc, pos)
        data_start = pos + 8
        if ptype == _GNU_PROPERTY_X86_ISA_1_NEEDED and datasz >= 4:
            (bits,) = struct.unpack_from(elf.e + "I", desc, data_start)
            return int(bits)
        pos = (data_start + datasz + align - 1) & ~(align - 1)
    return None


def parse_fatbin(data: bytes, *, where: str) -> list[FatbinEntry]:
    """The entries of every fatbin container in ``data`` (the ``.nv_fatbin`` section)."""
    out: list[FatbinEntry] = []
    pos = 0
    magic_bytes = struct.pack("<I", _FATBIN_MAGIC)
    while len(out) < _MAX_ITEMS:
        pos = data.find(magic_bytes, pos)
        if pos < 0 or pos + 16 > len(data):
            break
        _, _, header_size, fat_size = struct.unpack_from("<IHHQ", data, pos)
        start = pos + header_size
        end = start + fat_size
        if header_size < 16 or end > len(data):
            raise MalformedElf(f"{where}: .nv_fatbin: a container runs past the section")
        entry = start
        while entry + 32 <= end and len(out) < _MAX_ITEMS:
            kind, _, entry_hdr, payload = struct.unpack_from("<HHIQ", data, entry)
            minor, major, arch = struct.unpack_from("<HHI", data, entry + 24)
            if entry_hdr < 32:
                raise MalformedElf(f"{where}: .nv_fatbin: an entry header is too short")
            flags = 0
            if entry_hdr >= 48 and entry + 48 <= end:
                (flags,) = struct.unpack_from("<Q", data, entry + 40)
            suffix = (
                "a"
                if flags & _FATBIN_ARCH_SPECIFIC
                else "f"
                if flags & _FATBIN_FAMILY_SPECIFIC
                else ""
            )
            if kind == _FATBIN_PTX:
                out.append(
                    FatbinEntry(
                        kind="ptx", arch=int(arch), suffix=suffix, ptx_isa=f"{major}.{minor}"
                    )
                )
            elif kind == _FATBIN_ELF:
                out.append(FatbinEntry(kind="sass", arch=int(arch), suffix=suffix))
            entry += entry_hdr + payload
        pos = max(end, pos + 4)
    return out


def _sorted_arch(names: set[str]) -> tuple[str, ...]:
    return tuple(sorted(names, key=lambda n: (int(n.split("_")[1].rstrip("af")), n)))


def _highest(versions: list[tuple[str, str]], prefix: str) -> str | None:
    return max_version(
        v[len(prefix) :]
        for _, v in versions
        if v.startswith(prefix) and v[len(prefix) : len(prefix) + 1].isdigit()
    )


def parse_elf(data: bytes | BinaryIO, *, where: str) -> ElfFacts:
    """Read the facts of one ELF file (bytes, or a seekable binary stream); never runs it."""
    try:
        return _parse(_Reader(data, where))
    except MalformedElf:
        raise
    except (struct.error, ValueError, IndexError, OverflowError, MemoryError) as exc:
        raise MalformedElf(f"{where}: malformed ELF: {exc}") from exc


def _parse(reader: _Reader) -> ElfFacts:
    elf = _Elf(reader)
    sections = elf.sections()
    segs = elf.segments()
    entries, strtab, tables = _dynamic(elf, sections, segs)
    needed = tuple(_cstr(strtab, v) for t, v in entries if t == _DT_NEEDED)
    soname = next((_cstr(strtab, v) for t, v in entries if t == _DT_SONAME), None)
    rpath = tuple(p for t, v in entries if t == _DT_RPATH for p in _cstr(strtab, v).split(":") if p)
    runpath = tuple(
        p for t, v in entries if t == _DT_RUNPATH for p in _cstr(strtab, v).split(":") if p
    )
    by_tag = dict(entries)
    vr = next((s for s in sections if s.type == _SHT_GNU_VERNEED), None)
    vd = next((s for s in sections if s.type == _SHT_GNU_VERDEF), None)
    need_off = vr.offset if vr else tables.get(_DT_VERNEED)
    def_off = vd.offset if vd else tables.get(_DT_VERDEF)
    versions = (
        _verneed(elf, need_off, by_tag.get(_DT_VERNEEDNUM, 1 if vr else 0), strtab)
        if need_off is not None
        else []
    )
    defined = (
        _verdef(elf, def_off, by_tag.get(_DT_VERDEFNUM, 1 if vd else 0), strtab)
        if def_off is not None
        else []
    )
    isa_bits: int | None = None
    for name, ntype, desc in _notes(elf, sections, segs):
        if name == "GNU" and ntype == _NT_GNU_PROPERTY_TYPE_0 and elf.machine in (3, 62):
            bits = _x86_isa_needed(elf, desc)
            if bits is not None:
                isa_bits = bits | (isa_bits or 0)
    isa_level = None
    if isa_bits is not None and elf.machine == 62:
        isa_level = next((lvl for bit, lvl in _X86_LEVELS if isa_bits & bit), "x86_64")
    sass: set[str] = set()
    ptx: set[str] = set()
    isas: list[str] = []
    fat = next((s for s in sections if s.name == ".nv_fatbin" and s.type != _SHT_NOBITS), None)
    if fat is not None:
        for entry in parse_fatbin(reader.read(fat.offset, fat.size), where=reader.where):
            (sass if entry.kind == "sass" else ptx).add(entry.name)
            if entry.ptx_isa:
                isas.append(entry.ptx_isa)
    mpi_soname = next((n for n in needed if mpi_abi_from_soname(n) != "unknown"), None)
    if mpi_soname is None and soname and mpi_abi_from_soname(soname) != "unknown":
        mpi_soname = soname
    cudart = next((n for n in needed if n.startswith("libcudart.so")), None)
    if cudart is None and soname and soname.startswith("libcudart.so"):
        cudart = soname
    return ElfFacts(
        machine=_MACHINES.get(elf.machine, f"em_{elf.machine}"),
        elf_class=64 if elf.is64 else 32,
        little_endian=elf.e == "<",
        file_type={1: "relocatable", 2: "executable", 3: "shared", 4: "core"}.get(
            elf.type, "unknown"
        ),
        needed=needed,
        soname=soname,
        rpath=rpath,
        runpath=runpath,
        versions_needed=tuple(versions),
        version_definitions=tuple(defined),
        glibc_min=_highest(versions, "GLIBC_"),
        glibcxx_min=_highest(versions, "GLIBCXX_"),
        cxxabi_min=_highest(versions, "CXXABI_"),
        mpi_soname=mpi_soname,
        mpi_abi=mpi_abi_from_soname(mpi_soname) if mpi_soname else None,
        cuda_runtime_soname=cudart,
        cuda_sass=_sorted_arch(sass),
        cuda_ptx=_sorted_arch(ptx),
        cuda_ptx_isa=max_version(isas),
        x86_isa_level=isa_level,
        nodeflib=bool(by_tag.get(_DT_FLAGS_1, 0) & _DF_1_NODEFLIB),
    )
