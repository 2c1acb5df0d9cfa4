"""nameplate's main job on the bundled example data, step by step (run by `scripts/demo`).

1. extract records from a real Spack store (made by Spack 1.3 itself, in tests/data/spack);
2. validate them against the record schema;
3. export one as CycloneDX, SPDX 2.3 and JSON-LD;
4. push the install prefix to the embedded default store (an OCI layout) and attach the record
   to it, then discover and pull it back;
5. check it against this host.

Everything is written under the output folder (default ./demo-output); the default store used
is demo-output/store (NAMEPLATE_STORE), so nothing outside it is touched.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STORE = ROOT / "tests/data/spack/spack1.3-fake-store/opt/spack"


def step(text: str) -> None:
    print(f"\n== {text}")


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("NAMEPLATE_STORE", str(out / "store"))

    import nameplate
    from nameplate import compat, formats, oci, schema
    from nameplate._io import atomic_write

    step(f"extract: {STORE.relative_to(ROOT)}")
    records = nameplate.extract_all(STORE, kind="spack")
    for record in records:
        path = out / "records" / f"{record.subject.name}.nameplate.json"
        record.dump(path)  # whole or not at all
        name = f"{record.subject.name}@{record.subject.version}"
        print(f"  {name}: {len(record.components)} components -> {path}")
    hdf5 = next(r for r in records if r.subject.name == "hdf5")

    step("validate against schemas/record/record-1.0.0.schema.json")
    for record in records:
        schema.validate(record.to_dict())
    print(f"  {len(records)} records valid")

    step("export hdf5 as CycloneDX, SPDX 2.3 and JSON-LD")
    for fmt, ext in (
        ("cyclonedx-json", "cdx.json"),
        ("spdx-2.3", "spdx.json"),
        ("jsonld", "jsonld"),
    ):
        path = out / "exports" / f"hdf5.{ext}"
        atomic_write(path, formats.encode(hdf5, fmt))
        print(f"  {fmt:<15} -> {path} ({path.stat().st_size} bytes)")

    step(f"attach to the embedded default store ({os.environ['NAMEPLATE_STORE']})")
    prefix = Path(hdf5.component(hdf5.roots[0]).prefix or "")  # type: ignore[union-attr]
    subject = oci.push(prefix, "hdf5:1.14.6")
    print(f"  pushed the install prefix as an artifact: hdf5:1.14.6 @ {subject.digest[:19]}…")
    attached = oci.attach(hdf5, "hdf5:1.14.6", exports=["cyclonedx-json"])
    print(f"  attached the record: {attached.digest[:19]}… (+ a CycloneDX export)")
    for desc in oci.discover("hdf5:1.14.6"):
        print(f"  discover: {desc.artifact_type}  {desc.digest[:19]}…")
    pulled = oci.pull("hdf5:1.14.6")
    assert pulled.to_json() == hdf5.to_json()
    print("  pull: the same record came back, byte for byte")

    step("check against this host")
    host = compat.detect()
    report = compat.check(hdf5, host)
    print(report.to_text())
    print(f"\nverdict: {report.verdict.value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "demo-output")))
