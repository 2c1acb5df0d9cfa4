"""Faults on real registries: killed mid-upload, streaming memory bound of a 1 GiB push."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nameplate import oci
from nameplate.errors import RegistryError
from tests.conftest import need

from . import registries as regs

GIB = 1024**3


@pytest.fixture
def own_distribution(tmp_path: Path) -> Iterator[regs.Registry]:
    need(regs.DOCKER_REGISTRY is not None, "docker-registry not installed (scripts/apt.d/oci.txt)")
    yield from regs.running(regs.start_distribution(tmp_path / "reg"))


def _sparse(path: Path, size: int) -> Path:
    with path.open("wb") as f:
        f.truncate(size)
        f.seek(size // 2)
        f.write(b"nameplate")  # not all zeros
    return path


def _uploaded(reg: regs.Registry) -> int:
    return sum(p.stat().st_size for p in (reg.folder / "data").rglob("_uploads/*/data"))


@pytest.mark.slow
def test_killed_mid_upload_then_rerun(own_distribution: regs.Registry, tmp_path: Path) -> None:
    big = _sparse(tmp_path / "big.bin", GIB)
    ref = own_distribution.ref("fault/app:v1")
    t = own_distribution.transport
    errors: list[BaseException] = []

    def run() -> None:
        try:
            oci.push(big, ref, transport=t)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 60
    while _uploaded(own_distribution) < 64 * 1024 * 1024 and time.monotonic() < deadline:
        time.sleep(0.005)
    own_distribution.kill()
    worker.join(60)
    assert len(errors) == 1 and isinstance(errors[0], RegistryError), errors
    assert "127.0.0.1" in str(errors[0]) and "Traceback" not in str(errors[0])
    own_distribution.restart()
    # nothing half-pushed is visible: no tag, so no manifest that points at a missing blob
    assert oci.list_tags(own_distribution.ref("fault/app"), transport=t) == []
    desc = oci.push(big, ref, transport=t)
    assert oci.resolve(ref, transport=t).digest == desc.digest


_PUSH = """
import sys
from nameplate import oci
from nameplate.oci import Transport
chunk = int(sys.argv[3]) or None
oci.push(sys.argv[1], sys.argv[2], transport=Transport(plain_http=True, chunk_size=chunk))
# VmHWM is this process image's own peak (ru_maxrss would include the forking parent's pages)
print(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:")))
"""


@pytest.mark.slow
@pytest.mark.parametrize("chunk", [0, 32 * 1024 * 1024])
def test_one_gib_push_streams(
    own_distribution: regs.Registry,
    tmp_path: Path,
    chunk: int,
    record_property: Callable[[str, object], None],
) -> None:
    big = _sparse(tmp_path / "big.bin", GIB)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _PUSH,
            str(big),
            own_distribution.ref(f"big/file:c{chunk}"),
            str(chunk),
        ],
        cwd=regs.ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = proc.communicate()
    assert proc.returncode == 0
    peak_mib = int(out.split()[-1]) / 1024
    record_property("peak_rss_mib", peak_mib)
    print(f"\npush of a 1 GiB file (chunk={chunk}): peak RSS {peak_mib:.1f} MiB")
    assert peak_mib < 100
