"""Detect this host: the only module of :mod:`nameplate.compat` with side effects.

Every probe reads a file, runs a tool with ``shell=False`` and a timeout, or calls ``libcuda``
through ctypes in a thread with a timeout. A missing tool, a timeout or a refused read becomes a
:class:`~nameplate.compat.profile.HostUnknown` in the profile: detection never crashes.
Probes take their inputs as parameters (the library loader, the environment, the file reader),
so tests run them on recorded values instead of patching modules.
"""

from __future__ import annotations

import ctypes
import os
import platform
import re
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..normalize import iso_time, max_version, mpi_abi_family, mpi_abi_from_soname
from .profile import (
    AmdRuntime,
    Host,
    HostCpu,
    HostCxx,
    HostGpu,
    HostLibc,
    HostMpi,
    HostOs,
    HostRuntime,
    HostUnknown,
    NvidiaDriver,
    cpu_from_cpuinfo,
)

__all__ = [
    "PROBE_TIMEOUT",
    "detect",
    "parse_ldconfig",
    "parse_nvidia_smi",
    "parse_os_release",
    "probe_cuda",
    "probe_mpi",
]

#: Seconds any single probe may take.
PROBE_TIMEOUT = 5.0

Loader = Callable[[str], Any]
Runner = Callable[[list[str]], str | None]


class _ProbeFailed(Exception):
    """A probe could not answer; the message becomes the unknown's reason."""


@dataclass(frozen=True, slots=True)
class _Cuda:
    cuda_version: str
    gpus: tuple[HostGpu, ...]


