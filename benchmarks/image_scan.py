"""Image scan throughput against decompression alone (zcat), measured in the same run.

Generates an image of ``--size-mb`` (default 1100 MB) over ``--files`` (default 50,000) files in
four gzip layers (half random bytes, half text, so gzip works as on real images), then times:

- baseline: ``zcat LAYER > /dev/null`` for every layer (decompression is the floor);
- nameplate: ``scan_layers`` over the same layers, in a fresh process, with its peak RSS.

Prints both, and the throughput ratio (baseline time / scan time; the aim is >= 0.8).

SIF case (``--sif PATH``, default the image ``scripts/setup.d/40-images.sh`` builds when it is
there): ``cat SIF > /dev/null`` (the floor: reading the file once, page cache warm) against
``nameplate extract image SIF`` (every finder, the file's sha256 included), and the same SIF
pushed to a distribution registry on 127.0.0.1 as ``apptainer push oras://`` lays it out: the
bytes fetched by ranges against the SIF's size.
Usage: .venv/bin/python benchmarks/image_scan.py [--size-mb N] [--files N] [--keep DIR]
       [--sif PATH | --no-sif] [--sif-only]
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


_SIF_SCAN = """
import sys, time
from nameplate.sources import ExtractOptions, image
t = time.perf_counter()
(record,) = image.extract_all(sys.argv[1], ExtractOptions())
print(time.perf_counter() - t, len(record.components))
"""

_SIF_REGISTRY = """
import logging, shutil, subprocess, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, ".")
from tests.oci import registries as regs
from nameplate.sources import ExtractOptions, image
sif = Path(sys.argv[1])
tmp = Path(tempfile.mkdtemp(prefix="nameplate-sif-"))
reg = regs.start_distribution(tmp / "reg", auth="none")
try:
    shutil.copyfile(sif, tmp / "image.sif")
    (tmp / "config.json").write_text("{}")
    ref = reg.ref("bench/sif") + ":latest"
    regs.oras("push", "--plain-http", ref, "--config",
              "config.json:application/vnd.sylabs.sif.config.v1+json",
              "image.sif:application/vnd.sylabs.sif.layer.v1.sif", cwd=tmp)
    seen = []
    class H(logging.Handler):
        def emit(self, r): seen.append(r.args)
    logging.getLogger("nameplate.sources.image.extract").addHandler(H())
    logging.getLogger("nameplate.sources.image.extract").setLevel(logging.INFO)
    t = time.perf_counter()
    image.extract_all(ref, ExtractOptions(transport=reg.transport))
    elapsed = time.perf_counter() - t
    _, fetched, size, requests = seen[-1]
    print(elapsed, fetched, size, requests)
finally:
    reg.stop()
    shutil.rmtree(tmp, ignore_errors=True)
"""


def sif_case(sif: Path) -> None:
    """The SIF case: scan time against cat, and bytes fetched from a registry."""
    size = sif.stat().st_size
    cat = shutil.which("cat") or "cat"
    with open(os.devnull, "wb") as null:
        subprocess.run([cat, str(sif)], stdout=null, check=True)  # warm the page cache
        t = time.perf_counter()
        subprocess.run([cat, str(sif)], stdout=null, check=True)
        floor = time.perf_counter() - t
    res = subprocess.run(
        [sys.executable, "-c", _SIF_SCAN, str(sif)], check=True, capture_output=True, text=True
    ).stdout.split()
    scan, comps = float(res[0]), int(res[1])
    print(f"SIF: {sif} ({size / 1e6:.0f} MB), {comps} components")
    print(f"floor cat SIF > /dev/null: {floor:.3f} s ({size / 1e6 / floor:.0f} MB/s)")
    print(f"nameplate extract image SIF: {scan:.3f} s (ratio scan/cat {scan / floor:.1f}x)")
    reg = subprocess.run(
        [sys.executable, "-c", _SIF_REGISTRY, str(sif)],
        check=False,
        capture_output=True,
        text=True,
    )
    if reg.returncode != 0:
        print(f"registry case not run: {reg.stderr.strip().splitlines()[-1:]}")
        return
    elapsed, fetched, total, requests = (float(x) for x in reg.stdout.split())
    print(
        f"SIF in a registry: {elapsed:.3f} s, fetched {fetched / 1e6:.2f} MB of "
        f"{total / 1e6:.0f} MB ({100 * fetched / total:.2f} %) in {requests:.0f} range requests"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1100)
    ap.add_argument("--files", type=int, default=50_000)
    ap.add_argument("--keep", type=Path)
    default_sif = Path(__file__).resolve().parents[1] / ".cache" / "images" / "app.sif"
    ap.add_argument("--sif", type=Path, default=default_sif if default_sif.exists() else None)
    ap.add_argument("--no-sif", action="store_true")
    ap.add_argument("--sif-only", action="store_true")
    args = ap.parse_args()
    if args.sif is not None and not args.no_sif:
        sif_case(args.sif)
    elif args.sif_only:
        print("no SIF: run scripts/setup.d/40-images.sh or give --sif PATH")
    if args.sif_only:
        return
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
