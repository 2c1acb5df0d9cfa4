"""Copy the real Spack store fixture from ../shared into this folder, restoring its links.

The shared copy of ``fixtures/spack/real-store`` stores each symbolic link as a small regular
file holding the link's target (``libzstd.so.1`` holds ``libzstd.so.1.5.4``). Spack's own
``install_manifest.json`` of each prefix records every link (mode ``0o120777`` and ``dest``);
this script copies ``opt/``, ``env/``, ``ground-truth/``, ``buildcache-v3/`` and
``buildcache-oci-layout/`` and turns exactly those manifest links back into symlinks whose
target equals the manifest's ``dest``. Run from the repository root:

    python tests/data/spack/real-store/copy.py ../shared/fixtures/spack/real-store
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = ("opt", "env", "ground-truth", "buildcache-v3", "buildcache-oci-layout", "README.md")


def main(src: Path) -> None:
    for part in PARTS:
        dst = HERE / part
        if dst.is_dir():
            shutil.rmtree(dst)
        if (src / part).is_dir():
            shutil.copytree(src / part, dst, symlinks=True)
        else:
            shutil.copy2(src / part, HERE / "SHARED-README.md")
    for p in HERE.rglob("*"):
        if not p.is_symlink():
            os.chmod(p, p.stat().st_mode | stat.S_IWUSR)
    restored = 0
    for manifest in (HERE / "opt").glob("spack/*/*/.spack/install_manifest.json"):
        prefix = manifest.parent.parent
        data = json.loads(manifest.read_text())
        recorded = min(data, key=len)  # the prefix itself is the shortest key
        for key, entry in data.items():
            if "dest" not in entry or not stat.S_ISLNK(entry.get("mode", 0)):
                continue
            rel = key[len(recorded) :].lstrip("/")
            path = prefix / rel
            if path.is_file() and not path.is_symlink():
                assert path.read_text().strip() == entry["dest"], path
                path.unlink()
                path.symlink_to(entry["dest"])
                restored += 1
    print(f"restored {restored} links")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
