"""Pure compatibility rules: ``(record, host, options) -> list[Finding]``, stable codes.

Nothing here does I/O beyond reading nameplate's data tables (``vocab/``) and archspec's
database. Codes (documented in ``docs/compat.md``):

- CPU: ``cpu.target`` (pass: the target is the host's or an ancestor in archspec's order),
  ``cpu.features`` (pass when every feature is on the host although archspec does not order the
  two, fail naming the missing ones), ``cpu.vendor`` (warn: tuned for another vendor),
  ``cpu.family`` (fail), ``cpu.unknown-target`` / ``cpu.host-unknown`` (unknown),
  ``cpu.not-recorded`` (info).
- libc / libstdc++: ``libc.ok``, ``libc.too-old``, ``libc.family``, ``libc.in-image``,
  ``libc.host-unknown``, ``libc.not-recorded``; ``cxx.ok``, ``cxx.too-old``, ``cxx.in-image``,
  ``cxx.host-unknown``, ``cxx.not-recorded``.
- MPI: ``mpi.abi`` (pass), ``mpi.abi-mismatch``, ``mpi.missing``, ``mpi.too-old`` (fail),
  ``mpi.contained`` (info), ``mpi.abi-unknown``, ``mpi.host-unknown``, ``mpi.mode-unknown``
  (unknown), ``mpi.not-used`` (info).
- GPU: ``cuda.driver`` (pass), ``cuda.minor-compat`` (warn), ``cuda.driver-too-old``,
  ``cuda.no-driver``, ``cuda.no-gpu``, ``cuda.arch``, ``cuda.ptx-too-new`` (fail), ``cuda.arch``
  (pass), ``cuda.ptx-jit`` (warn), ``cuda.host-unknown``, ``cuda.version-unknown`` (unknown),
  ``cuda.arch-not-recorded`` (info); ``rocm.arch`` (pass/fail), ``rocm.no-gpu`` (fail),
  ``gpu.unchecked`` (unknown).
- ``os.info`` and ``kernel.info`` (info only).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..findings import CheckOptions, Rule
from .cpu import cpu_rule, runtime_components
from .gpu import cuda_min_driver, gpu_rule
from .system import HPC3_MODE_KEY, cxx_rule, libc_rule, mpi_mode_of, mpi_rule, os_rule

__all__ = [
    "HPC3_MODE_KEY",
    "RULES",
    "CheckOptions",
    "Rule",
    "cpu_rule",
    "cuda_min_driver",
    "cxx_rule",
    "gpu_rule",
    "libc_rule",
    "mpi_mode_of",
    "mpi_rule",
    "os_rule",
    "runtime_components",
]


#: Every rule, in report order.
RULES: Mapping[str, Rule] = {
    "cpu": cpu_rule,
    "libc": libc_rule,
    "cxx": cxx_rule,
    "mpi": mpi_rule,
    "gpu": gpu_rule,
    "os": os_rule,
}
