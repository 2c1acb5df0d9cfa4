"""Attach + discover latency and records/s against a local distribution 2.8.2 registry,
compared with the oras CLI doing the same attach in the same run.

Run: .venv/bin/python benchmarks/attach.py [N]   (needs docker-registry and .cache/bin/oras,
see scripts/setup.d/20-oci.sh). Figures are printed as ratios against the oras CLI baseline.

The commands run as new processes on compiled bytecode (compileall first, as pip installs it),
interleaved with oras's so that both see the same load; ``python -c pass`` is printed too: the
start of any Python command, which no change to nameplate can go under.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nameplate import oci
from tests.oci import registries as regs
from tests.oci.conftest import make_record, push_image

ORAS_TYPE = "application/vnd.example.meta.v1+json"


ROOT = Path(__file__).resolve().parents[1]


def _run(*argv: str) -> None:
    subprocess.run([sys.executable, "-m", "nameplate", *argv], check=True, capture_output=True)


def _timed(func: object) -> float:
    start = time.perf_counter()
    func()  # type: ignore[operator]
    return time.perf_counter() - start


def main(n: int) -> None:
    if regs.DOCKER_REGISTRY is None or regs.ORAS is None:
        sys.exit("needs docker-registry and the oras CLI (scripts/setup.d/20-oci.sh)")
    with tempfile.TemporaryDirectory() as tmp:
        reg = regs.start_distribution(Path(tmp) / "reg")
        try:
            t = reg.transport
            ref = reg.ref("bench/app:v1")
            subject = push_image(ref, transport=t)
            records = [make_record(i) for i in range(n)]
            ours = [_timed(lambda r=r: oci.attach(r, ref, transport=t)) for r in records]
            disc_ours = [_timed(lambda: oci.discover(ref, transport=t)) for _ in range(10)]
            files = []
            for i, r in enumerate(records):
                f = Path(tmp) / f"rec{i}.json"
                f.write_text(r.to_json())
                files.append(f)
            ref2 = reg.ref("bench/oras:v1")
            subject2 = push_image(ref2, transport=t)
            theirs = [
                _timed(
                    lambda f=f: regs.oras(
                        "attach",
                        "--plain-http",
                        "--artifact-type",
                        ORAS_TYPE,
                        reg.ref(f"bench/oras@{subject2}"),
                        f"{f.name}:{ORAS_TYPE}",
                        cwd=Path(tmp),
                    )
                )
                for f in files
            ]
            disc_theirs = [
                _timed(
                    lambda: regs.oras(
                        "discover",
                        "--plain-http",
                        "--format",
                        "json",
                        reg.ref(f"bench/oras@{subject2}"),
                    )
                )
                for _ in range(10)
            ]
            subprocess.run(
                [sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "nameplate")],
                check=True,
                capture_output=True,
            )
            ref3 = reg.ref("bench/cli:v1")
            push_image(ref3, transport=t)
            cli, cli_oras, cli_disc, cli_disc_oras, bare = [], [], [], [], []
            for f in files[: min(n, 15)]:  # interleaved: the same load for both
                cli.append(_timed(lambda f=f: _run("attach", str(f), "--to", ref3, "--plain-http")))
                cli_oras.append(
                    _timed(
                        lambda f=f: regs.oras(
                            "attach",
                            "--plain-http",
                            "--artifact-type",
                            ORAS_TYPE,
                            reg.ref(f"bench/oras@{subject2}"),
                            f"{f.name}:{ORAS_TYPE}",
                            cwd=Path(tmp),
                        )
                    )
                )
                cli_disc.append(_timed(lambda: _run("discover", ref3, "--plain-http")))
                cli_disc_oras.append(
                    _timed(
                        lambda: regs.oras(
                            "discover",
                            "--plain-http",
                            "--format",
                            "json",
                            reg.ref(f"bench/oras@{subject2}"),
                        )
                    )
                )
                bare.append(
                    _timed(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
                )
            assert len(oci.discover(ref, transport=t)) == n
            assert subject
        finally:
            reg.stop()

    def row(name: str, xs: list[float], base: list[float]) -> None:
        med, bmed = statistics.median(xs), statistics.median(base)
        print(
            f"{name:38s} median {med * 1000:7.1f} ms   {1 / statistics.mean(xs):7.1f}/s   "
            f"ratio vs oras CLI {med / bmed:5.2f}x"
        )

    print(f"distribution 2.8.2 on 127.0.0.1, {n} records attached to one subject (fallback path)")
    row("oras CLI attach (baseline)", theirs, theirs)
    row("nameplate.oci.attach (library)", ours, theirs)
    row("oras CLI discover (baseline)", disc_theirs, disc_theirs)
    row(f"nameplate.oci.discover ({n} referrers)", disc_ours, disc_theirs)
    print(f"commands, new processes, interleaved ({len(cli)} each):")
    row("oras attach (baseline)", cli_oras, cli_oras)
    row("nameplate attach", cli, cli_oras)
    row("oras discover (baseline)", cli_disc_oras, cli_disc_oras)
    row("nameplate discover", cli_disc, cli_disc_oras)
    row("python -c pass (any Python command)", bare, cli_disc_oras)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
