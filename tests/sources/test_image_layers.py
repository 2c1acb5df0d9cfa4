"""The layer reader on a hostile-archive corpus, whiteouts, and bounded memory."""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import os
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nameplate.errors import InputTooLarge, NameplateError, SourceError, UnsafeInput
from nameplate.sources.image.layers import LayerRef, LayerTree, Limits, scan_layers
from tests.imagetools import Member, compress, tar_members

P = PurePosixPath


def _ref(data: bytes, name: str = "l") -> LayerRef:
    return LayerRef(digest=f"test:{name}", media_type="", open=lambda: io.BytesIO(data))


def scan(*layers: bytes, how: str = "gzip", limits: Limits | None = None) -> LayerTree:
    refs = [_ref(compress(t, how), str(i)) for i, t in enumerate(layers)]
    return scan_layers("img", refs, keep=lambda p, s: True, limits=limits)


def test_basic_tree_and_lazy_reread() -> None:
    layer = tar_members(
        [Member("a/b/c.txt", data=b"hello"), Member("a/link", "symlink", link="b/c.txt")]
    )
    refs = [_ref(compress(layer, "gzip"))]
    tree = scan_layers("img", refs, keep=lambda p, s: False)  # nothing kept: re-read lazily
    assert tree.listdir(P(".")) == ["a"]
    assert tree.is_dir(P("a/b")) and tree.is_file(P("a/link"))
    assert tree.read_bytes(P("a/link")) == b"hello"
    assert list(tree.walk()) == [
        (P("."), ["a"], []),
        (P("a"), ["b"], ["link"]),
        (P("a/b"), [], ["c.txt"]),
    ]


def test_path_traversal_member_is_refused() -> None:
    with pytest.raises(UnsafeInput, match="climbs above the root"):
        scan(tar_members([Member("../../etc/passwd", data=b"x")], sort=False))


def test_absolute_member_names_stay_in_the_image() -> None:
    tree = scan(tar_members([Member("/etc/hostname", data=b"img")]))
    assert tree.read_bytes(P("etc/hostname")) == b"img"


def test_absolute_symlink_resolves_inside_the_image_never_on_the_host() -> None:
    tree = scan(
        tar_members(
            [
                Member("opt/shadow", "symlink", link="/etc/shadow"),
                Member("opt/passwd", "symlink", link="/etc/passwd"),
                Member("etc/passwd", data=b"image passwd\n"),
            ]
        )
    )
    assert not tree.is_file(P("opt/shadow"))  # the host's /etc/shadow is never read
    assert tree.read_bytes(P("opt/passwd")) == b"image passwd\n"


def test_escaping_relative_symlink_is_refused_when_read() -> None:
    tree = scan(tar_members([Member("opt/a/esc", "symlink", link="../../../../etc/passwd")]))
    assert not tree.is_file(P("opt/a/esc"))
    with pytest.raises(UnsafeInput, match="climbs above the root"):
        tree.read_bytes(P("opt/a/esc"))


def test_member_written_through_an_escaping_symlink_is_refused() -> None:
    with pytest.raises(UnsafeInput):
        scan(
            tar_members([Member("evil", "symlink", link="../..")]),
            tar_members([Member("evil/etc/cron.d/x", data=b"pwn")]),
        )


def test_member_through_an_inner_symlink_lands_at_its_target() -> None:
    tree = scan(
        tar_members([Member("usr/lib", "dir"), Member("lib", "symlink", link="usr/lib")]),
        tar_members([Member("lib/libx.so", data=b"x")]),
    )
    assert tree.read_bytes(P("usr/lib/libx.so")) == b"x"
    assert tree.listdir(P("lib")) == ["libx.so"]


def test_hardlinks() -> None:
    tree = scan(
        tar_members(
            [
                Member("a", data=b"data"),
                Member("b", "hardlink", link="a"),
                Member("c", "hardlink", link="missing"),
            ],
            sort=False,
        )
    )
    assert tree.read_bytes(P("b")) == b"data"
    assert tree.unknowns == [("c", "hardlink to 'missing', which is not a file here")]
    with pytest.raises(UnsafeInput):
        scan(tar_members([Member("h", "hardlink", link="../../etc/passwd")]))


def test_symlink_loop_is_a_clear_error() -> None:
    tree = scan(tar_members([Member("a", "symlink", link="b"), Member("b", "symlink", link="a")]))
    assert not tree.is_file(P("a"))
    with pytest.raises(SourceError, match="too many links"):
        tree.read_bytes(P("a"))


