"""The squashfs reader against squashfs-tools itself: images made by ``mksquashfs`` with every
compressor it has (gzip, xz, lzma, lzo, lz4, zstd) from a tree with small and large files,
fragments, a sparse file, symlinks, a hardlink, a FIFO and an empty directory; every entry,
kind, size and link compared with ``unsquashfs -lls``, every file's bytes with
``unsquashfs -cat``. Then hostile images: truncated, bad magic, loops, bombs (Hypothesis)."""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nameplate.errors import SourceError
from nameplate.sources.image.sif import FileReader
from nameplate.squashfs import Limits, SquashFs
from tests.conftest import need

MKSQUASHFS = shutil.which("mksquashfs")
UNSQUASHFS = shutil.which("unsquashfs")
COMPRESSORS = ["gzip", "xz", "lzma", "lzo", "lz4", "zstd"]


class Bytes:
    """Bytes as a random-access source."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    @property
    def size(self) -> int:
        return len(self.data)

    def read_at(self, offset: int, n: int) -> bytes:
        return self.data[offset : offset + n]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sq") / "src"
    (root / "a" / "b").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "a" / "f.txt").write_text("hello\n")
    (root / "a" / "big.bin").write_bytes(hashlib.sha256(b"x").digest() * 20000)  # 640 KB
    (root / "a" / "b" / "rep.txt").write_bytes(b"abc\n" * 125000)
    (root / "a" / "rnd").write_bytes(os.urandom(300_000))  # stored uncompressed blocks
    os.symlink("../a/f.txt", root / "link")
    os.link(root / "a" / "f.txt", root / "hard")
    with open(root / "sparse", "wb") as f:
        f.truncate(1 << 20)
    os.mkfifo(root / "fifo")
    shutil.copy("/bin/ls", root / "a" / "ls")
    for i in range(300):  # many small files: several fragment blocks
        (root / "a" / "b" / f"small{i:03d}").write_text(f"file {i}\n" * (i % 40))
    return root


def _image(tree: Path, comp: str, tmp_path: Path) -> Path:
    need(MKSQUASHFS is not None, "mksquashfs not installed (scripts/apt.d/images.txt)")
    out = tmp_path / f"{comp}.sqfs"
    subprocess.run(
        [
            str(MKSQUASHFS),
            str(tree),
            str(out),
            "-comp",
            comp,
            "-noappend",
            "-quiet",
            "-no-progress",
        ],
        check=True,
        capture_output=True,
    )
    return out


def _unsquashfs(image: Path) -> dict[str, tuple[str, int | None, str | None]]:
    out = subprocess.run(
        [str(UNSQUASHFS), "-lls", "-d", "", str(image)], capture_output=True, text=True, check=True
    ).stdout
    entries: dict[str, tuple[str, int | None, str | None]] = {}
    for line in out.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 6 or parts[0][0] not in "-dlcbps":
            continue
        path, _, link = parts[5].partition(" -> ")
        kind = {"-": "f", "d": "d", "l": "l"}.get(parts[0][0], "o")
        size = int(parts[2]) if kind == "f" else None
        entries[path.lstrip("/")] = (kind, size, link or None)
    return entries


@pytest.mark.parametrize("comp", COMPRESSORS)
def test_same_tree_and_bytes_as_squashfs_tools(tree: Path, comp: str, tmp_path: Path) -> None:
    if comp == "lzo":  # CI installs it: a missing module fails there (need), never skips
        import importlib.util

        need(
            importlib.util.find_spec("lzo") is not None, "python-lzo (scripts/setup.d/40-images.sh)"
        )
    image = _image(tree, comp, tmp_path)
    fs = SquashFs(FileReader(image), where=str(image))
    assert fs.compression == comp
    ours: dict[str, tuple[str, int | None, str | None]] = {}
    for m in fs.walk():
        i = m.inode
        ours[m.path] = (i.kind, i.size if i.kind == "f" else None, i.link)
        if i.kind == "f":
            data = fs.read(i, limit=1 << 30)
            want = subprocess.run(
                [str(UNSQUASHFS), "-cat", str(image), m.path], capture_output=True, check=True
            ).stdout
            assert data == want, m.path
            assert fs.head(i, 4) == data[:4]
    ours.pop("")  # the root, which -lls names by the destination
    assert ours == {k: v for k, v in _unsquashfs(image).items() if k}


def test_bounds(tree: Path, tmp_path: Path) -> None:
    image = _image(tree, "gzip", tmp_path)
    data = image.read_bytes()
    with pytest.raises(SourceError, match="more than 5 entries"):
        list(SquashFs(Bytes(data), where="x", limits=Limits(max_entries=5)).walk())
    with pytest.raises(SourceError, match="metadata"):
        list(SquashFs(Bytes(data), where="x", limits=Limits(max_metadata=1000)).walk())
    fs = SquashFs(Bytes(data), where="x")
    big = next(m.inode for m in fs.walk() if m.path == "a/big.bin")
    with pytest.raises(SourceError, match="limit"):
        fs.read(big, limit=1000)
    with pytest.raises(SourceError, match="no hsqs magic"):
        SquashFs(Bytes(b"\0" * 200), where="x")
    with pytest.raises(SourceError):  # cut inside the tables
        list(SquashFs(Bytes(data[: len(data) - 3000]), where="x").walk())


def _walk_all(data: bytes) -> None:
    fs = SquashFs(Bytes(data), where="fuzz", limits=Limits(max_entries=2000))
    for m in fs.walk():
        if m.inode.kind == "f":
            fs.read(m.inode, limit=1 << 22)
            fs.head(m.inode, 4)


@pytest.fixture(scope="module")
def small_image(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    need(MKSQUASHFS is not None, "mksquashfs not installed (scripts/apt.d/images.txt)")
    src = tmp_path_factory.mktemp("small") / "src"
    (src / "d").mkdir(parents=True)
    for i in range(20):
        (src / "d" / f"f{i}").write_text("x" * i * 50)
    os.symlink("d/f1", src / "l")
    out = src.parent / "s.sqfs"
    subprocess.run(
        [str(MKSQUASHFS), str(src), str(out), "-noappend", "-quiet", "-no-progress"],
        check=True,
        capture_output=True,
    )
    return out.read_bytes()


@pytest.mark.property
@given(st.data())
def test_fuzz_mutated_images_raise_only_typed_errors(
    small_image: bytes, data: st.DataObject
) -> None:
    """Bytes of a real image flipped, cut or overwritten: the walk and every read either work
    or raise ``SourceError`` (InputTooLarge and UnsafeInput are SourceErrors)."""
    buf = bytearray(small_image)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(buf) - 1))
        buf[pos] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        buf = buf[: data.draw(st.integers(0, len(buf)))]
    try:
        _walk_all(bytes(buf))
    except SourceError:
        pass


@pytest.mark.property
@given(
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**32 - 1),
    st.sampled_from([1, 2, 3, 4, 5, 6, 7]),
    st.integers(12, 20),
)
def test_fuzz_superblocks(root: int, inodes: int, comp: int, block_log: int) -> None:
    sb = struct.pack(
        "<IIIIIHHHHHHQQQQQQQQ",
        0x73717368,
        inodes,
        0,
        1 << block_log,
        1,
        comp,
        block_log,
        0,
        1,
        4,
        0,
        root,
        4096,
        200,
        2**64 - 1,
        96,
        120,
        150,
        2**64 - 1,
    )
    try:
        _walk_all(sb + bytes(4000))
    except SourceError:
        pass
