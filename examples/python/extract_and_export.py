"""Extract a record from a Spack environment and export it as CycloneDX and SPDX.

python examples/python/extract_and_export.py [OUTPUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import nameplate
from nameplate import formats

ENV = Path(__file__).resolve().parents[2] / "tests/data/spack/spack1.3-fake-store/env"

out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
out.mkdir(parents=True, exist_ok=True)
record = nameplate.extract(ENV, kind="spack", roots=("hdf5",))
nameplate.validate(record)
print(f"{record.subject.name}: {len(record.components)} components, MPI {record.hpc.mpi}")
for fmt in ("cyclonedx-json", "spdx-2.3"):
    (out / f"hdf5.{fmt}.json").write_bytes(formats.encode(record, fmt))
    print(f"wrote {out / f'hdf5.{fmt}.json'}")
