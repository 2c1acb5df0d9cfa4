"""What :func:`nameplate.oci.artifacts.push` makes of a folder: a reproducible tar, and the
digest of a file read in chunks (tarfile and tempfile load only when a folder is pushed)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

__all__ = ["hash_file", "tar_of"]

_CHUNK = 1024 * 1024


def hash_file(path: Path) -> tuple[str, int]:
    """The ``sha256:`` digest and size of file ``path``, read in chunks."""
    h, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return f"sha256:{h.hexdigest()}", size


@contextlib.contextmanager
def tar_of(folder: Path) -> Iterator[Path]:
    """A reproducible tar of ``folder`` (sorted, owner 0, mtime 0; links kept as links)."""
    import tarfile
    import tempfile

    with tempfile.TemporaryDirectory(prefix="nameplate-push-") as tmp:
        out = Path(tmp) / "layer.tar"
        with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
            for path in [folder, *sorted(folder.rglob("*"))]:
                info = tar.gettarinfo(
                    str(path), arcname=str(Path(folder.name) / path.relative_to(folder))
                )
                if not (info.isfile() or info.isdir() or info.issym()):
                    continue
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = 0
                if info.isfile():
                    with path.open("rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
        yield out
