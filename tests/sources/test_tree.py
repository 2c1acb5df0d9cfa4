"""DirectoryTree: reads stay inside the root, bounded in size."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from nameplate.errors import InputTooLarge, SourceError, UnsafeInput
from nameplate.tree import DirectoryTree


def make(tmp_path: Path) -> DirectoryTree:
    root = tmp_path / "root"
    (root / "a/b").mkdir(parents=True)
    (root / "a/b/f.txt").write_text("hello")
    (tmp_path / "secret.txt").write_text("outside")
    os.symlink("../../secret.txt", root / "a/escape")
    os.symlink(str(tmp_path / "secret.txt"), root / "a/abs-escape")
    os.symlink("b/f.txt", root / "a/inside")
    os.symlink("../../..", root / "a/b/up")
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    return DirectoryTree(root)


def test_reads_inside_and_through_inside_links(tmp_path: Path) -> None:
    tree = make(tmp_path)
    assert tree.read_bytes(PurePosixPath("a/b/f.txt")) == b"hello"
    assert tree.read_bytes(PurePosixPath("a/inside")) == b"hello"
    assert tree.listdir(PurePosixPath("a")) == ["abs-escape", "b", "escape", "inside"]


@pytest.mark.parametrize(
    "path",
    ["a/escape", "a/abs-escape", "../secret.txt", "a/b/up/secret.txt", "a/b/up/../secret.txt"],
)
def test_escapes_are_refused(tmp_path: Path, path: str) -> None:
    tree = make(tmp_path)
    # ".." is resolved lexically inside the tree, so "a/b/up/../secret.txt" is "a/b/secret.txt"
    # (missing): an error either way, and the outside file is never read.
    with pytest.raises(SourceError):
        tree.read_bytes(PurePosixPath(path))
    assert not tree.is_file(PurePosixPath(path))


@pytest.mark.parametrize("path", ["a/escape", "a/abs-escape", "a/b/up/secret.txt"])
def test_escaping_links_are_unsafe_input(tmp_path: Path, path: str) -> None:
    with pytest.raises(UnsafeInput, match="leads out"):
        make(tmp_path).read_bytes(PurePosixPath(path))


def test_symlink_loop_is_an_error_not_a_hang(tmp_path: Path) -> None:
    tree = make(tmp_path)
    with pytest.raises(SourceError):
        tree.read_bytes(PurePosixPath("loop1"))


def test_size_limit(tmp_path: Path) -> None:
    tree = make(tmp_path)
    with pytest.raises(InputTooLarge, match="limit"):
        tree.read_bytes(PurePosixPath("a/b/f.txt"), limit=3)


def test_walk_does_not_follow_links(tmp_path: Path) -> None:
    tree = make(tmp_path)
    seen = [str(d) for d, _, _ in tree.walk()]
    assert seen == [".", "a", "a/b"]


def test_paths_are_relative_to_the_root(tmp_path: Path) -> None:
    tree = make(tmp_path)
    assert tree.read_bytes(PurePosixPath("/a/./b/../b/f.txt")) == b"hello"
    with pytest.raises(UnsafeInput, match="leaves the tree"):
        tree.read_bytes(PurePosixPath("a/../../secret.txt"))