def _run(argv: list[str], timeout: float = PROBE_TIMEOUT) -> str | None:
    """stdout of ``argv``, or None when the tool is missing, fails or times out."""
    try:
        done = subprocess.run(
            argv, capture_output=True, timeout=timeout, check=False, shell=False, text=True
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return done.stdout if done.returncode == 0 else None


def _read(path: str, limit: int = 1 << 20) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(limit)
    except OSError:
        return None


# -- CUDA through libcuda.so.1 (no toolkit needed) ---------------------------------------------

_CU_CC_MAJOR = 75
_CU_CC_MINOR = 76


def _cuda_calls(lib: Any) -> _Cuda:
    def call(name: str, *args: Any) -> None:
        rc = getattr(lib, name)(*args)
        if rc != 0:
            raise _ProbeFailed(f"{name} returned CUDA error {rc}")

    call("cuInit", 0)
    version = ctypes.c_int(0)
    call("cuDriverGetVersion", ctypes.byref(version))
    count = ctypes.c_int(0)
    call("cuDeviceGetCount", ctypes.byref(count))
    gpus: list[HostGpu] = []
    for i in range(max(0, min(count.value, 64))):
        dev = ctypes.c_int(0)
        call("cuDeviceGet", ctypes.byref(dev), i)
        major, minor = ctypes.c_int(0), ctypes.c_int(0)
        call("cuDeviceGetAttribute", ctypes.byref(major), _CU_CC_MAJOR, dev)
        call("cuDeviceGetAttribute", ctypes.byref(minor), _CU_CC_MINOR, dev)
        name = ctypes.create_string_buffer(256)
        call("cuDeviceGetName", name, 256, dev)
        gpus.append(
            HostGpu(
                vendor="nvidia",
                index=i,
                name=name.value.decode("utf-8", "replace") or None,
                compute_capability=f"{major.value}.{minor.value}",
            )
        )
    v = version.value
    return _Cuda(cuda_version=f"{v // 1000}.{(v % 1000) // 10}", gpus=tuple(gpus))


def probe_cuda(
    loader: Loader = ctypes.CDLL, *, timeout: float = PROBE_TIMEOUT
) -> tuple[str, tuple[HostGpu, ...]]:
    """The CUDA driver API version (``13.0``) and each GPU's compute capability, via libcuda.

    ``loader`` opens a shared library by name (``ctypes.CDLL``; tests pass a recorder). Raises
    ``_ProbeFailed`` when libcuda is missing, an API call fails, or it takes over ``timeout``.
    """
    result: list[_Cuda] = []
    errors: list[str] = []

    def work() -> None:
        try:
            result.append(_cuda_calls(loader("libcuda.so.1")))
        except _ProbeFailed as exc:
            errors.append(str(exc))
        except (OSError, AttributeError) as exc:
            errors.append(f"libcuda.so.1: {exc}")

    thread = threading.Thread(target=work, name="nameplate-cuda-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise _ProbeFailed(f"libcuda.so.1 did not answer in {timeout:g} s")
    if errors:
        raise _ProbeFailed(errors[0])
    return result[0].cuda_version, result[0].gpus


def parse_nvidia_smi(text: str) -> tuple[str | None, tuple[HostGpu, ...]]:
    """``nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader``."""
    driver: str | None = None
    gpus: list[HostGpu] = []
    for i, line in enumerate(x for x in text.splitlines() if x.strip()):
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3:
            continue
        driver = driver or parts[1]
        cc = parts[2] if re.fullmatch(r"\d+\.\d+", parts[2]) else None
        gpus.append(HostGpu(vendor="nvidia", index=i, name=parts[0], compute_capability=cc))
    return driver, tuple(gpus)


_NVRM = re.compile(r"Kernel Module(?: for [\w-]+)?\s+(\d+\.\d+(?:\.\d+)?)")


def _nvidia(
    loader: Loader, run: Runner, read: Callable[[str], str | None], unknowns: list[HostUnknown]
) -> tuple[NvidiaDriver | None, tuple[HostGpu, ...]]:
    proc = read("/proc/driver/nvidia/version")
    driver = m.group(1) if proc and (m := _NVRM.search(proc)) else None
    try:
        cuda, gpus = probe_cuda(loader)
        return NvidiaDriver(driver_version=driver, cuda_version=cuda, source="libcuda"), gpus
    except _ProbeFailed as exc:
        reason = str(exc)
    smi = run(
        ["nvidia-smi", "--query-gpu=name,driver_version,compute_cap", "--format=csv,noheader"]
    )
    if smi:
        smi_driver, gpus = parse_nvidia_smi(smi)
        return NvidiaDriver(driver_version=driver or smi_driver, source="nvidia-smi"), gpus
    if driver is not None:  # a kernel module but no usable libcuda: say so
        unknowns.append(HostUnknown(probe="gpu.nvidia", reason=reason))
        return NvidiaDriver(driver_version=driver, source="libcuda"), ()
    return None, ()


# -- AMD through sysfs -------------------------------------------------------------------------


def _gfx(version: int) -> str:
    major, minor, step = version // 10000, (version // 100) % 100, version % 100
    return f"gfx{major}{minor:x}{step:x}"


def _amd(
    root: str = "/sys/class/kfd/kfd/topology/nodes",
    env: Mapping[str, str] | None = None,
) -> tuple[AmdRuntime | None, tuple[HostGpu, ...]]:
    """AMD GPUs from the KFD topology. XNACK is a per-process mode the ROCm runtime takes from
    ``HSA_XNACK`` (``1`` on, ``0`` off); unset, the profile says nothing (a check that needs
    ``xnack+`` or ``xnack-`` is then unknown, never a pass)."""
    nodes = Path(root)
    mode = (env if env is not None else os.environ).get("HSA_XNACK")
    xnack = True if mode == "1" else False if mode == "0" else None
    gpus: list[HostGpu] = []
    try:
        entries = sorted(nodes.iterdir(), key=lambda p: p.name)
    except OSError:
        return None, ()
    for node in entries:
        props = _read(str(node / "properties")) or ""
        m = re.search(r"^gfx_target_version\s+(\d+)", props, re.M)
        if m and int(m.group(1)) > 0:
            gpus.append(
                HostGpu(vendor="amd", index=len(gpus), gfx=_gfx(int(m.group(1))), xnack=xnack)
            )
    if not gpus:
        return None, ()
    rocm = (_read("/opt/rocm/.info/version") or "").strip() or None
    return AmdRuntime(rocm_version=rocm, source="sysfs"), tuple(gpus)


# -- MPI: ldconfig cache, LD_LIBRARY_PATH, loaded modules ------------------------------------

_MPI_SONAME = re.compile(r"^(libmpi(?:ch)?|libmpi_abi)\.so\.(\d+)$")
_LDCONFIG_LINE = re.compile(r"^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)\s*$")


def parse_ldconfig(text: str) -> dict[str, str]:
    """``ldconfig -p`` → soname → path (the first, i.e. preferred, entry of each soname)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = _LDCONFIG_LINE.match(line)
        if m:
            out.setdefault(m.group(1), m.group(3))
    return out


def _implementation_from_path(path: str) -> str | None:
    low = path.lower()
    for name in ("intel-oneapi-mpi", "mvapich2", "mvapich", "cray-mpich", "openmpi", "hpcx"):
        if name in low:
            return name
    if "mpich" in os.path.basename(low) or "/mpich" in low:
        return "mpich"
    if "ompi" in low or "open-mpi" in low:
        return "openmpi"
    return None


def _module_mpis(loaded: str) -> list[HostMpi]:
    out: list[HostMpi] = []
    for mod in filter(None, loaded.split(":")):
        name, _, version = mod.partition("/")
        abi = mpi_abi_family(name)
        if abi != "unknown":
            soname = "libmpi.so.40" if abi == "openmpi" else "libmpi.so.12"
            out.append(
                HostMpi(
                    soname=soname,
                    abi=abi,
                    implementation=name.lower(),
                    version=version or None,
                    source="module",
                )
            )
    return out


def probe_mpi(
    ldconfig: Mapping[str, str], env: Mapping[str, str], listdir: Callable[[str], Iterable[str]]
) -> tuple[HostMpi, ...]:
    """MPI libraries visible to the loader, from the ``ldconfig`` cache, ``LD_LIBRARY_PATH``
    and the loaded Lmod / Environment Modules (``LOADEDMODULES``)."""
    found: list[HostMpi] = []
    seen: set[tuple[str, str | None]] = set()

    def add(soname: str, path: str | None, source: str) -> None:
        key = (soname, path)
        if key in seen:
            return
        seen.add(key)
        abi = mpi_abi_from_soname(soname)
        impl = _implementation_from_path(path or "") or (
            "mpich" if soname.startswith("libmpich") else "openmpi" if abi == "openmpi" else None
        )
        found.append(HostMpi(soname=soname, abi=abi, implementation=impl, path=path, source=source))

    for directory in env.get("LD_LIBRARY_PATH", "").split(":"):
        if not directory:
            continue
        try:
            names = sorted(listdir(directory))
        except OSError:
            continue
        for name in names:
            if _MPI_SONAME.match(name):
                add(name, os.path.join(directory, name), "LD_LIBRARY_PATH")
    for soname, path in ldconfig.items():
        if _MPI_SONAME.match(soname):
            add(soname, path, "ldconfig")
    for mpi in _module_mpis(env.get("LOADEDMODULES", "")):
        if (mpi.soname, None) not in seen:
            seen.add((mpi.soname, None))
            found.append(mpi)
    return tuple(found)


# -- libc, libstdc++, OS -------------------------------------------------------------------------


def _libc() -> HostLibc | None:
    try:
        value = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError, AttributeError):
        value = None
    if value and value.startswith("glibc "):
        return HostLibc(family="glibc", version=value.split()[1])
    lib, version = platform.libc_ver()
    if lib:
        return HostLibc(family=lib, version=version or None)
    return None


def _cxx(ldconfig: Mapping[str, str]) -> HostCxx | None:
    from ..elf import parse_elf

    candidates = [ldconfig.get("libstdc++.so.6", "")]
    candidates += [
        f"/usr/lib/{platform.machine()}-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6",
    ]
    for path in filter(None, candidates):
        try:
            with open(path, "rb") as f:
                data = f.read(64 << 20)
        except OSError:
            continue
        names = parse_elf(data, where=path).version_definitions
        glibcxx = max_version(
            n.split("_", 1)[1] for n in names if re.fullmatch(r"GLIBCXX_[\d.]+", n)
        )
        cxxabi = max_version(n.split("_", 1)[1] for n in names if re.fullmatch(r"CXXABI_[\d.]+", n))
        return HostCxx(glibcxx=glibcxx, cxxabi=cxxabi, path=path)
    return None


#: Language runtimes the host may provide: soname → (name, symbol-version families).
_RUNTIMES = {
    "libgomp.so.1": ("libgomp", ("GOMP_", "OMP_")),
    "libomp.so.5": ("libomp", ("OMP_",)),
    "libomp.so": ("libomp", ("OMP_",)),
    "libiomp5.so": ("libiomp5", ("OMP_",)),
    "libgfortran.so.5": ("libgfortran", ("GFORTRAN_",)),
    "libgfortran.so.4": ("libgfortran", ("GFORTRAN_",)),
    "libgfortran.so.3": ("libgfortran", ("GFORTRAN_",)),
}


def _runtimes(ldconfig: Mapping[str, str]) -> tuple[HostRuntime, ...]:
    """The OpenMP and Fortran runtimes the loader finds (``ldconfig -p``), read with the ELF
    reader: the newest symbol version each defines per family."""
    from ..elf import parse_elf

    out = []
    for soname, (name, families) in _RUNTIMES.items():
        path = ldconfig.get(soname)
        if not path:
            continue
        try:
            with open(path, "rb") as f:
                data = f.read(64 << 20)
        except OSError:
            continue
        defined = parse_elf(data, where=path).version_definitions
        versions = []
        for fam in families:
            best = max_version(
                n[len(fam) :] for n in defined if n.startswith(fam) and n[len(fam) :][:1].isdigit()
            )
            if best:
                versions.append(fam + best)
        out.append(HostRuntime(name=name, soname=soname, versions=tuple(versions), path=path))
    return tuple(out)


def parse_os_release(text: str) -> HostOs:
    """``/etc/os-release`` → ID, VERSION_ID, PRETTY_NAME (quotes removed)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip("\"'")
    return HostOs(
        id=values.get("ID"),
        version_id=values.get("VERSION_ID"),
        pretty_name=values.get("PRETTY_NAME"),
    )


def _step(name: str, unknowns: list[HostUnknown], fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:  # a probe must never crash detection
        unknowns.append(HostUnknown(probe=name, reason=f"{type(exc).__name__}: {exc}"))
        return None


def detect(
    *,
    loader: Loader = ctypes.CDLL,
    run: Runner = _run,
    env: Mapping[str, str] | None = None,
    now: float | None = None,
) -> Host:
    """Probe this machine. Every probe is bounded; what cannot be learnt is an unknown."""
    import time

    environ = os.environ if env is None else env
    unknowns: list[HostUnknown] = []
    cpuinfo = _read("/proc/cpuinfo")
    cpu: HostCpu | None = None
    if cpuinfo:
        cpu = _step("cpu", unknowns, lambda: cpu_from_cpuinfo(cpuinfo))
    if cpu is None or cpu.target is None:
        cpu = _step("cpu", unknowns, _archspec_host) or HostCpu()
    ld_text = run(["ldconfig", "-p"]) or run(["/sbin/ldconfig", "-p"])
    if ld_text is None:
        unknowns.append(HostUnknown(probe="ldconfig", reason="ldconfig -p is missing or failed"))
    ldconfig = parse_ldconfig(ld_text or "")
    libc = _step("libc", unknowns, _libc)
    cxx = _step("cxx", unknowns, lambda: _cxx(ldconfig))
    runtimes = _step("runtimes", unknowns, lambda: _runtimes(ldconfig)) or ()
    mpi = _step("mpi", unknowns, lambda: probe_mpi(ldconfig, environ, os.listdir)) or ()
    nv = _step("gpu.nvidia", unknowns, lambda: _nvidia(loader, run, _read, unknowns)) or (None, ())
    amd = _step("gpu.amd", unknowns, lambda: _amd(env=environ)) or (None, ())
    os_text = _read("/etc/os-release") or _read("/usr/lib/os-release")
    return Host(
        name=platform.node() or None,
        cpu=cpu,
        libc=libc,
        cxx=cxx,
        mpi=tuple(mpi),
        nvidia=nv[0],
        amd=amd[0],
        gpus=tuple(nv[1]) + tuple(amd[1]),
        runtimes=tuple(runtimes),
        os=parse_os_release(os_text) if os_text else None,
        kernel=platform.release() or None,
        unknowns=tuple(unknowns),
        detected_at=iso_time(time.time() if now is None else now),
    )


def _archspec_host() -> HostCpu:
    import archspec
    import archspec.cpu

    t = archspec.cpu.host()
    return HostCpu(
        family=str(t.family.name),
        target=str(t.name),
        vendor=str(t.vendor),
        archspec=str(archspec.__version__),
    )
