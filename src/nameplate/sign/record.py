"""Sign a record as an in-toto statement in a DSSE envelope, and check such an envelope against
the records actually attached to an image. Pure apart from the keys' own work (``gpg``).

A signature counts for a record only when all of these hold, each refusal naming its reason:

1. a trusted key signed the envelope (:class:`~.trust.Verifier`): else *changed* or *unknown key*
   (or an expired or revoked OpenPGP key);
2. the payload is an in-toto statement (``application/vnd.in-toto+json``) with the nameplate
   record predicate type;
3. its subject is the image it is attached to, by digest: else a *replay* of a statement signed
   for another image;
4. its predicate is one of the records attached to that image (equal as JSON): else it signs a
   record that is not the attached one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import SignatureError
from .dsse import INTOTO_PAYLOAD_TYPE, Envelope, Signature
from .keys import Signer
from .statement import PREDICATE_TYPE, parse_statement, record_statement
from .trust import Verifier

__all__ = ["Checked", "check_envelope", "predicate_key", "sign_record"]


def sign_record(record_json: bytes, *, name: str, digest: str, signer: Signer) -> Envelope:
    """The signed envelope of the statement "``digest`` (named ``name``) has this record"."""
    payload = record_statement(record_json, name=name, digest=digest)
    envelope = Envelope(payload_type=INTOTO_PAYLOAD_TYPE, payload=payload, signatures=())
    signature = signer.sign(envelope.signed_bytes)
    return Envelope(
        payload_type=INTOTO_PAYLOAD_TYPE, payload=payload, signatures=(Signature(sig=signature),)
    )


def _numbers(doc: Any) -> Any:
    """Whole floats as integers: a predicate that went through Go's ``map[string]any`` (cosign
    attest) carries ``1024`` as a float64, printed ``1024`` or ``1.024e+03``."""
    if isinstance(doc, float) and doc.is_integer():
        return int(doc)
    if isinstance(doc, dict):
        return {k: _numbers(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_numbers(v) for v in doc]
    return doc


def predicate_key(doc: Any) -> str:
    """A canonical text of a JSON value, to compare a predicate with a record (key order,
    spacing and the spelling of whole numbers do not matter)."""
    try:
        return json.dumps(_numbers(doc), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (RecursionError, ValueError) as exc:
        raise SignatureError(f"a predicate nested too deeply or not JSON: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Checked:
    """A signature that counts: who signed which attached record."""

    key: str
    record: str


def check_envelope(
    envelope: Envelope,
    *,
    verifier: Verifier,
    subject: str,
    records: Mapping[str, str],
    hint: str = "",
    where: str,
) -> Checked:
    """Check ``envelope`` attached to ``subject`` (a digest); ``records`` maps the canonical
    text (:func:`predicate_key`) of each attached record to its artifact digest. Returns who
    signed which record, or raises :class:`SignatureError` with the reason."""
    key = verifier.signer_of(envelope, hint=hint, where=where)
    if envelope.payload_type != INTOTO_PAYLOAD_TYPE:
        raise SignatureError(
            f"{where}: payloadType {envelope.payload_type[:80]!r} is not an in-toto statement"
        )
    statement = parse_statement(envelope.payload, where=where)
    if statement.predicate_type != PREDICATE_TYPE:
        raise SignatureError(
            f"{where}: predicateType {statement.predicate_type[:120]!r} is not a nameplate record"
        )
    if subject not in statement.digests:
        about = ", ".join(sorted(statement.digests)) or "no sha256 digest"
        raise SignatureError(
            f"{where}: replayed: the statement signed by {key} is about {about}, not {subject}"
        )
    if not isinstance(statement.predicate, dict):
        raise SignatureError(f"{where}: the predicate is not a record (not a JSON object)")
    record = records.get(predicate_key(statement.predicate))
    if record is None:
        raise SignatureError(
            f"{where}: the statement signed by {key} is about a record that is not attached "
            f"to {subject} (its predicate is not the attached record)"
        )
    return Checked(key=key, record=record)
