"""The host profile: typed, frozen dataclasses that mirror ``schemas/host/host-1.1.0.schema.json``.

A :class:`Host` is what :func:`nameplate.compat.host.detect` finds on a machine, and what a
scheduler or registry receives as JSON (``nameplate host -f json``) to evaluate a record for a
machine it is not running on. Nothing here does I/O: :func:`cpu_from_cpuinfo` turns the text of
``/proc/cpuinfo`` into a :class:`HostCpu` with archspec's detection algorithm, so real dumps of
other machines are fixtures, not mocks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import _codec
from ..errors import CompatError, RecordError, RecordValidationError

__all__ = [
    "HOST_SCHEMA_VERSION",
    "AmdRuntime",
    "Host",
    "HostCpu",
    "HostCxx",
    "HostGpu",
    "HostLibc",
    "HostMpi",
    "HostOs",
    "HostRuntime",
    "HostUnknown",
    "NvidiaDriver",
    "cpu_from_cpuinfo",
    "host_from_json",
    "normalize_flags",
]

HOST_SCHEMA_VERSION = "1.1.0"
"""1.1.0 (ADDITION): ``HostGpu.xnack``/``sramecc`` and ``Host.runtimes`` (1.0.0 stays readable)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class HostCpu:
    """The CPU: archspec's host target and family, the vendor, flags normalised as archspec does."""

    family: str | None = None
    target: str | None = None
    vendor: str | None = None
    flags: tuple[str, ...] = ()
    model_name: str | None = None
    generation: int | None = None
    cpu_part: str | None = None
    archspec: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class HostLibc:
    """The C library the host's loader provides."""

    family: str
    version: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class HostCxx:
    """The newest ``GLIBCXX_``/``CXXABI_`` versions the visible ``libstdc++.so.6`` defines."""

    glibcxx: str | None = None
    cxxabi: str | None = None
    path: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class HostMpi:
    """An MPI library visible on the host, where it was seen and its ABI family."""

    soname: str
    abi: str = "unknown"
    implementation: str | None = None
    version: str | None = None
    path: str | None = None
    source: str = "ldconfig"


@dataclass(frozen=True, kw_only=True, slots=True)
class NvidiaDriver:
    """The NVIDIA driver: its version and the CUDA driver API version it implements."""

    driver_version: str | None = None
    cuda_version: str | None = None
    source: str = "libcuda"


@dataclass(frozen=True, kw_only=True, slots=True)
class AmdRuntime:
    """The AMD ROCm installation, where one is visible."""

    rocm_version: str | None = None
    source: str = "sysfs"


