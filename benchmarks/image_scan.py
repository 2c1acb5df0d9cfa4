"""Image scan throughput against decompression alone (zcat), measured in the same run.

Generates an image of ``--size-mb`` (default 1100 MB) over ``--files`` (default 50,000) files in
four gzip layers (half random bytes, half text, so gzip works as on real images), then times:

- baseline: ``zcat LAYER > /dev/null`` for every layer (decompression is the floor);
- nameplate: ``scan_layers`` over the same layers, in a fresh process, with its peak RSS.

Prints both, and the throughput ratio (baseline time / scan time; the aim is >= 0.8).
Usage: .venv/bin/python benchmarks/image_scan.py [--size-mb N] [--files N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

_SCAN = """
import io, resource, sys, time
from nameplate.sources.image.layers import LayerRef, scan_layers
paths = sys.argv[1:]
refs = [LayerRef(digest=p, media_type="", open=(lambda p=p: open(p, "rb"))) for p in paths]
t = time.perf_counter()
tree = scan_layers("bench", refs, keep=lambda p, s: False)
elapsed = time.perf_counter() - t
files = sum(1 for _ in tree.files())
print(elapsed, files, tree.decompressed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def make_layers(folder: Path, size_mb: int, files: int, layers: int = 4) -> list[Path]:
    rng = random.Random(42)
    per_file = size_mb * 1024 * 1024 // files
    words = [b"spack", b"easybuild", b"mpi", b"hdf5", b"cuda", b"lib", b"include", b"share\n"]
    out = []
    for n in range(layers):
        path = folder / f"layer{n}.tar.gz"
        with (
            gzip.open(path, "wb", compresslevel=1) as gz,
            tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar,
        ):
            for i in range(n, files, layers):
                half = per_file // 2
                data = rng.randbytes(half) + b" ".join(rng.choice(words) for _ in range(half // 6))
                info = tarfile.TarInfo(f"opt/app{i % 200}/lib/file{i}.bin")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        out.append(path)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1100)
    ap.add_argument("--files", type=int, default=50_000)
    ap.add_argument("--keep", type=Path)
    args = ap.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="nameplate-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        layers = sorted(folder.glob("layer*.tar.gz")) or make_layers(
            folder, args.size_mb, args.files
        )
        compressed = sum(p.stat().st_size for p in layers)
        zcat = shutil.which("zcat")
        t = time.perf_counter()
        for p in layers:
            if zcat:
                with open(os.devnull, "wb") as null:
                    subprocess.run([zcat, str(p)], stdout=null, check=True)
            else:
                subprocess.run(
                    [sys.executable, "-m", "gzip", "-d", "-c", str(p)],
                    stdout=subprocess.DEVNULL,
                    check=True,
                )
        base = time.perf_counter() - t
        res = subprocess.run(
            [sys.executable, "-c", _SCAN, *map(str, layers)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        scan, files, raw, rss_kib = float(res[0]), int(res[1]), int(res[2]), int(res[3])
        mb = raw / 1e6
        print(
            f"image: {len(layers)} gzip layers, {compressed / 1e6:.0f} MB compressed, "
            f"{mb:.0f} MB uncompressed, {files} files"
        )
        print(
            f"baseline {'zcat' if zcat else 'python -m gzip -d'}: {base:.2f} s "
            f"({mb / base:.0f} MB/s)"
        )
        print(
            f"nameplate scan_layers: {scan:.2f} s ({mb / scan:.0f} MB/s), "
            f"peak RSS {rss_kib / 1024:.0f} MiB"
        )
        print(f"throughput ratio (baseline time / scan time): {base / scan:.2f}x")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
