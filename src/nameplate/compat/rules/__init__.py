"""Pure compatibility rules: ``(record, host, options) -> list[Finding]``, stable codes.

Nothing here does I/O beyond reading nameplate's data tables (``vocab/``) and archspec's
database. Codes (documented in ``docs/compat.md``):

- CPU: ``cpu.target`` (pass: the target is the host's or an ancestor in archspec's order),
  ``cpu.features`` (pass when every feature is on the host although archspec does not order the
  two, fail naming the missing ones), ``cpu.vendor`` (warn: tuned for another vendor),
  ``cpu.family`` (fail), ``cpu.unknown-target`` / ``cpu.host-unknown`` (unknown),
  ``cpu.not-recorded`` (info).
- libc / libstdc++: ``libc.ok``, ``libc.too-old``, ``libc.family``, ``libc.in-image``,
  ``libc.host-unknown``, ``libc.not-recorded``, ``libc.build-newer`` (warn: only the build
  libc is known and the host's is older); ``cxx.ok``, ``cxx.too-old``, ``cxx.in-image``,
  ``cxx.host-unknown``, ``cxx.not-recorded``.
- Closure: ``closure.unread``, ``closure.outside`` (warn: the record lists ELF files it could
  not read, or libraries found neither in the subject nor judged by a rule; the floors may be
  too low).
- OpenMP / Fortran runtimes: ``openmp.ok``, ``fortran.ok`` (pass), ``openmp.missing``,
  ``openmp.too-old``, ``fortran.missing``, ``fortran.too-old`` (fail), ``openmp.contained``,
  ``fortran.contained``, ``openmp.in-image``, ``fortran.in-image``, ``openmp.not-used``,
  ``fortran.not-used`` (info), ``openmp.host-unknown``, ``fortran.host-unknown`` (unknown).
- MPI: ``mpi.abi`` (pass), ``mpi.abi-mismatch``, ``mpi.missing``, ``mpi.too-old``,
  ``mpi.not-shipped``, ``mpi.soname-missing`` (fail),
  ``mpi.contained`` (info), ``mpi.abi-unknown``, ``mpi.host-unknown``, ``mpi.mode-unknown``
  (unknown), ``mpi.not-used`` (info).
- GPU (one finding per GPU): ``cuda.driver`` (pass), ``cuda.minor-compat`` (warn),
  ``cuda.driver-too-old``, ``cuda.no-driver``, ``cuda.no-gpu``, ``cuda.arch``,
  ``cuda.ptx-too-new`` (fail), ``cuda.arch`` (pass), ``cuda.ptx-jit``, ``cuda.some-gpus``
  (warn), ``cuda.host-unknown``, ``cuda.version-unknown``, ``cuda.arch-not-recorded``
  (unknown); ``rocm.arch`` (pass/fail), ``rocm.some-gpus`` (warn), ``rocm.no-gpu`` (fail),
  ``rocm.host-unknown``, ``rocm.feature-unknown``, ``rocm.arch-not-recorded``,
  ``gpu.unchecked`` (unknown).
- ``os.info`` and ``kernel.info`` (info only).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..findings import CheckOptions, Rule
from .cpu import cpu_rule, runtime_components
from .gpu import cuda_min_driver, gpu_rule, ptx_isa_cuda
from .runtimes import fortran_rule, openmp_rule
from .system import (
    HPC3_MODE_KEY,
    closure_rule,
    cxx_rule,
    libc_rule,
    mpi_mode_of,
    mpi_rule,
    os_rule,
)

__all__ = [
    "HPC3_MODE_KEY",
    "RULES",
    "CheckOptions",
    "Rule",
    "closure_rule",
    "cpu_rule",
    "cuda_min_driver",
    "cxx_rule",
    "fortran_rule",
    "gpu_rule",
    "libc_rule",
    "mpi_mode_of",
    "mpi_rule",
    "openmp_rule",
    "os_rule",
    "ptx_isa_cuda",
    "runtime_components",
]


#: Every rule, in report order.
RULES: Mapping[str, Rule] = {
    "cpu": cpu_rule,
    "libc": libc_rule,
    "closure": closure_rule,
    "cxx": cxx_rule,
    "openmp": openmp_rule,
    "fortran": fortran_rule,
    "mpi": mpi_rule,
    "gpu": gpu_rule,
    "os": os_rule,
}