@dataclass(frozen=True, kw_only=True, slots=True)
class HostGpu:
    """One GPU: NVIDIA compute capability (``9.0``) or AMD gfx target (``gfx90a``)."""

    vendor: str
    index: int = 0
    name: str | None = None
    compute_capability: str | None = None
    gfx: str | None = None
    xnack: bool | None = None
    sramecc: bool | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class HostRuntime:
    """A language runtime the host's loader finds (``libgomp``, ``libgfortran``...): its soname
    and the newest symbol version it defines per family (``GOMP_5.0.1``, ``GFORTRAN_12``)."""

    name: str
    soname: str
    versions: tuple[str, ...] = ()
    path: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class HostOs:
    """``/etc/os-release``'s ``ID``, ``VERSION_ID`` and ``PRETTY_NAME``."""

    id: str | None = None
    version_id: str | None = None
    pretty_name: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class HostUnknown:
    """A probe that could not answer (tool missing, timeout, permission), and why."""

    probe: str
    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Host:
    """A host profile."""

    schema_version: str = HOST_SCHEMA_VERSION
    name: str | None = None
    cpu: HostCpu = field(default_factory=HostCpu)
    libc: HostLibc | None = None
    cxx: HostCxx | None = None
    mpi: tuple[HostMpi, ...] = ()
    nvidia: NvidiaDriver | None = None
    amd: AmdRuntime | None = None
    gpus: tuple[HostGpu, ...] = ()
    runtimes: tuple[HostRuntime, ...] = ()
    os: HostOs | None = None
    kernel: str | None = None
    unknowns: tuple[HostUnknown, ...] = ()
    detected_at: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str = "$") -> Host:
        """Build a host profile from its JSON form; ``CompatError`` names the bad field."""
        try:
            return _codec.from_dict(cls, data, path=path)
        except RecordError as exc:
            raise CompatError(f"host profile: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """The profile as JSON data, empty fields dropped."""
        out: dict[str, Any] = _codec.to_jsonable(self)
        out.setdefault("cpu", {})
        return out

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, two-space indent, trailing newline."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def unknown(self, probe: str) -> bool:
        """Whether the probe ``probe`` (``cpu``, ``libc``, ``gpu.nvidia``...) could not answer."""
        return any(u.probe == probe for u in self.unknowns)


def host_from_json(text: str | bytes, *, where: str) -> Host:
    """Parse and validate a host profile (``nameplate host -f json``)."""
    try:
        return _host_from_json(text, where=where)
    except RecursionError as exc:
        raise CompatError(f"{where}: JSON nested too deeply") from exc


def _host_from_json(text: str | bytes, *, where: str) -> Host:
    from .. import schema

    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise CompatError(f"{where}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CompatError(f"{where}: $: a host profile is a JSON object")
    try:
        schema.validate_host(data, where=where)
    except RecordValidationError as exc:
        shown = "; ".join(f"{p}: {m}" for p, m in exc.errors[:3])
        raise CompatError(f"{where}: invalid host profile: {shown}") from exc
    try:
        return Host.from_dict(data)
    except CompatError as exc:
        raise CompatError(f"{where}: {exc}") from exc


# -- CPU detection from /proc/cpuinfo text (archspec's algorithm, with the data passed in) -----

_POWER = re.compile(r"POWER(\d+)")


def _first_block(text: str) -> dict[str, str]:
    data: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep != ":" and data:
            break
        if sep == ":":
            data.setdefault(key.strip(), value.strip())
    return data


def _family_of(data: Mapping[str, str]) -> str | None:
    if "vendor_id" in data and "flags" in data:
        return "x86_64"
    if "CPU implementer" in data or "Features" in data:
        return "aarch64"
    if _POWER.search(data.get("cpu", "")):
        return "ppc64le"
    if data.get("isa", "").startswith("rv64"):
        return "riscv64"
    return None


def normalize_flags(flags: set[str] | frozenset[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Raw ``/proc/cpuinfo`` flags normalised as archspec does: ``ssse3`` implies ``sse3``."""
    out = set(flags)
    if "ssse3" in out:
        out.add("sse3")
    return tuple(sorted(out))


def cpu_from_cpuinfo(text: str, *, family: str | None = None) -> HostCpu:
    """The CPU described by ``/proc/cpuinfo`` text (the first processor block).

    ``family`` defaults to what the text shows (x86 ``flags``, Arm ``CPU implementer``, POWER,
    RISC-V ``isa``). The target is archspec's answer for those facts: the deepest known target
    whose vendor and features the CPU has, below no better generic level.
    """
    import archspec
    import archspec.cpu

    data = _first_block(text)
    fam = family or _family_of(data)
    targets: Mapping[str, Any] = archspec.cpu.TARGETS
    version = str(archspec.__version__)
    if fam is None:
        return HostCpu(archspec=version, model_name=data.get("model name"))
    vendor = "generic"
    flags: tuple[str, ...] = ()
    generation = 0
    name = ""
    cpu_part = ""
    if fam == "x86_64":
        vendor = data.get("vendor_id", "generic")
        flags = normalize_flags(set(data.get("flags", "").split()))
    elif fam == "aarch64":
        arm_vendors: Mapping[str, str] = archspec.cpu.schema.TARGETS_JSON["conversions"][
            "arm_vendors"
        ]
        code = data.get("CPU implementer")
        vendor = arm_vendors.get(code, code) if code else "generic"
        flags = normalize_flags(set(data.get("Features", "").split()))
        cpu_part = data.get("CPU part", "")
    elif fam in ("ppc64le", "ppc64"):
        m = _POWER.search(data.get("cpu", ""))
        generation = int(m.group(1)) if m else 0
    elif fam == "riscv64":
        uarch = data.get("uarch", "")
        name = {"sifive,u74-mc": "u74mc", "spacemit,x60": "x60"}.get(uarch, uarch)
        if data.get("model name") == "Spacemit(R) X60":
            name = "x60"
    target = _best_target(
        targets,
        fam,
        vendor=vendor,
        flags=set(flags),
        generation=generation,
        name=name,
        cpu_part=cpu_part,
    )
    return HostCpu(
        family=fam,
        target=target,
        vendor=vendor,
        flags=flags,
        model_name=data.get("model name") or data.get("cpu") or None,
        generation=generation or None,
        cpu_part=cpu_part or None,
        archspec=version,
    )


def _compatible(
    t: Any, fam: str, root: Any, *, vendor: str, flags: set[str], generation: int, name: str
) -> bool:
    if fam == "x86_64":
        return bool(
            (t == root or root in t.ancestors)
            and t.vendor in (vendor, "generic")
            and t.features <= flags
        )
    if fam == "aarch64":
        if t.vendor == "generic" and t.name != "aarch64":
            return False
        return bool(t.family == root and t.vendor in (vendor, "generic") and t.features <= flags)
    if fam in ("ppc64le", "ppc64"):
        return bool((t == root or root in t.ancestors) and t.generation <= generation)
    if fam == "riscv64":
        return bool(
            (t == root or root in t.ancestors) and (t.name == name or t.vendor == "generic")
        )
    return False


def _best_target(
    targets: Mapping[str, Any],
    fam: str,
    *,
    vendor: str,
    flags: set[str],
    generation: int,
    name: str,
    cpu_part: str,
) -> str | None:
    root = targets.get(fam)
    if root is None:
        return None
    candidates = [
        t
        for t in targets.values()
        if _compatible(t, fam, root, vendor=vendor, flags=flags, generation=generation, name=name)
    ] or [root]

    def key(t: Any) -> tuple[int, int]:
        return len(t.ancestors), len(t.features)

    best_generic = max((c for c in candidates if c.vendor == "generic"), key=key, default=root)
    if cpu_part and any(c.cpu_part == cpu_part for c in candidates):
        candidates = [c for c in candidates if c.cpu_part == cpu_part]
    candidates = [c for c in candidates if c > best_generic]
    if not candidates:
        return str(best_generic.name)
    return str(max(candidates, key=key).name)
