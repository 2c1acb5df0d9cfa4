"""Image layers read as data, streamed, merged into one read-only :class:`FileTree`.

Each layer (gzip, zstd or plain tar) is decompressed as a stream and its tar headers parsed
one by one; nothing is extracted to disk and the image is never run. Layers are applied in order
with OCI whiteouts (``.wh.<name>`` hides a lower path, ``.wh..wh..opq`` hides everything below a
lower directory; a whiteout never hides a path of its own layer).

Safety, all enforced while streaming:

- a member whose path climbs above the root (``..``) ends the scan with ``UnsafeInput``;
- links are never followed on the host. A symlink's target is resolved *inside* the image (an
  absolute target starts at the image root, as the container would see it); a target that climbs
  above the root, or a chain of more than 40 links (a loop), is refused when it is read;
- a hardlink must name a regular file already in the image; one that names a path above the root
  is ``UnsafeInput``, one that names nothing is recorded as an unknown;
- decompressed bytes, the compression ratio, the number of entries and the size of PAX headers
  are bounded (``InputTooLarge``); a truncated or corrupt stream is a ``SourceError``. The
  streaming and byte bounds live in :mod:`.layerstream`, tar parsing in :mod:`.tarstream`; the
  merged tree, whiteouts and link resolution here.

Only the content of small metadata files a caller asks for (``keep``) is held in memory, within a
budget; any other file is re-read lazily by streaming its layer again.
"""

from __future__ import annotations

import tarfile
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from ...errors import InputTooLarge, SourceError, UnsafeInput
from ...squashfs import Limits as SquashLimits
from ...squashfs import ReadAt, SquashFs
from ...tree import DEFAULT_LIMIT, member_path
from .layerstream import Limits, _Reader, open_stream
from .tarstream import _BLOCK, _Member, _members

__all__ = ["LayerRef", "LayerTree", "Limits", "scan_layers"]

_MAX_HOPS = 40
_WH = ".wh."
_ROOT = PurePosixPath(".")
_OPAQUE = ".wh..wh..opq"
_FILE_TYPES = frozenset(
    {tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE, tarfile.GNUTYPE_SPARSE}
)


@dataclass(frozen=True, kw_only=True, slots=True)
class LayerRef:
    """One layer: its digest (for messages), media type, and how to open its (compressed) bytes.
    A squashfs layer (a SIF partition, an OCI-SIF layer) has ``random``: random access to its
    bytes, read where needed instead of streamed."""

    digest: str
    media_type: str
    open: Callable[[], BinaryIO]
    size: int = 0
    random: Callable[[], ReadAt] | None = None


class _Entry:
    __slots__ = ("content", "elf", "kind", "layer", "link", "member", "mode", "size", "src")

    def __init__(
        self,
        kind: str,
        layer: int,
        *,
        size: int = 0,
        mode: int = 0,
        link: str | None = None,
        member: int = -1,
        src: int = -1,
    ) -> None:
        self.kind = kind  # "f" file, "d" directory, "l" symlink, "o" other (device, fifo)
        self.layer = layer
        self.size = size
        self.mode = mode
        self.link = link
        self.member = member  # ordinal of the tar member holding the bytes, in layer ``src``
        self.src = src
        self.elf: bool | None = False  # None: not looked at yet (a squashfs file)
        self.content: bytes | None = None


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


