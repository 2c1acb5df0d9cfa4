"""Image scan throughput against decompression alone (zcat), measured in the same run.

Generates an image of ``--size-mb`` (default 1100 MB) over ``--files`` (default 50,000) files in
four gzip layers (half random bytes, half text, so gzip works as on real images), then times:

- baseline: ``zcat LAYER > /dev/null`` for every layer (decompression is the floor);
- nameplate: ``scan_layers`` over the same layers, in a fresh process, with its peak RSS.

Prints both, and the throughput ratio (baseline time / scan time; the aim is >= 1.5), the best
of ``--repeat`` runs of each and the spread. The inflater is ISA-L's where ``isal`` is installed
(a dependency; zlib otherwise), in a thread of its own behind a reading and hashing thread.

Docker archive case (``--archive PATH``, default the ``docker.tar`` that
``scripts/setup.d/40-images.sh`` builds): ``cat ARCHIVE > /dev/null`` (page cache warm) against
opening the archive and scanning its uncompressed layer (read in place: headers read, file data
seeked over), each in a fresh process, timed after its imports; the aim is <= 5x cat. The real
Debian image of the same script (``oci/``, one gzip layer) against zcat of its layer, every
layer's sha256 checked (skipped with ``--no-archive`` as well).

SIF case (``--sif PATH``, default the image ``scripts/setup.d/40-images.sh`` builds when it is
there): ``cat SIF > /dev/null`` (the floor: reading the file once, page cache warm) against
``nameplate extract image SIF`` (every finder, the file's sha256 included), and the same SIF
pushed to a distribution registry on 127.0.0.1 as ``apptainer push oras://`` lays it out: the
bytes fetched by ranges against the SIF's size.
Usage: .venv/bin/python benchmarks/image_scan.py [--size-mb N] [--files N] [--keep DIR]
       [--repeat N] [--sif PATH | --no-sif] [--sif-only] [--archive PATH | --no-archive]
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


_ARCHIVE_SCAN = """
import resource, sys, time
from nameplate.sources.image.layers import scan_layers
from nameplate.sources.image.stores import ArchiveStore
t = time.perf_counter()
store = ArchiveStore(sys.argv[1])
image = store.docker_image(None, sys.argv[1])
tree = scan_layers("bench", image.layers, keep=lambda p, s: False)
elapsed = time.perf_counter() - t
files = sum(1 for _ in tree.files())
print(elapsed, files, tree.decompressed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _spread(xs: list[float]) -> str:
    return f"best of {len(xs)}, spread {min(xs):.3f}-{max(xs):.3f} s"


def archive_case(archive: Path, repeat: int) -> None:
    """An uncompressed Docker archive: scan against cat of the same file."""
    cat = shutil.which("cat") or "cat"
    floors = []
    with open(os.devnull, "wb") as null:
        subprocess.run([cat, str(archive)], stdout=null, check=True)  # warm the page cache
        for _ in range(repeat):
            t = time.perf_counter()
            subprocess.run([cat, str(archive)], stdout=null, check=True)
            floors.append(time.perf_counter() - t)
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", _ARCHIVE_SCAN, str(archive)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        runs.append((float(out[0]), int(out[1]), int(out[2]), int(out[3])))
    floor, scan = min(floors), min(r[0] for r in runs)
    _, files, raw, _ = runs[0]
    rss = max(r[3] for r in runs) / 1024
    print(
        f"docker archive: {archive} ({archive.stat().st_size / 1e6:.0f} MB), uncompressed layer "
        f"of {raw / 1e6:.0f} MB, {files} files"
    )
    print(f"floor cat ARCHIVE > /dev/null: {floor:.3f} s ({_spread(floors)})")
    print(
        f"nameplate open + scan_layers: {scan:.3f} s ({_spread([r[0] for r in runs])}), "
        f"peak RSS {rss:.0f} MiB"
    )
    print(f"ratio scan/cat: {scan / floor:.2f}x (aim <= 5x)")


_LAYOUT_SCAN = """
import json, resource, sys, time
from nameplate.sources.image.layers import LayerRef, scan_layers
root = sys.argv[1]
refs = [
    LayerRef(digest=d, media_type="", open=(lambda d=d: open(f"{root}/blobs/{d.replace(':', '/')}", "rb")))
    for d in sys.argv[2:]
]
t = time.perf_counter()
tree = scan_layers("bench", refs, keep=lambda p, s: False)
elapsed = time.perf_counter() - t
print(elapsed, sum(1 for _ in tree.files()), tree.decompressed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def layout_case(layout: Path, repeat: int) -> None:
    """The real Debian image of ``scripts/setup.d/40-images.sh`` (an OCI layout, gzip layers):
    zcat of its layers against scan_layers with every layer's sha256 checked."""
    import json

    index = json.loads((layout / "index.json").read_text())
    digest = index["manifests"][0]["digest"]
    manifest = json.loads((layout / "blobs" / digest.replace(":", "/")).read_text())
    digests = [layer["digest"] for layer in manifest["layers"]]
    paths = [layout / "blobs" / d.replace(":", "/") for d in digests]
    zcat = shutil.which("zcat") or "zcat"
    bases, runs = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        for p in paths:
            with open(os.devnull, "wb") as null:
                subprocess.run([zcat, str(p)], stdout=null, check=True)
        bases.append(time.perf_counter() - t)
        out = subprocess.run(
            [sys.executable, "-c", _LAYOUT_SCAN, str(layout), *digests],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        runs.append((float(out[0]), int(out[1]), int(out[2]), int(out[3])))
    base, scan = min(bases), min(r[0] for r in runs)
    print(
        f"real image: {layout} ({len(paths)} gzip layer(s), "
        f"{sum(p.stat().st_size for p in paths) / 1e6:.0f} MB, {runs[0][2] / 1e6:.0f} MB "
        f"uncompressed, {runs[0][1]} files; digests checked)"
    )
    print(f"baseline zcat: {base:.2f} s ({_spread(bases)})")
    print(
        f"nameplate scan_layers: {scan:.2f} s ({_spread([r[0] for r in runs])}), peak RSS "
        f"{max(r[3] for r in runs) / 1024:.0f} MiB"
    )
    print(f"throughput ratio (zcat time / scan time): {base / scan:.2f}x (aim >= 1.5x)")


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
    ap.add_argument("--repeat", type=int, default=3)
    default_archive = default_sif.parent / "docker.tar"
    ap.add_argument(
        "--archive", type=Path, default=default_archive if default_archive.exists() else None
    )
    ap.add_argument("--no-archive", action="store_true")
    args = ap.parse_args()
    if args.sif is not None and not args.no_sif:
        sif_case(args.sif)
    elif args.sif_only:
        print("no SIF: run scripts/setup.d/40-images.sh or give --sif PATH")
    if args.sif_only:
        return
    if args.archive is not None and not args.no_archive:
        archive_case(args.archive, args.repeat)
    layout = default_sif.parent / "oci"
    if (layout / "index.json").is_file() and not args.no_archive:
        layout_case(layout, args.repeat)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="nameplate-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        layers = sorted(folder.glob("layer*.tar.gz")) or make_layers(
            folder, args.size_mb, args.files
        )
        compressed = sum(p.stat().st_size for p in layers)
        zcat = shutil.which("zcat")
        bases = []
        for _ in range(args.repeat):
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
            bases.append(time.perf_counter() - t)
        runs = []
        for _ in range(args.repeat):
            res = subprocess.run(
                [sys.executable, "-c", _SCAN, *map(str, layers)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
            runs.append((float(res[0]), int(res[1]), int(res[2]), int(res[3])))
        base, scan = min(bases), min(r[0] for r in runs)
        _, files, raw, _ = runs[0]
        rss_kib = max(r[3] for r in runs)
        mb = raw / 1e6
        try:
            import isal  # noqa: F401

            inflater = "ISA-L (isal)"
        except ImportError:
            inflater = "zlib (isal not installed)"
        print(
            f"image: {len(layers)} gzip layers, {compressed / 1e6:.0f} MB compressed, "
            f"{mb:.0f} MB uncompressed, {files} files; inflater {inflater}"
        )
        print(
            f"baseline {'zcat' if zcat else 'python -m gzip -d'}: {base:.2f} s "
            f"({mb / base:.0f} MB/s; {_spread(bases)})"
        )
        print(
            f"nameplate scan_layers: {scan:.2f} s ({mb / scan:.0f} MB/s; "
            f"{_spread([r[0] for r in runs])}), peak RSS {rss_kib / 1024:.0f} MiB"
        )
        print(f"throughput ratio (baseline time / scan time): {base / scan:.2f}x (aim >= 1.5x)")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
