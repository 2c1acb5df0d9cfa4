"""Hypothesis: tarballs of random members (names, links, ELF-looking data) give a TarTree or a
typed error, and its links never lead out of the tree."""

from __future__ import annotations

import contextlib
import io
import tarfile
from pathlib import PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nameplate.elf.resolver import Resolver
from nameplate.errors import NameplateError
from nameplate.tartree import TarTree

pytestmark = pytest.mark.property

names = st.lists(st.sampled_from(["a", "b", "..", ".", "lib", "x.so", "/"]), min_size=1, max_size=4)


@st.composite
def tarballs(draw: st.DrawFn) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for _ in range(draw(st.integers(0, 6))):
            info = tarfile.TarInfo("/".join(draw(names)))
            kind = draw(st.sampled_from(["file", "link", "hard", "dir", "fifo"]))
            if kind == "file":
                data = draw(st.sampled_from([b"", b"\x7fELF", b"\x7fELF" + b"\x02\x01\x01" * 30]))
                data += draw(st.binary(max_size=64))
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            if kind == "link":
                info.type, info.linkname = tarfile.SYMTYPE, "/".join(draw(names))
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, "/".join(draw(names))
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
            else:
                info.type = tarfile.FIFOTYPE
            tar.addfile(info)
    return buf.getvalue()


@given(tarballs(), st.binary(max_size=32))
def test_tartree_raises_only_typed_errors(blob: bytes, junk: bytes) -> None:
    for data in (blob, blob[: len(blob) // 2], junk):
        tree = TarTree("fuzz")
        with contextlib.suppress(NameplateError):
            tree.add(io.BytesIO(data), "fuzz.tar")
        for top, _dirs, files in tree.walk():
            for f in files:
                path = top / f
                with contextlib.suppress(NameplateError):
                    real = tree.realpath(path)
                    assert not real.startswith("..")
                with contextlib.suppress(NameplateError):
                    tree.read_bytes(path)
        res = Resolver(tree, rooted=True, cache=tree.cache)
        for path in list(tree.cache.facts):
            with contextlib.suppress(NameplateError):
                res.closure(path)
        assert tree.is_dir(PurePosixPath("."))
