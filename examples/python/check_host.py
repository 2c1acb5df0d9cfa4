"""Will this record run here, or on a host described by a profile file?

python examples/python/check_host.py [RECORD] [HOST.json]
"""

from __future__ import annotations

import sys
from pathlib import Path

from nameplate import compat
from nameplate.record import Record

ROOT = Path(__file__).resolve().parents[2]
record = Record.load(
    sys.argv[1] if len(sys.argv) > 1 else ROOT / "examples/records/spack-hdf5-openmpi-icelake.json"
)
if len(sys.argv) > 2:
    host = compat.host_from_json(Path(sys.argv[2]).read_text())
else:
    host = compat.detect()
report = compat.check(record, host)
print(report.to_text())
print(f"verdict: {report.verdict.value}")