def test_whiteouts_and_opaque_dirs() -> None:
    lower = tar_members(
        [
            Member("d/x", data=b"1"),
            Member("d/y", data=b"2"),
            Member("e/z", data=b"3"),
            Member("keep", data=b"k"),
            Member("gone", data=b"g"),
        ]
    )
    upper = tar_members(
        [
            Member(".wh.gone"),
            Member("d/.wh..wh..opq"),
            Member("d/new", data=b"n"),  # opaque hides lower d/*, not d/new
            Member("f/.wh.same"),
            Member("f/same", data=b"s"),  # same-layer whiteout hides nothing
        ],
        sort=False,
    )
    tree = scan(lower, upper)
    assert not tree.is_file(P("gone")) and tree.is_file(P("keep"))
    assert tree.listdir(P("d")) == ["new"]
    assert tree.read_bytes(P("f/same")) == b"s"
    assert tree.read_bytes(P("e/z")) == b"3"


def test_whiteout_through_a_symlinked_parent_deletes_nothing_else() -> None:
    tree = scan(
        tar_members([Member("etc/passwd", data=b"p"), Member("lnk", "symlink", link="etc")]),
        tar_members([Member("lnk/.wh.passwd")]),
    )
    assert tree.read_bytes(P("etc/passwd")) == b"p"


def test_whiteout_naming_dotdot_is_refused() -> None:
    with pytest.raises(UnsafeInput, match="names no file"):
        scan(tar_members([Member("a/.wh...")]))


