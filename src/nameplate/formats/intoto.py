"""Record → in-toto Statements (v1): SLSA Provenance v1, and a wrapper around CycloneDX.

Statements are unsigned: sign them with cosign (``cosign attest --predicate``) or
sigstore-python (DSSE), as ``docs/formats/intoto.md`` shows. Mapping:

- ``subject``: the record subject with ``subject.digest`` (``sha256:<hex>``); without one, each
  root component with its digests; without those, the evidence files with digests. A record
  with none of these cannot be attested (``ExportError``).
- ``buildDefinition.buildType`` ← ``https://w3id.org/nameplate/buildtypes/<builder>/v1``;
  ``externalParameters`` ← the roots (name, version, purl, options) and the CPU target;
  ``internalParameters`` ← the HPC fields and ``build_host``; ``resolvedDependencies`` ← every
  source and patch with its URL and digests, and every non-root component by purl.
- ``runDetails.builder`` ← ``provenance.builder``; ``metadata.invocationId`` ← serial,
  ``finishedOn`` ← ``built_at``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, BinaryIO
from urllib.parse import quote

from ..errors import ExportError
from ..record import Hash, Record
from . import _common, cyclonedx
from ._common import Items, Spine

__all__ = [
    "CYCLONEDX_PREDICATE",
    "SLSA_PREDICATE",
    "STATEMENT_TYPE",
    "encode_cyclonedx",
    "encode_slsa",
    "slsa_statement",
    "statement",
    "write_cyclonedx",
    "write_slsa",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SLSA_PREDICATE = "https://slsa.dev/provenance/v1"
CYCLONEDX_PREDICATE = "https://cyclonedx.org/bom"

#: Record hash algorithm → in-toto DigestSet key.
_DIGEST_KEYS: dict[str, str] = {
    "sha256": "sha256",
    "sha224": "sha224",
    "sha384": "sha384",
    "sha512": "sha512",
    "sha512_224": "sha512_224",
    "sha512_256": "sha512_256",
    "sha3-224": "sha3_224",
    "sha3-256": "sha3_256",
    "sha3-384": "sha3_384",
    "sha3-512": "sha3_512",
    "sha1": "sha1",
    "md5": "md5",
    "spack-dag": "spackDagHash",
}


def _digest_set(hashes: Any) -> dict[str, str]:
    return {
        _DIGEST_KEYS[h.algorithm]: h.value
        for h in sorted(hashes, key=lambda h: (h.algorithm, h.value))
        if h.algorithm in _DIGEST_KEYS
    }


def _subjects(record: Record) -> list[dict[str, Any]]:
    s = record.subject
    if s.digest and ":" in s.digest:
        alg, value = s.digest.split(":", 1)
        digest = _digest_set([Hash(algorithm=alg, value=value)])
        if digest:
            return [{"name": s.ref or s.name, "digest": digest}]
    out: list[dict[str, Any]] = []
    for root in sorted(record.roots):
        c = record.component(root)
        if c is None:
            continue
        digest = _digest_set(c.hashes)
        if digest:
            out.append({"name": c.purl or c.name, "digest": digest})
    if not out:
        # Last resort: the files the record was read from, by digest.
        for ev in sorted(record.evidence, key=lambda e: (e.path, e.digest or "")):
            if ev.digest and ":" in ev.digest:
                alg, value = ev.digest.split(":", 1)
                digest = _digest_set([Hash(algorithm=alg, value=value)])
                if digest:
                    out.append({"name": ev.path, "digest": digest})
    if not out:
        raise ExportError(
            f"record {record.serial}: subject.digest is missing and no root component has a "
            "digest: an in-toto statement needs one"
        )
    return out


def statement(record: Record, predicate_type: str, predicate: dict[str, Any]) -> dict[str, Any]:
    """An in-toto Statement v1 about the record's subject."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": _subjects(record),
        "predicateType": predicate_type,
        "predicate": predicate,
    }