class LayerTree:
    """The merged layers of an image as a read-only :class:`~nameplate.tree.FileTree`."""

    def __init__(self, name: str, layers: Sequence[LayerRef], limits: Limits) -> None:
        self._name = name
        self.layers = tuple(layers)
        self.limits = limits
        self.entries: dict[str, _Entry] = {"": _Entry("d", -1)}
        self.children: dict[str, set[str]] = {"": set()}
        self.unknowns: list[tuple[str, str]] = []
        self.kept = 0
        self.decompressed = 0
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cached = 0
        self._squash: dict[int, SquashFs] = {}

    # -- building --------------------------------------------------------------------------------

    def _remove(self, path: str, below: int) -> bool:
        """Remove ``path`` and its subtree where it comes from a layer below ``below``.
        Returns True if ``path`` itself is gone."""
        entry = self.entries.get(path)
        if entry is None:
            return True
        if entry.kind == "d":
            kids = self.children.get(path, set())
            for kid in list(kids):
                child = f"{path}/{kid}" if path else kid
                if self._remove(child, below):
                    kids.discard(kid)
            if kids or entry.layer >= below or path == "":
                return False
            self.children.pop(path, None)
        elif entry.layer >= below:
            return False
        del self.entries[path]
        return True

    def _unlink(self, path: str, below: int) -> None:
        if self._remove(path, below) and path:
            parent = _parent(path)
            self.children.get(parent, set()).discard(path.rpartition("/")[2])

    def _ensure_dir(self, path: str, layer: int, where: str) -> str:
        """``path`` as a real directory of the tree (created, or reached through links)."""
        entry = self.entries.get(path)
        if entry is not None and entry.kind == "d":
            return path
        if entry is not None and entry.kind == "l":
            resolved = self._resolve(path, follow_last=True, where=where)
            target = self.entries.get(resolved) if resolved is not None else None
            if resolved is not None and target is not None and target.kind == "d":
                return resolved
        parent = self._ensure_dir(_parent(path), layer, where) if path else ""
        real = f"{parent}/{path.rpartition('/')[2]}" if parent else path.rpartition("/")[2]
        existing = self.entries.get(real)
        if existing is not None and existing.kind == "d":
            return real
        if existing is not None:
            self._unlink(real, layer + 1)
        self.entries[real] = _Entry("d", layer)
        self.children[real] = set()
        self.children[parent].add(real.rpartition("/")[2])
        return real

    def _put(self, path: str, entry: _Entry, where: str) -> None:
        if not path:
            return  # the root itself: nothing to record
        parent = self._ensure_dir(_parent(path), entry.layer, where)
        base = path.rpartition("/")[2]
        real = f"{parent}/{base}" if parent else base
        old = self.entries.get(real)
        if old is not None:
            if old.kind == "d" and entry.kind == "d":
                old.mode, old.layer = entry.mode, entry.layer
                return
            self._unlink(real, entry.layer + 1)
        if len(self.entries) >= self.limits.max_entries:
            raise InputTooLarge(f"{where}: more than {self.limits.max_entries} entries")
        self.entries[real] = entry
        if entry.kind == "d":
            self.children.setdefault(real, set())
        self.children[parent].add(base)

    def _apply(
        self,
        index: int,
        layer: LayerRef,
        keep: Callable[[str, int], bool],
        progress: Callable[[int], None] | None,
    ) -> None:
        where = f"{self._name}: layer {layer.digest}"
        if layer.random is not None:
            self._apply_squashfs(index, layer.random(), keep, where)
            if progress is not None:
                progress(layer.size)
            return
        counted = [self.decompressed]
        with (
            layer.open() as raw,
            open_stream(raw, where, self.limits, counted, progress, digest=layer.digest) as stream,
        ):
            for m in _members(stream, where, self.limits):
                path = member_path(m.name, where)
                base = path.rpartition("/")[2]
                kind = m.type
                if base.startswith(_WH):
                    stream.skip(m.size + (-m.size % _BLOCK))
                    self._whiteout(path, base, index, where)
                elif kind in _FILE_TYPES:
                    self._file(stream, path, m, index, keep)
                elif kind == tarfile.DIRTYPE:
                    stream.skip(m.size + (-m.size % _BLOCK))
                    self._put(path, _Entry("d", index, mode=m.mode), where)
                elif kind == tarfile.SYMTYPE:
                    self._put(path, _Entry("l", index, mode=m.mode, link=m.linkname), where)
                elif kind == tarfile.LNKTYPE:
                    self._hardlink(path, m, index, where)
                else:
                    stream.skip(m.size + (-m.size % _BLOCK))
                    self._put(path, _Entry("o", index, mode=m.mode), where)
            stream.finish(layer.size)
        self.decompressed = counted[0]

    def _file(
        self, stream: _Reader, path: str, m: _Member, index: int, keep: Callable[[str, int], bool]
    ) -> None:
        size = m.size
        lim = self.limits
        content: bytes | None = None
        if size <= lim.keep_file and self.kept + size <= lim.keep_total and keep(path, size):
            content = head = stream.read(size)
            if len(content) < size:
                raise SourceError(f"{stream.where}: layer ends inside {path} (truncated)")
            self.kept += size
            stream.skip(-size % _BLOCK)
        else:
            want = 4 if size >= 4 else size
            head = stream.read(want)
            if len(head) < want:
                raise SourceError(f"{stream.where}: layer ends inside {path} (truncated)")
            stream.skip(size - want + (-size % _BLOCK))
        entry = _Entry("f", index, size=size, mode=m.mode, member=m.ordinal, src=index)
        entry.elf = head[:4] == b"\x7fELF"
        entry.content = content
        self._put(path, entry, stream.where)

    def _apply_squashfs(
        self, index: int, source: ReadAt, keep: Callable[[str, int], bool], where: str
    ) -> None:
        """A squashfs layer: its entries merged like a tar layer's; overlayfs whiteouts (a 0/0
        character device) and AUFS ``.wh.`` names hide lower paths."""
        lim = self.limits
        fs = SquashFs(source, where=where, limits=SquashLimits(max_entries=lim.max_entries))
        self._squash[index] = fs
        for m in fs.walk():
            path, ino = m.path, m.inode
            base = path.rpartition("/")[2]
            if base.startswith(_WH):
                self._whiteout(path, base, index, where)
                continue
            if ino.kind == "d":
                if path:
                    self._put(path, _Entry("d", index, mode=ino.mode), where)
            elif ino.kind == "l":
                self._put(path, _Entry("l", index, mode=ino.mode, link=ino.link), where)
            elif ino.kind == "f":
                entry = _Entry("f", index, size=ino.size, mode=ino.mode, member=ino.ref, src=index)
                if (
                    ino.size <= lim.keep_file
                    and self.kept + ino.size <= lim.keep_total
                    and keep(path, ino.size)
                ):
                    entry.content = fs.read(ino, limit=ino.size)
                    self.kept += ino.size
                    entry.elf = entry.content[:4] == b"\x7fELF"
                else:
                    entry.elf = None  # read in place: its head is read when someone asks
                self._put(path, entry, where)
            elif ino.char_device and ino.rdev == 0 and index > 0:
                self._unlink(path, index)  # an overlayfs whiteout
            else:
                self._put(path, _Entry("o", index, mode=ino.mode), where)

    def _hardlink(self, path: str, m: _Member, index: int, where: str) -> None:
        target = self.entries.get(member_path(m.linkname, where))
        if target is None or target.kind != "f":
            self.unknowns.append((path, f"hardlink to {m.linkname!r}, which is not a file here"))
            return
        entry = _Entry(
            "f", index, size=target.size, mode=m.mode, member=target.member, src=target.src
        )
        entry.elf, entry.content = target.elf, target.content
        self._put(path, entry, where)

    def _whiteout(self, path: str, base: str, index: int, where: str) -> None:
        parent = _parent(path)
        if base == _OPAQUE:
            entry = self.entries.get(parent)
            if entry is not None and entry.kind == "d":
                for kid in list(self.children.get(parent, set())):
                    self._unlink(f"{parent}/{kid}" if parent else kid, index)
            return
        hidden = base[len(_WH) :]
        if hidden in ("", ".", ".."):
            raise UnsafeInput(f"{where}: whiteout {path!r} names no file")
        self._unlink(f"{parent}/{hidden}" if parent else hidden, index)

    # -- resolving ---------------------------------------------------------------------------------

    def _resolve(self, path: str, *, follow_last: bool, where: str | None = None) -> str | None:
        """The real path of ``path`` after links inside the tree; None if it does not exist."""
        pending = [p for p in path.split("/") if p not in ("", ".")][::-1]
        parts: list[str] = []
        hops = 0
        while pending:
            part = pending.pop()
            if part == "..":
                if not parts:
                    raise UnsafeInput(
                        f"{where or self._name}: {path}: a link climbs above the root"
                    )
                parts.pop()
                continue
            candidate = "/".join([*parts, part])
            entry = self.entries.get(candidate)
            if entry is None:
                return None
            if entry.kind == "l" and (pending or follow_last):
                hops += 1
                if hops > _MAX_HOPS:
                    raise SourceError(f"{where or self._name}: {path}: too many links (a loop?)")
                link = entry.link or ""
                if link.startswith("/"):
                    parts = []
                pending.extend(p for p in reversed(link.split("/")) if p not in ("", "."))
                continue
            if pending and entry.kind != "d":
                return None
            parts.append(part)
        return "/".join(parts)

    def _lookup(self, path: PurePosixPath) -> _Entry | None:
        try:
            real = self._resolve(str(path), follow_last=True)
        except SourceError:
            return None
        return None if real is None else self.entries.get(real)

    def _must(self, path: PurePosixPath) -> tuple[str, _Entry]:
        real = self._resolve(str(path), follow_last=True)
        entry = self.entries.get(real) if real is not None else None
        if real is None or entry is None:
            raise SourceError(f"{self.describe(path)}: no such file in the image")
        return real, entry

    # -- FileTree ----------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    def describe(self, path: PurePosixPath) -> str:
        text = str(path)
        return f"{self._name}:/{'' if text == '.' else text}"

    def realpath(self, path: PurePosixPath | str) -> str:
        """``path`` with every link inside the image resolved (``SourceError`` if it is not
        there)."""
        real = self._resolve(str(path), follow_last=True)
        if real is None:
            raise SourceError(
                f"{self.describe(PurePosixPath(str(path)))}: no such file in the image"
            )
        return real or "."

    def is_file(self, path: PurePosixPath) -> bool:
        entry = self._lookup(path)
        return entry is not None and entry.kind == "f"

    def is_dir(self, path: PurePosixPath) -> bool:
        entry = self._lookup(path)
        return entry is not None and entry.kind == "d"

    def listdir(self, path: PurePosixPath) -> list[str]:
        real, entry = self._must(path)
        if entry.kind != "d":
            raise SourceError(f"{self.describe(path)}: not a directory")
        return sorted(self.children.get(real, ()))

    def size(self, path: PurePosixPath) -> int:
        _, entry = self._must(path)
        if entry.kind != "f":
            raise SourceError(f"{self.describe(path)}: not a regular file")
        return entry.size

    def read_bytes(self, path: PurePosixPath, *, limit: int = DEFAULT_LIMIT) -> bytes:
        real, entry = self._must(path)
        if entry.kind != "f":
            raise SourceError(f"{self.describe(path)}: not a regular file")
        if entry.size > limit:
            raise InputTooLarge(
                f"{self.describe(path)}: {entry.size} bytes is over the {limit}-byte limit"
            )
        if entry.content is not None:
            return entry.content
        cached = self._cache.get(real)
        if cached is not None:
            self._cache.move_to_end(real)
            return cached
        data = dict(self.read_many([real], limit=limit)).get(real)
        if data is None:
            raise SourceError(f"{self.describe(path)}: could not be read again from its layer")
        if len(data) <= self.limits.cache_total:
            self._cache[real] = data
            self._cached += len(data)
            while self._cached > self.limits.cache_total:
                _, old = self._cache.popitem(last=False)
                self._cached -= len(old)
        return data

    def walk(
        self, top: PurePosixPath = _ROOT
    ) -> Iterator[tuple[PurePosixPath, list[str], list[str]]]:
        real, entry = self._must(top)
        if entry.kind != "d":
            return
        stack = [real]
        while stack:
            current = stack.pop()
            names = sorted(self.children.get(current, ()))
            dirs: list[str] = []
            files: list[str] = []
            for n in names:
                child = self.entries.get(f"{current}/{n}" if current else n)
                (dirs if child is not None and child.kind == "d" else files).append(n)
            yield PurePosixPath(current or "."), dirs, files
            stack.extend(f"{current}/{d}" if current else d for d in reversed(dirs))

    # -- bulk access -------------------------------------------------------------------------------

    def _elf(self, entry: _Entry) -> bool:
        if entry.elf is None:
            fs = self._squash[entry.src]
            entry.elf = fs.head(fs.inode(entry.member), 4) == b"\x7fELF"
        return entry.elf

    def files(self) -> Iterator[tuple[str, int, bool]]:
        """Every regular file: (path, size, starts with the ELF magic)."""
        for path, entry in self.entries.items():
            if entry.kind == "f":
                yield path, entry.size, self._elf(entry)

    def file_paths(self) -> Iterator[str]:
        """Every regular file's (real) path, without reading anything."""
        for path, entry in self.entries.items():
            if entry.kind == "f":
                yield path

    def is_elf(self, path: str) -> bool:
        """True if regular file ``path`` (a real path) starts with the ELF magic; a file read in
        place (squashfs) has its first bytes read now, once."""
        entry = self.entries.get(path)
        return entry is not None and entry.kind == "f" and self._elf(entry)

    def read_many(self, paths: Iterable[str], *, limit: int) -> Iterator[tuple[str, bytes]]:
        """Contents of regular files (real paths), one stream per layer that holds them."""
        wanted: dict[int, dict[int, list[str]]] = {}
        for path in paths:
            entry = self.entries.get(path)
            if entry is None or entry.kind != "f" or entry.size > limit:
                continue
            if entry.content is not None:
                yield path, entry.content
                continue
            wanted.setdefault(entry.src, {}).setdefault(entry.member, []).append(path)
        for layer_index in sorted(wanted):
            members = wanted[layer_index]
            layer = self.layers[layer_index]
            where = f"{self._name}: layer {layer.digest}"
            fs = self._squash.get(layer_index)
            if fs is not None:
                for ref, refs_paths in members.items():
                    data = fs.read(fs.inode(ref), limit=limit)
                    for path in refs_paths:
                        yield path, data
                continue
            counted = [0]
            with (
                layer.open() as raw,
                open_stream(raw, where, self.limits, counted, None) as stream,
            ):
                for m in _members(stream, where, self.limits):
                    if m.ordinal in members and m.type not in (tarfile.LNKTYPE, tarfile.SYMTYPE):
                        data = stream.read(m.size)
                        stream.skip(-m.size % _BLOCK)
                        for path in members.pop(m.ordinal):
                            yield path, data
                        if not members:
                            break
                    elif m.type not in (tarfile.LNKTYPE, tarfile.SYMTYPE):
                        stream.skip(m.size + (-m.size % _BLOCK))


def scan_layers(
    name: str,
    layers: Sequence[LayerRef],
    *,
    keep: Callable[[str, int], bool],
    limits: Limits | None = None,
    progress: Callable[[int], None] | None = None,
) -> LayerTree:
    """Stream ``layers`` in order into one merged :class:`LayerTree`."""
    tree = LayerTree(name, layers, limits or Limits())
    for index, layer in enumerate(layers):
        tree._apply(index, layer, keep, progress)
    return tree
