"""The in-toto Statement a signed record is: its subject is the image (or artifact) the record
describes, by digest; its predicate is the record itself.

``predicateType`` is :data:`PREDICATE_TYPE` (``https://w3id.org/nameplate/predicates/record/v1``,
under the project's persistent namespace; ``v1`` changes only with an incompatible record). The
statement is written as in-toto Statement v1; statements of ``v0.1`` (what ``cosign attest``
writes) are read too, so a record attested with cosign itself verifies. Pure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import SignatureError

__all__ = [
    "PREDICATE_TYPE",
    "STATEMENT_TYPES",
    "STATEMENT_V1",
    "Statement",
    "parse_statement",
    "record_statement",
]

PREDICATE_TYPE = "https://w3id.org/nameplate/predicates/record/v1"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
#: Statement types read: v1 (written here) and v0.1 (``cosign attest`` 2.x writes it).
STATEMENT_TYPES = frozenset({STATEMENT_V1, "https://in-toto.io/Statement/v0.1"})
_HEX = re.compile(r"^[a-f0-9]{64}$|^[a-f0-9]{128}$")
_MAX_SUBJECTS = 1024


@dataclass(frozen=True, slots=True)
class Statement:
    """A parsed statement: the subject digests (``sha256:<hex>``), predicate type, predicate."""

    type: str
    digests: frozenset[str]
    predicate_type: str
    predicate: Any


def record_statement(record_json: bytes, *, name: str, digest: str) -> bytes:
    """The statement bytes for a record (its exact JSON bytes) about ``digest``
    (``sha256:<hex>``) named ``name`` (the repository, as cosign names it)."""
    alg, _, hexpart = digest.partition(":")
    doc = {
        "_type": STATEMENT_V1,
        "subject": [{"name": name, "digest": {alg: hexpart}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": json.loads(record_json),
    }
    return json.dumps(doc, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def parse_statement(payload: bytes, *, where: str) -> Statement:
    """Parse a (signature-checked, still untrusted) statement payload; raises
    :class:`SignatureError` naming the field."""
    try:
        doc = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise SignatureError(f"{where}: the statement is not valid JSON: {exc}") from exc
    if not isinstance(doc, Mapping):
        raise SignatureError(f"{where}: the statement is not a JSON object")
    kind = doc.get("_type")
    if not isinstance(kind, str) or kind not in STATEMENT_TYPES:
        raise SignatureError(f"{where}._type: not an in-toto Statement: {str(kind)[:80]!r}")
    predicate_type = doc.get("predicateType")
    if not isinstance(predicate_type, str) or not predicate_type:
        raise SignatureError(f"{where}.predicateType: missing")
    subjects = doc.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise SignatureError(f"{where}.subject: missing or empty")
    if len(subjects) > _MAX_SUBJECTS:
        raise SignatureError(f"{where}.subject: more than {_MAX_SUBJECTS} subjects")
    digests: set[str] = set()
    for i, s in enumerate(subjects):
        if not isinstance(s, Mapping) or not isinstance(s.get("digest"), Mapping):
            raise SignatureError(f"{where}.subject[{i}].digest: missing")
        for alg, value in s["digest"].items():
            if alg in ("sha256", "sha512") and isinstance(value, str) and _HEX.match(value):
                digests.add(f"{alg}:{value}")
    return Statement(
        type=str(kind),
        digests=frozenset(digests),
        predicate_type=predicate_type,
        predicate=doc.get("predicate"),
    )
