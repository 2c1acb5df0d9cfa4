"""The ``.spack/`` metadata of a Spack install tarball (a v3 build-cache blob, an OCI layer).

Spack writes a build-cache tarball of an install prefix depth-first, a folder before what it
holds, files before subfolders, names sorted (``spack.util.archive``): the prefix's ``.spack/``
folder (spec, SBOM, ``install_environment.json``, ``install_manifest.json``) comes before
``bin/``, ``lib/``… So the tarball is streamed, never unpacked: the few metadata files are kept in
memory (each bounded) and decompression stops once the ``.spack/`` folder is behind; the rest of
the compressed stream is still read, to check the digest the manifest or the image gives, before
anything read is used. Members are data: nothing is extracted, no link is followed.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from ...errors import InputTooLarge, SourceError

__all__ = ["METADATA", "MetadataTree", "TarballRef", "metadata_tree"]

#: The files of ``.spack/`` kept, with the most bytes each may have.
METADATA: dict[str, int] = {
    "sbom/spdx-2.3.json": 64 * 1024 * 1024,
    "install_environment.json": 1024 * 1024,
    "install_manifest.json": 128 * 1024 * 1024,
}
#: How far into the uncompressed tarball ``.spack/`` may start (Spack writes it first).
_SEARCH = 256 * 1024 * 1024
_CHUNK = 1024 * 1024
_TOP = PurePosixPath(".")


@dataclass(frozen=True, slots=True)
class TarballRef:
    """Where an install tarball is: how to name it, its digest and size, how to open it."""

    where: str
    digest: str
    size: int | None
    open: Callable[[], BinaryIO]


class _Hashing(io.RawIOBase):
    """A read-only stream that hashes what passes and refuses more than ``size`` bytes."""

    def __init__(self, raw: BinaryIO, algorithm: str, size: int | None, where: str) -> None:
        self._raw = raw
        self._hash = hashlib.new(algorithm)
        self._size = size
        self._where = where
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        self.count += len(data)
        if self._size is not None and self.count > self._size:
            raise SourceError(f"{self._where}: longer than the {self._size} bytes it was given")
        self._hash.update(data)
        buffer[: len(data)] = data
        return len(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


class MetadataTree:
    """The ``.spack/`` files read from a tarball, as a read-only :class:`~nameplate.tree.FileTree`
    rooted at the install prefix (``.spack/sbom/spdx-2.3.json``…)."""

    def __init__(self, where: str, prefix: str, files: dict[str, bytes]) -> None:
        self._where = where
        self._prefix = prefix
        self._files = files

    @property
    def name(self) -> str:
        return self._where

    def describe(self, path: PurePosixPath) -> str:
        rel = self._key(path)
        inside = "/".join(p for p in (self._prefix, "" if rel == "." else rel) if p)
        return f"{self._where}:/{inside}"

    @staticmethod
    def _key(path: PurePosixPath) -> str:
        return str(PurePosixPath(str(path).lstrip("/")))

    def is_file(self, path: PurePosixPath) -> bool:
        return self._key(path) in self._files

    def is_dir(self, path: PurePosixPath) -> bool:
        key = self._key(path)
        return key == "." or any(k.startswith(key + "/") for k in self._files)

    def listdir(self, path: PurePosixPath) -> list[str]:
        key = self._key(path)
        start = "" if key == "." else key + "/"
        return sorted(
            {k[len(start) :].split("/", 1)[0] for k in self._files if k.startswith(start)}
        )

    def size(self, path: PurePosixPath) -> int:
        return len(self._read(path))

    def _read(self, path: PurePosixPath) -> bytes:
        data = self._files.get(self._key(path))
        if data is None:
            raise SourceError(f"{self.describe(path)}: not in the tarball")
        return data

    def read_bytes(self, path: PurePosixPath, *, limit: int = 256 * 1024 * 1024) -> bytes:
        data = self._read(path)
        if len(data) > limit:
            raise InputTooLarge(f"{self.describe(path)}: over the {limit}-byte limit")
        return data

    def walk(
        self, top: PurePosixPath = _TOP
    ) -> Iterator[tuple[PurePosixPath, list[str], list[str]]]:
        stack = [top]
        while stack:
            here = stack.pop()
            names = self.listdir(here)
            files = [n for n in names if self.is_file(here / n)]
            dirs = [n for n in names if n not in files]
            yield here, dirs, files
            stack.extend(here / d for d in reversed(dirs))


def _metadata_member(name: str) -> tuple[str, str] | None:
    """(prefix, path inside ``.spack/``) of a member under a ``.spack/`` folder, else None."""
    head, sep, tail = name.partition("/.spack/")
    if not sep:
        if name.startswith(".spack/"):
            return "", name.removeprefix(".spack/")
        return None
    return head, tail


def metadata_tree(ref: TarballRef) -> MetadataTree:
    """The ``.spack/`` metadata of the install tarball ``ref``; ``SourceError`` (naming the
    tarball) when it cannot be opened, is not a gzip tarball, or does not match its digest."""
    algorithm, _, expected = ref.digest.partition(":")
    if algorithm not in ("sha256", "sha512") or not expected:
        raise SourceError(f"{ref.where}: digest {ref.digest!r} is not sha256 or sha512")
    try:
        raw = ref.open()
    except OSError as exc:
        raise SourceError(f"{ref.where}: cannot read: {exc.strerror or exc}") from exc
    files: dict[str, bytes] = {}
    prefix: str | None = None
    unreadable: SourceError | None = None  # reported after the digest: tampering comes first
    with raw:
        stream = _Hashing(raw, algorithm, ref.size, ref.where)
        try:
            with tarfile.open(fileobj=stream, mode="r|gz") as tar:
                for member in tar:
                    name = member.name.lstrip("/").removeprefix("./").rstrip("/")
                    inside = _metadata_member(name + ("/" if member.isdir() else ""))
                    if inside is None or (prefix is not None and inside[0] != prefix):
                        if prefix is not None or member.offset > _SEARCH:
                            break  # past .spack/ (or it is not near the start): stop
                        continue
                    prefix, rel = inside
                    wanted = METADATA.get(rel)
                    if wanted is None or not member.isfile():
                        continue
                    if member.size > wanted:
                        raise InputTooLarge(
                            f"{ref.where}: {name}: {member.size} bytes is over the "
                            f"{wanted}-byte limit for this file"
                        )
                    extracted = tar.extractfile(member)
                    if extracted is not None:
                        files[f".spack/{rel}"] = extracted.read(wanted + 1)[:wanted]
                    if len(files) == len(METADATA):
                        break
        except SourceError as exc:
            unreadable = exc
        # tarfile and gzip fail on bad input with these (TypeError: a gzip header cut short)
        except (tarfile.TarError, EOFError, zlib.error, OSError, TypeError, ValueError) as exc:
            unreadable = SourceError(f"{ref.where}: not a readable gzip tarball: {exc}")
        while stream.read(_CHUNK):  # the rest, for the digest
            pass
    if ref.size is not None and stream.count != ref.size:
        raise SourceError(f"{ref.where}: {stream.count} bytes, {ref.size} expected")
    if stream.hexdigest() != expected:
        raise SourceError(f"{ref.where}: content does not match its {algorithm} (tampered?)")
    if unreadable is not None:
        raise unreadable
    if prefix is None:
        raise SourceError(f"{ref.where}: no .spack/ folder in the tarball")
    return MetadataTree(ref.where, prefix, files)
