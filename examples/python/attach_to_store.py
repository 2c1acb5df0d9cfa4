"""Attach a record to an artifact in an OCI layout, then discover and pull it back.

python examples/python/attach_to_store.py [LAYOUT_DIR]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from nameplate import oci
from nameplate.record import Record

ROOT = Path(__file__).resolve().parents[2]
layout = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="nameplate-layout-"))
record = Record.load(ROOT / "examples/records/spack-hdf5-openmpi-icelake.json")
binary = ROOT / "tests/data/elf/libsaxpy_a.so"
ref = f"oci:{layout}:saxpy:1.0"
oci.push(binary, ref)
oci.attach(record, ref)
for desc in oci.discover(ref):
    print(desc.artifact_type, desc.digest, desc.annotations.get("org.opencontainers.image.created"))
assert oci.pull(ref) == record
print(f"round trip through {layout} ok")