def _resolved(record: Record) -> Iterator[dict[str, Any]]:
    roots = set(record.roots)
    for c in _common.sorted_components(record):
        for src in c.sources:
            item: dict[str, Any] = {}
            if src.url:
                item["uri"] = src.url
            digest = _digest_set(src.checksums)
            if src.git_commit:
                digest["gitCommit"] = src.git_commit
            if digest:
                item["digest"] = digest
            item["name"] = src.filename or f"{c.name}@{c.version} source"
            item["annotations"] = {"component": c.id, "role": "source"}
            yield item
        for patch in c.patches:
            item = {}
            if patch.url:
                item["uri"] = patch.url
            digest = _digest_set(patch.checksums)
            if digest:
                item["digest"] = digest
            item["name"] = patch.name or f"{c.name}@{c.version} patch"
            item["annotations"] = {"component": c.id, "role": "patch"}
            yield item
        if c.id not in roots:
            dep: dict[str, Any] = {"name": f"{c.name}@{c.version}"}
            if c.purl:
                dep["uri"] = c.purl
            digest = _digest_set(c.hashes)
            if digest:
                dep["digest"] = digest
            dep["annotations"] = {"component": c.id, "role": "dependency", "kind": c.kind}
            yield dep


def slsa_predicate(record: Record) -> dict[str, Any]:
    """The SLSA Provenance v1 predicate of ``record``."""
    data: dict[str, Any] = _common.materialize(_lazy_slsa(record))
    return data


def _lazy_slsa(record: Record) -> Spine:
    prov = record.provenance
    builder = prov.builder
    builder_name = builder.name if builder is not None else "unknown"
    roots: list[dict[str, Any]] = []
    for root in sorted(record.roots):
        c = record.component(root)
        if c is None:
            continue
        item: dict[str, Any] = {"name": c.name, "version": c.version}
        if c.purl:
            item["purl"] = c.purl
        if c.options:
            item["options"] = _common_json(c.options)
        roots.append(item)
    external: dict[str, Any] = {"roots": roots}
    if record.hpc.target is not None:
        external["target"] = record.hpc.target.name
    internal: dict[str, Any] = {"hpc": _common.record_part(record, "hpc")}
    if prov.build_host:
        internal["buildHost"] = dict(prov.build_host)
    builder_info: dict[str, Any] = {
        "id": f"https://w3id.org/nameplate/builders/{quote(builder_name, safe='')}"
    }
    if builder is not None and (builder.version or builder.commit):
        builder_info["version"] = {
            k: v for k, v in (("version", builder.version), ("commit", builder.commit)) if v
        }
    metadata: dict[str, Any] = {"invocationId": record.serial}
    if prov.built_at:
        metadata["finishedOn"] = prov.built_at
    return Spine(
        {
            "buildDefinition": Spine(
                {
                    "buildType": (
                        f"https://w3id.org/nameplate/buildtypes/{quote(builder_name, safe='')}/v1"
                    ),
                    "externalParameters": external,
                    "internalParameters": internal,
                    "resolvedDependencies": Items(_resolved(record)),
                }
            ),
            "runDetails": {"builder": builder_info, "metadata": metadata},
        }
    )


def _common_json(value: Any) -> Any:
    from .._codec import to_jsonable

    return to_jsonable(value)


def slsa_statement(record: Record) -> dict[str, Any]:
    """The in-toto Statement carrying SLSA Provenance v1 for ``record``."""
    return statement(record, SLSA_PREDICATE, slsa_predicate(record))


def encode_slsa(record: Record) -> bytes:
    """``record`` as an in-toto Statement with an SLSA Provenance v1 predicate (JSON bytes)."""
    buf = io.BytesIO()
    write_slsa(record, buf)
    return buf.getvalue()


def write_slsa(record: Record, out: BinaryIO) -> None:
    """Write :func:`encode_slsa`'s bytes to ``out``, a dependency at a time."""
    doc = Spine(statement(record, SLSA_PREDICATE, _lazy_slsa(record)))
    _common.write_json(doc, out)


def encode_cyclonedx(record: Record) -> bytes:
    """``record`` as an in-toto Statement whose predicate is the CycloneDX 1.6 document."""
    buf = io.BytesIO()
    write_cyclonedx(record, buf)
    return buf.getvalue()


def write_cyclonedx(record: Record, out: BinaryIO) -> None:
    """Write :func:`encode_cyclonedx`'s bytes to ``out``, a component at a time."""
    predicate = cyclonedx.lazy_document(record)
    _common.write_json(Spine(statement(record, CYCLONEDX_PREDICATE, predicate)), out)
