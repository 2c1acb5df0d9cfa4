"""Runtime closures of an image with 5,000 ELF files, against reading those files' ELF headers
once (the floor), measured in the same run.

Compiles with gcc a small application (a program and ``--libs`` shared libraries chained by
``DT_NEEDED``, found through ``$ORIGIN/../lib`` RUNPATHs), copies it into ``--apps`` prefixes
(``--apps`` x (``--libs`` + 1) ELF files, 5,000 by default) under ``/opt/app<N>`` of one image
layer, and times:

- floor: the layer merged (``scan_layers``), then every ELF file read once and its headers
  parsed (``parse_elf``): what any ELF-aware scanner must do;
- nameplate: the same, plus the loader-faithful resolver run from every program and library
  (:func:`nameplate.sources.image.record.index_elf` and one closure per entry point).

Prints both times and the ratio (nameplate / floor: the resolver's cost on top of reading).
Usage: .venv/bin/python benchmarks/elf_closure.py [--apps N] [--libs N]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_app(folder: Path, libs: int) -> dict[str, bytes]:
    """``bin/app`` and ``lib/lib<i>.so``: lib i needs lib i-1; the program needs the last."""
    out: dict[str, bytes] = {}
    for i in range(libs):
        src = folder / f"l{i}.c"
        dep = f"int f{i - 1}(void);" if i else ""
        call = f"f{i - 1}() + " if i else ""
        src.write_text(f"{dep}\nint f{i}(void) {{ return {call}{i}; }}\n")
        so = folder / f"lib{i}.so"
        link = [f"-L{folder}", f"-l{i - 1}"] if i else []
        subprocess.run(
            [
                "gcc",
                "-shared",
                "-fPIC",
                "-o",
                str(so),
                str(src),
                *link,
                "-Wl,--enable-new-dtags,-rpath,$ORIGIN",
                f"-Wl,-soname,lib{i}.so",
            ],
            check=True,
        )
        out[f"lib/lib{i}.so"] = so.read_bytes()
    main = folder / "main.c"
    main.write_text(f"int f{libs - 1}(void);\nint main(void) {{ return f{libs - 1}(); }}\n")
    app = folder / "app"
    subprocess.run(
        [
            "gcc",
            "-o",
            str(app),
            str(main),
            f"-L{folder}",
            f"-l{libs - 1}",
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib",
        ],
        check=True,
    )
    out["bin/app"] = app.read_bytes()
    return out


def make_layer(path: Path, files: dict[str, bytes], apps: int) -> int:
    count = 0
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for n in range(apps):
            for rel, data in files.items():
                info = tarfile.TarInfo(f"opt/app{n}/{rel}")
                info.size, info.mode = len(data), 0o755
                tar.addfile(info, io.BytesIO(data))
                count += 1
    return count


_RUN = """
import sys, time
from nameplate.elf import parse_elf
from nameplate.sources.image.layers import LayerRef, scan_layers
layer, mode = sys.argv[1], sys.argv[2]
ref = LayerRef(digest="bench", media_type="", open=lambda: open(layer, "rb"))
t = time.perf_counter()
tree = scan_layers("bench", [ref], keep=lambda p, s: False)
elf = [p for p, _s, is_elf in tree.files() if is_elf]
if mode == "floor":
    for path, data in tree.read_many(elf, limit=1 << 30):
        parse_elf(data, where=path)
    n = len(elf)
else:
    from nameplate.sources.image.record import index_elf
    index = index_elf(tree, {})
    res = index.resolver
    n = 0
    for path in elf:
        c = res.closure(path)
        n += len(c.links) if c else 0
print(time.perf_counter() - t, len(elf), n)
"""


def run(layer: Path, mode: str) -> tuple[float, int, int]:
    out = subprocess.run(
        [sys.executable, "-c", _RUN, str(layer), mode],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.split()
    return float(out[0]), int(out[1]), int(out[2])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--apps", type=int, default=250)
    ap.add_argument("--libs", type=int, default=19)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = build_app(folder, args.libs)
        layer = folder / "layer.tar"
        count = make_layer(layer, files, args.apps)
        floor = min(run(layer, "floor")[0] for _ in range(3))
        best = None
        for _ in range(3):
            t, _elf, links = run(layer, "closure")
            best = t if best is None else min(best, t)
        assert best is not None
        print(f"ELF files: {count} ({args.apps} apps x {args.libs + 1}); links resolved: {links}")
        print(f"floor (merge layer + read and parse every ELF file once): {floor:.2f} s")
        print(f"nameplate (the same + every entry point's closure):     {best:.2f} s")
        print(f"ratio nameplate / floor: {best / floor:.2f}")


if __name__ == "__main__":
    main()
