"""Records and official-schema validators shared by the format tests."""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Any

from nameplate import sources
from nameplate.record import Record
from nameplate.sources import ExtractOptions
from tests.conftest import DATA, FIXED_TIME, ROOT

EXAMPLES = ROOT / "examples" / "records"
VENDOR = ROOT / "schemas" / "vendor"

#: Real fixture targets (tests/data) → (kind, roots to pick, or () for all).
REAL_TARGETS: dict[str, tuple[str, Path]] = {
    "spack-store": ("spack", DATA / "spack" / "spack1.3-fake-store" / "opt" / "spack"),
    "spack-env": ("spack", DATA / "spack" / "spack1.3-fake-store" / "env"),
    "spack-cuda": ("spack", DATA / "spack" / "spack1.3-cuda-store" / "opt" / "spack"),
    "easybuild": ("easybuild", DATA / "easybuild" / "install"),
}


def example_records() -> dict[str, Record]:
    return {p.stem: Record.load(p) for p in sorted(EXAMPLES.glob("*.json"))}


@functools.cache
def real_records() -> dict[str, Record]:
    out: dict[str, Record] = {}
    for case, (kind, target) in REAL_TARGETS.items():
        if not target.exists():
            continue
        for r in sources.extract_all(target, kind=kind, options=ExtractOptions(clock=FIXED_TIME)):
            name = r.subject.name.replace("/", "_")
            out[f"{case}-{name}"] = r
    return out


@functools.cache
def image_record() -> Record | None:
    """A record of a small OCI layout (Debian OS packages + a Spack store), built at test time
    from tests/data with tests/imagetools.py (deterministic bytes, so a stable digest)."""
    import atexit
    import shutil

    from nameplate.sources import image
    from tests import imagetools as it

    store = DATA / "spack" / "spack1.3-fake-store" / "opt"
    debian = DATA / "images" / "debian12"
    if not (store.is_dir() and debian.is_dir()):
        return None
    tmp = Path(tempfile.mkdtemp(prefix="np-formats-"))
    atexit.register(shutil.rmtree, tmp, True)
    os_layer = [
        it.Member("etc/os-release", data=(debian / "os-release").read_bytes()),
        it.Member("var/lib/dpkg/status", data=(debian / "dpkg-status").read_bytes()),
    ]
    layers = [it.tar_members(os_layer), it.tar_members(it.tree_members(store, "opt/spack/opt"))]
    it.write_layout(tmp / "img", [it.Image(layers=layers)], tag="v1")
    options = ExtractOptions(clock=FIXED_TIME, platform="linux/amd64", combined=True)
    records = image.extract_all(f"oci:{tmp / 'img'}:v1", options)
    return records[0] if records else None


def all_records() -> dict[str, Record]:
    out = {**example_records(), **real_records()}
    img = image_record()
    if img is not None:
        out["image-debian12-spack"] = img
    return out


def _retrieve_cdx(uri: str) -> Any:
    from importlib.resources import files

    name = uri.rsplit("/", 1)[-1]
    return json.loads((files("cyclonedx.schema._res") / name).read_text())


@functools.cache
def cdx_validator(version: str) -> Any:
    from importlib.resources import files

    import jsonschema_rs

    res = files("cyclonedx.schema._res") / f"bom-{version}.SNAPSHOT.schema.json"
    return jsonschema_rs.validator_for(
        json.loads(res.read_text()), validate_formats=True, retriever=_retrieve_cdx
    )


@functools.cache
def vendor_validator(name: str) -> Any:
    import jsonschema_rs

    schema = json.loads((VENDOR / name).read_text())
    return jsonschema_rs.validator_for(schema, validate_formats=True)


def errors(validator: Any, doc: Any) -> list[str]:
    return [f"{list(e.instance_path)}: {e.message[:300]}" for e in validator.iter_errors(doc)][:5]


@functools.cache
def _xml_validator(version: str) -> Any:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.xml import XmlValidator

    return XmlValidator(SchemaVersion.V1_6 if version == "1.6" else SchemaVersion.V1_7)


def check_cdx_xml(data: bytes, version: str) -> list[str]:
    error = _xml_validator(version).validate_str(data.decode())
    return [] if error is None else [str(error)]


def check_spdx2_tools(data: bytes) -> list[str]:
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.spdx.json"
        path.write_bytes(data)
        document = parse_file(str(path))
    return [m.validation_message for m in validate_full_spdx_document(document)]


def check_intoto(data: bytes, slsa: bool) -> None:
    from google.protobuf import json_format
    from in_toto_attestation.predicates.provenance.v1.provenance_pb2 import Provenance
    from in_toto_attestation.v1.statement import Statement
    from in_toto_attestation.v1.statement_pb2 import Statement as StatementPb

    doc = json.loads(data)
    # ParseDict rejects unknown fields and wrong types: the protobuf definitions are the schema.
    Statement.copy_from_pb(json_format.ParseDict(doc, StatementPb())).validate()
    if slsa:
        prov = json_format.ParseDict(doc["predicate"], Provenance())
        assert prov.build_definition.build_type
        assert prov.run_details.builder.id


def spdx3_local(doc: dict[str, Any]) -> dict[str, Any]:
    """An SPDX 3 document with the vendored context inlined (nothing is fetched)."""
    ctx = json.loads((VENDOR / "spdx-3.0.1-context.jsonld").read_text())
    return {**doc, "@context": ctx["@context"]}
