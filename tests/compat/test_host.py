"""Host detection: this machine for real; the CUDA ctypes path against the H200's recorded values."""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path
from typing import Any

import pytest

from nameplate import schema
from nameplate.compat import host as hostmod
from nameplate.compat.host import (
    _amd,
    _ProbeFailed,
    detect,
    parse_ldconfig,
    parse_nvidia_smi,
    parse_os_release,
    probe_cuda,
    probe_mpi,
)

# Recorded on the H200 machine (research note oci-compat.md §5.5).
H200_CUDA = 13000
H200_CC = (9, 0)
H200_NAME = b"NVIDIA H200"
H200_SMI = "NVIDIA H200, 580.159.04, 9.0\n"


class FakeLibcuda:
    """Answers the driver API calls the probe makes with recorded values."""

    def __init__(self, *, devices: int = 1, fail: str | None = None, hang: bool = False) -> None:
        self.devices = devices
        self.fail = fail
        self.hang = hang
        self.calls: list[str] = []

    def _rc(self, name: str) -> int:
        self.calls.append(name)
        return 999 if self.fail == name else 0

    def cuInit(self, flags: int) -> int:
        if self.hang:
            threading.Event().wait(2)
        return self._rc("cuInit")

    def cuDriverGetVersion(self, out: Any) -> int:
        out._obj.value = H200_CUDA
        return self._rc("cuDriverGetVersion")

    def cuDeviceGetCount(self, out: Any) -> int:
        out._obj.value = self.devices
        return self._rc("cuDeviceGetCount")

    def cuDeviceGet(self, out: Any, ordinal: int) -> int:
        out._obj.value = ordinal
        return self._rc("cuDeviceGet")

    def cuDeviceGetAttribute(self, out: Any, attr: int, dev: ctypes.c_int) -> int:
        out._obj.value = {75: H200_CC[0], 76: H200_CC[1]}[attr]
        return self._rc("cuDeviceGetAttribute")

    def cuDeviceGetName(self, buf: Any, size: int, dev: ctypes.c_int) -> int:
        buf.value = H200_NAME
        return self._rc("cuDeviceGetName")


def test_cuda_probe_reads_the_recorded_h200_values() -> None:
    fake = FakeLibcuda()
    seen: list[str] = []

    def loader(name: str) -> FakeLibcuda:
        seen.append(name)
        return fake

    version, gpus = probe_cuda(loader)
    assert seen == ["libcuda.so.1"]
    assert version == "13.0"
    assert [(g.name, g.compute_capability, g.vendor) for g in gpus] == [
        ("NVIDIA H200", "9.0", "nvidia")
    ]
    # and it agrees with nvidia-smi's recorded line
    driver, smi_gpus = parse_nvidia_smi(H200_SMI)
    assert driver == "580.159.04"
    assert smi_gpus[0].compute_capability == gpus[0].compute_capability
    assert smi_gpus[0].name == gpus[0].name


def test_cuda_probe_counts_devices() -> None:
    _, gpus = probe_cuda(lambda _: FakeLibcuda(devices=3))
    assert [g.index for g in gpus] == [0, 1, 2]


def test_missing_libcuda_is_a_probe_failure() -> None:
    def loader(name: str) -> Any:
        raise OSError(f"{name}: cannot open shared object file")

    with pytest.raises(_ProbeFailed, match=r"libcuda\.so\.1"):
        probe_cuda(loader)


def test_cuda_error_code_is_a_probe_failure() -> None:
    with pytest.raises(_ProbeFailed, match="cuInit returned CUDA error 999"):
        probe_cuda(lambda _: FakeLibcuda(fail="cuInit"))


def test_hanging_driver_times_out() -> None:
    with pytest.raises(_ProbeFailed, match="did not answer"):
        probe_cuda(lambda _: FakeLibcuda(hang=True), timeout=0.2)


