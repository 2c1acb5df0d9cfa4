"""The real Spack store of ``tests/data/spack/spack1.3-real-store`` with its links back.

The copy (like the team's shared fixture) stores each symbolic link of the store as a small
regular file holding the link's target (``libzstd.so.1`` holds ``libzstd.so.1.5.4``). Spack's
own ``install_manifest.json`` of each prefix records every link (mode ``0o120777``, ``dest``):
:func:`real_store` copies the store to a scratch folder and turns exactly those back into
symlinks, so the loader's view (``libzstd.so.1`` → ``libzstd.so.1.5.4``) is the one ``ldd`` had.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

from tests.conftest import DATA, SHARED

REAL = DATA / "spack" / "spack1.3-real-store"
#: The team's shared copy: the same store, with the build caches' install tarballs.
SHARED_REAL = SHARED / "fixtures" / "spack" / "real-store"


def restore_links(store: Path) -> int:
    """Turn the files the install manifests record as links back into symlinks; return how many."""
    restored = 0
    for manifest in store.glob("*/*/.spack/install_manifest.json"):
        prefix = manifest.parent.parent
        data = json.loads(manifest.read_text())
        recorded = min(data, key=len)  # the prefix itself is the shortest key
        for key, entry in data.items():
            if "dest" not in entry or not stat.S_ISLNK(entry.get("mode", 0)):
                continue
            path = prefix / key[len(recorded) :].lstrip("/")
            if path.is_file() and not path.is_symlink():
                assert path.read_text().strip() == entry["dest"], path
                path.unlink()
                path.symlink_to(entry["dest"])
                restored += 1
    return restored


def real_store(dest: Path, source: Path = REAL) -> Path:
    """A copy of ``source``'s ``opt/spack`` under ``dest`` with its links restored."""
    store = dest / "opt" / "spack"
    shutil.copytree(source / "opt" / "spack", store, symlinks=True)
    for p in store.rglob("*"):
        if not p.is_symlink():
            os.chmod(p, p.stat().st_mode | stat.S_IWUSR)
    assert restore_links(store) > 0
    return store
