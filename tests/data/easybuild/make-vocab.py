"""Regenerate vocab/easybuild-toolchains.json from EasyBuild 5.4.1 (run where it is installed).

    .venv/bin/pip install easybuild-framework==5.4.1 easybuild-easyconfigs==5.4.1
    .venv/bin/python tests/data/easybuild/make-vocab.py .venv/easybuild/easyconfigs

1. ``constants``: the *values* of EasyBuild's easyconfig and template constants, taken from
   ``easybuild.framework.easyconfig.{constants,templates}`` (data, not code). Host-dependent
   ones (``ARCH``, ``OS_*``, ``HOME``, ``SYS_PYTHON_VERSION``) are left out: the reader treats
   ``ARCH`` as an input and the others as unresolved.
2. ``toolchains``: every toolchain easyconfig (``easyblock = 'Toolchain'``, plus the GCC and
   iccifort-style bundles) of the collection, read with nameplate's own ast reader (never
   executed), as ``name/version`` → its dependencies.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "src"))

HOST_DEPENDENT = {"ARCH", "HOME", "OS_TYPE", "OS_NAME", "OS_VERSION", "SYS_PYTHON_VERSION"}

# roles of toolchain parts, by EasyBuild software name (knowledge, not generated)
ROLES = {
    "GCCcore": {"role": "compiler", "compiler": "gcc", "languages": ["c", "c++", "fortran"]},
    "GCC": {"role": "compiler", "compiler": "gcc", "languages": ["c", "c++", "fortran"]},
    "intel-compilers": {
        "role": "compiler",
        "compiler": "oneapi",
        "languages": ["c", "c++", "fortran"],
    },
    "iccifort": {"role": "compiler", "compiler": "intel", "languages": ["c", "c++", "fortran"]},
    "icc": {"role": "compiler", "compiler": "intel", "languages": ["c", "c++"]},
    "ifort": {"role": "compiler", "compiler": "intel", "languages": ["fortran"]},
    "NVHPC": {"role": "compiler", "compiler": "nvhpc", "languages": ["c", "c++", "fortran"]},
    "LLVM": {"role": "compiler", "compiler": "clang", "languages": ["c", "c++"]},
    "Clang": {"role": "compiler", "compiler": "clang", "languages": ["c", "c++"]},
    "AOCC": {"role": "compiler", "compiler": "aocc", "languages": ["c", "c++", "fortran"]},
    "OpenMPI": {"role": "mpi", "mpi": "openmpi"},
    "impi": {"role": "mpi", "mpi": "intel-mpi"},
    "MPICH": {"role": "mpi", "mpi": "mpich"},
    "MVAPICH2": {"role": "mpi", "mpi": "mvapich2"},
    "MVAPICH": {"role": "mpi", "mpi": "mvapich"},
    "psmpi": {"role": "mpi", "mpi": "psmpi"},
    "NVHPC-OpenMPI": {"role": "mpi", "mpi": "openmpi"},
    "FlexiBLAS": {"role": "blas", "provides": ["blas", "lapack"]},
    "OpenBLAS": {"role": "blas", "provides": ["blas", "lapack"]},
    "BLIS": {"role": "blas", "provides": ["blas"]},
    "AOCL-BLAS": {"role": "blas", "provides": ["blas"]},
    "imkl": {"role": "blas", "provides": ["blas", "lapack", "fft"]},
    "LAPACK": {"role": "lapack", "provides": ["lapack"]},
    "ScaLAPACK": {"role": "scalapack", "provides": ["scalapack"]},
    "FFTW": {"role": "fft", "provides": ["fft"]},
    "FFTW.MPI": {"role": "fft", "provides": ["fft-mpi"]},
    "imkl-FFTW": {"role": "fft", "provides": ["fft-mpi"]},
    "CUDA": {"role": "gpu", "provides": ["cuda"]},
    "binutils": {"role": "tool"},
}


def main(collection: Path) -> None:
    from easybuild.framework.easyconfig import constants as ec_constants
    from easybuild.framework.easyconfig import templates as ec_templates

    from nameplate.sources import _easyconfig

    consts: dict[str, object] = {}
    for key, (value, _doc) in ec_constants.EASYCONFIG_CONSTANTS.items():
        if key not in HOST_DEPENDENT:
            consts[key] = value
    for key, (value, _doc) in ec_templates.TEMPLATE_CONSTANTS.items():
        consts[key] = value
    for alias, key in ec_templates.ALTERNATIVE_EASYCONFIG_TEMPLATE_CONSTANTS.items():
        consts[alias] = consts[key]
    consts["_software_versions"] = dict(ec_templates.TEMPLATE_SOFTWARE_VERSIONS)
    out_path = ROOT / "vocab" / "easybuild-toolchains.json"
    table = json.loads(out_path.read_text()) if out_path.exists() else {}
    table["constants"] = consts
    # the reader needs the constants to read the toolchain easyconfigs
    out_path.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    _easyconfig.constants.cache_clear()

    toolchains: dict[str, list[dict[str, str]]] = {}
    for path in sorted(collection.rglob("*.eb")):
        text = path.read_text(encoding="utf-8")
        if "Toolchain" not in text and "moduleclass = 'toolchain'" not in text:
            continue
        ec = _easyconfig.parse_easyconfig(text, where=str(path))
        if ec.get("easyblock") != "Toolchain" and ec.get("moduleclass") != "toolchain":
            continue
        name, version = ec.get("name"), ec.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            continue
        parts: list[dict[str, str]] = []
        for dep in ec.get("dependencies") or []:
            if not isinstance(dep, (list, tuple)) or len(dep) < 2:
                continue
            entry = {"name": str(dep[0]), "version": str(dep[1])}
            if len(dep) > 2 and dep[2]:
                entry["versionsuffix"] = str(dep[2])
            if len(dep) > 3:
                tc = dep[3]
                if isinstance(tc, dict):
                    entry["toolchain"] = f"{tc.get('name')}/{tc.get('version')}"
                elif isinstance(tc, (list, tuple)) and len(tc) == 2:
                    entry["toolchain"] = f"{tc[0]}/{tc[1]}"
                elif tc is True:
                    entry["toolchain"] = "system/system"
            parts.append(entry)
        toolchains[f"{name}/{version}"] = parts
    table["source"] = "easybuild-easyconfigs 5.4.1 and easybuild-framework 5.4.1"
    table["roles"] = ROLES
    table["toolchains"] = toolchains
    out_path.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"{out_path}: {len(consts)} constants, {len(toolchains)} toolchains")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