def test_detect_uses_nvidia_smi_when_libcuda_fails() -> None:
    def run(argv: list[str]) -> str | None:
        return H200_SMI if argv[0] == "nvidia-smi" else None

    def loader(name: str) -> Any:
        raise OSError("no libcuda")

    host = detect(loader=loader, run=run, env={}, now=0)
    assert host.nvidia is not None and host.nvidia.source == "nvidia-smi"
    assert host.nvidia.driver_version == "580.159.04"
    assert host.gpus[0].compute_capability == "9.0"
    assert host.unknown("ldconfig")  # the fake runner has no ldconfig: an unknown, not a crash
    schema.validate_host(host.to_dict())


def test_detect_with_recorded_libcuda() -> None:
    host = detect(loader=lambda _: FakeLibcuda(), env={}, now=0)
    assert host.nvidia is not None and host.nvidia.cuda_version == "13.0"
    assert host.gpus[0].name == "NVIDIA H200"
    schema.validate_host(host.to_dict())


def test_detect_this_machine_never_crashes() -> None:
    host = detect()
    schema.validate_host(host.to_dict())
    assert host.cpu.family is not None
    assert host.libc is not None and host.libc.family == "glibc"


def test_probes_that_raise_become_unknowns(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise PermissionError("denied")

    monkeypatch.setattr(hostmod, "_libc", broken)
    host = detect(loader=lambda _: FakeLibcuda(), env={}, now=0)
    assert host.libc is None
    assert host.unknown("libc")


LDCONFIG = """\
1234 libs found in cache `/etc/ld.so.cache'
\tlibstdc++.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libstdc++.so.6
\tlibmpich.so.12 (libc6,x86-64) => /lib/x86_64-linux-gnu/libmpich.so.12
\tlibmpi.so.40 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/openmpi/lib/libmpi.so.40
\tlibmpi_cxx.so.40 (libc6,x86-64) => /lib/x86_64-linux-gnu/libmpi_cxx.so.40
"""


def test_parse_ldconfig_and_mpi_from_cache() -> None:
    cache = parse_ldconfig(LDCONFIG)
    assert cache["libstdc++.so.6"] == "/lib/x86_64-linux-gnu/libstdc++.so.6"
    mpis = probe_mpi(cache, {}, lambda d: [])
    assert [(m.soname, m.abi, m.implementation) for m in mpis] == [
        ("libmpich.so.12", "mpich", "mpich"),
        ("libmpi.so.40", "openmpi", "openmpi"),
    ]


def test_mpi_from_ld_library_path_and_modules(tmp_path: Path) -> None:
    lib = tmp_path / "mvapich2-2.3" / "lib"
    lib.mkdir(parents=True)
    (lib / "libmpi.so.12").write_bytes(b"")
    env = {"LD_LIBRARY_PATH": f"{lib}:/nonexistent", "LOADEDMODULES": "gcc/12.2.0:openmpi/4.1.5"}
    mpis = probe_mpi({}, env, lambda d: __import__("os").listdir(d))
    found = {(m.soname, m.abi, m.implementation, m.source) for m in mpis}
    assert ("libmpi.so.12", "mpich", "mvapich2", "LD_LIBRARY_PATH") in found
    assert ("libmpi.so.40", "openmpi", "openmpi", "module") in found
    assert next(m for m in mpis if m.source == "module").version == "4.1.5"


def test_amd_gfx_from_sysfs(tmp_path: Path) -> None:
    for i, version in enumerate([0, 90010, 110000]):
        node = tmp_path / str(i)
        node.mkdir()
        (node / "properties").write_text(f"cpu_cores_count 0\ngfx_target_version {version}\n")
    runtime, gpus = _amd(str(tmp_path), env={})
    assert runtime is not None
    assert [g.gfx for g in gpus] == ["gfx90a", "gfx1100"]
    assert [g.xnack for g in gpus] == [None, None]  # unset: the profile says nothing
    for mode, want in (("1", True), ("0", False)):
        _, gpus = _amd(str(tmp_path), env={"HSA_XNACK": mode})
        assert {g.xnack for g in gpus} == {want}


def test_amd_absent() -> None:
    assert _amd("/nonexistent/kfd") == (None, ())


def test_os_release() -> None:
    os_ = parse_os_release(
        'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'
    )
    assert (os_.id, os_.version_id) == ("debian", "12")