def test_truncated_and_corrupt_gzip() -> None:
    good = compress(tar_members([Member("a", data=os.urandom(100_000))]), "gzip")
    with pytest.raises(SourceError, match="truncated"):
        scan_layers("img", [_ref(good[: len(good) // 2])], keep=lambda p, s: False)
    bad = bytearray(good)
    bad[len(bad) // 2 : len(bad) // 2 + 64] = b"\xff" * 64
    with pytest.raises(SourceError):
        scan_layers("img", [_ref(bytes(bad))], keep=lambda p, s: False)


def test_truncated_tar_and_garbage_layer() -> None:
    raw = tar_members([Member("a", data=b"x" * 5000)])
    with pytest.raises(SourceError, match="truncated"):
        scan(raw[:1500], how="none")
    with pytest.raises(SourceError, match="not a tar layer"):
        scan(b"this is not a tar file at all" * 40, how="none")


def _bomb(size: int) -> bytes:
    info = tarfile.TarInfo("zeros")
    info.size = size
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [comp.compress(info.tobuf(format=tarfile.PAX_FORMAT))]
    chunk = b"\0" * (1 << 20)
    for _ in range(size >> 20):
        out.append(comp.compress(chunk))
    out.append(comp.flush())
    return b"".join(out)


def test_gzip_bomb_ends_in_a_clear_error() -> None:
    bomb = _bomb(256 << 20)  # 256 MiB of zeros in about 250 KiB
    assert len(bomb) < 1 << 20
    with pytest.raises(InputTooLarge, match="compression bomb"):
        scan_layers("img", [_ref(bomb)], keep=lambda p, s: False)
    with pytest.raises(InputTooLarge, match="decompresses to more than"):
        scan_layers(
            "img",
            [_ref(bomb)],
            keep=lambda p, s: False,
            limits=Limits(max_bytes=16 << 20, max_ratio=10**6),
        )


_RSS_SCRIPT = """
import io, resource, sys
from nameplate.sources.image.layers import LayerRef, scan_layers
data = open(sys.argv[1], "rb").read()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tree = scan_layers("img", [LayerRef(digest="x", media_type="", open=lambda: io.BytesIO(data))],
                   keep=lambda p, s: False)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(sum(1 for _ in tree.files()), (peak - base) // 1024)
"""


def test_hundred_thousand_empty_files_in_bounded_memory(tmp_path: Path) -> None:
    headers = [
        tarfile.TarInfo(f"d{i % 100}/f{i}").tobuf(tarfile.USTAR_FORMAT) for i in range(100_000)
    ]
    layer = gzip.compress(b"".join(headers) + b"\0" * 1024, mtime=0, compresslevel=1)
    (tmp_path / "layer.tar.gz").write_bytes(layer)
    before = sorted(os.listdir(tmp_path))
    out = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, str(tmp_path / "layer.tar.gz")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    files, grown_mib = int(out[0]), int(out[1])
    assert files == 100_000
    assert grown_mib < 100, f"the scan grew RSS by {grown_mib} MiB"
    with pytest.raises(InputTooLarge, match="more than 1000 entries"):
        scan_layers("img", [_ref(layer)], keep=lambda p, s: False, limits=Limits(max_entries=1000))
    assert sorted(os.listdir(tmp_path)) == before  # nothing was written anywhere


@pytest.mark.property
@given(st.binary(max_size=2048), st.integers(0, 4000), st.binary(min_size=1, max_size=32))
def test_fuzz_layers_only_raise_nameplate_errors(junk: bytes, at: int, patch: bytes) -> None:
    base = tar_members(
        [
            Member("a/b", data=b"hello" * 100),
            Member("l", "symlink", link="a/b"),
            Member("h", "hardlink", link="a/b"),
            Member("a/.wh.c"),
        ],
        sort=False,
    )
    mutated = bytearray(base)
    mutated[at : at + len(patch)] = patch
    for data in (junk, bytes(mutated), gzip.compress(bytes(mutated), mtime=0), b"\x1f\x8b" + junk):
        try:
            tree = scan_layers("fuzz", [_ref(data)], keep=lambda p, s: True)
            for top, _dirs, files in tree.walk():
                for f in files:
                    with contextlib.suppress(NameplateError):
                        tree.read_bytes(top / f)
        except NameplateError:
            pass


def test_a_layer_whose_bytes_do_not_match_its_digest_is_refused(tmp_path: Path) -> None:
    """A registry or a layout that serves other (valid) bytes under a layer's digest."""
    from click.testing import CliRunner

    from nameplate.cli import cli
    from tests import imagetools as it

    good = it.tar_members([it.Member("etc/os-release", data=b"ID=debian\nVERSION_ID=12\n")])
    evil = it.tar_members([it.Member("etc/os-release", data=b"ID=alpine\nVERSION_ID=3.20\n")])
    layout = tmp_path / "layout"
    it.write_layout(layout, [it.Image(layers=[good])], tag="v1")
    blob = layout / "blobs/sha256" / it.digest(it.compress(good, "gzip")).split(":", 1)[1]
    blob.write_bytes(it.compress(evil, "gzip"))
    out = tmp_path / "out.json"
    result = CliRunner().invoke(
        cli, ["extract", "image", f"oci:{layout}:v1", "-o", str(out)], prog_name="nameplate"
    )
    assert result.exit_code == 3, result.output
    assert "does not match its digest" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def _files(tree: LayerTree) -> dict[str, bytes]:
    return {p: tree.read_bytes(P(p)) for p, _, _ in sorted(tree.files())}


def test_gzip_without_isal_gives_the_same_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    """ISA-L inflates where its wheel is installed; zlib is the fallback, with the same result."""
    layer = tar_members([Member(f"d/f{i}", data=os.urandom(50) * i) for i in range(40)])
    fast = _files(scan(layer))
    monkeypatch.setitem(sys.modules, "isal", None)  # `from isal import ...` now fails
    assert _files(scan(layer)) == fast
    data = bytearray(compress(layer, "gzip"))
    data[30:60] = b"\xff" * 30
    corrupt = [LayerRef(digest="t", media_type="", open=lambda: io.BytesIO(data))]
    with pytest.raises(SourceError, match="corrupt gzip"):
        scan_layers("img", corrupt, keep=lambda p, s: True)


def test_plain_tar_in_a_file_is_read_in_place(tmp_path: Path) -> None:
    """A plain tar without a digest to check (a Docker archive member) that lies in a regular
    file is read in place, file data seeked over: the same tree, and truncation still caught."""
    big = os.urandom(300_000)
    layer = tar_members(
        [Member("bin/tool", data=b"\x7fELF" + big), Member("etc/os-release", data=b"ID=x\n")]
    )
    path = tmp_path / "layer.tar"
    path.write_bytes(layer)
    ref = LayerRef(digest="layer.tar", media_type="", open=functools.partial(open, path, "rb"))
    tree = scan_layers("img", [ref], keep=lambda p, s: p.startswith("etc/"))
    assert _files(tree) == _files(scan(layer, how="none"))
    assert tree.is_elf("bin/tool") and tree.decompressed == len(layer)
    path.write_bytes(layer[:200_000])  # ends inside bin/tool
    with pytest.raises(SourceError, match="truncated"):
        scan_layers("img", [ref], keep=lambda p, s: False)


def test_a_plain_tar_with_a_digest_is_read_whole_and_checked(tmp_path: Path) -> None:
    layer = tar_members([Member("etc/os-release", data=b"ID=x\n")])
    path = tmp_path / "layer.tar"
    path.write_bytes(layer)
    wrong = "sha256:" + "0" * 64
    ref = LayerRef(digest=wrong, media_type="", open=functools.partial(open, path, "rb"))
    with pytest.raises(SourceError, match="does not match its digest"):
        scan_layers("img", [ref], keep=lambda p, s: False)
