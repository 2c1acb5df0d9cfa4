"""DSSE envelopes (Dead Simple Signing Envelope, v1.0): the pre-authentication encoding and the
JSON envelope, written and read. Pure: bytes in, bytes out.

A signature is over ``PAE(payloadType, payload)``::

    "DSSEv1" SP LEN(payloadType) SP payloadType SP LEN(payload) SP payload

(``LEN`` is the byte length in ASCII decimal). The envelope is JSON:
``{"payloadType": ..., "payload": base64, "signatures": [{"keyid": ..., "sig": base64}]}``.
``keyid`` is an unauthenticated hint: it never decides trust. An envelope read from a registry
is untrusted input: :func:`parse_envelope` bounds it and raises :class:`SignatureError` naming
the field.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import SignatureError

__all__ = [
    "ENVELOPE_LIMIT",
    "ENVELOPE_MEDIA_TYPE",
    "INTOTO_PAYLOAD_TYPE",
    "Envelope",
    "Signature",
    "b64decode",
    "envelope_from_dict",
    "pae",
    "parse_envelope",
]

#: ``payloadType`` of an in-toto Statement (what cosign and sigstore write).
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
#: Media type of a DSSE envelope as an OCI layer (cosign's ``.att`` images).
ENVELOPE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
#: Envelopes (and bundles) above this size are refused before they are parsed: a record is at
#: most 64 MiB, base64 makes it 4/3 of that.
ENVELOPE_LIMIT = 96 * 1024 * 1024
_MAX_SIGNATURES = 16
_SIG_LIMIT = 64 * 1024


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: the bytes a signature covers."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature of an envelope: raw signature bytes and the (untrusted) key id hint."""

    sig: bytes
    keyid: str = ""


@dataclass(frozen=True, slots=True)
class Envelope:
    """A DSSE envelope: the payload, its type and its signatures."""

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    @property
    def signed_bytes(self) -> bytes:
        """``PAE(payloadType, payload)``: what each signature covers."""
        return pae(self.payload_type, self.payload)

    def to_dict(self, *, keyid: bool = True) -> dict[str, Any]:
        """The JSON form. ``keyid=False`` omits empty key ids (the sigstore bundle's form)."""
        sigs: list[dict[str, str]] = []
        for s in self.signatures:
            item = {"sig": base64.b64encode(s.sig).decode()}
            if keyid or s.keyid:
                item = {"keyid": s.keyid, **item}
            sigs.append(item)
        return {
            "payloadType": self.payload_type,
            "payload": base64.b64encode(self.payload).decode(),
            "signatures": sigs,
        }

    def to_json(self) -> bytes:
        """The envelope as cosign writes it into an ``.att`` layer (keyid always present)."""
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()


def b64decode(value: object, *, where: str, limit: int = ENVELOPE_LIMIT) -> bytes:
    """Strict base64 (standard or URL-safe alphabet, as DSSE allows), bounded."""
    if not isinstance(value, str):
        raise SignatureError(f"{where}: not a base64 string")
    if len(value) > limit * 4 // 3 + 4:
        raise SignatureError(f"{where}: over the {limit}-byte limit")
    text = value.strip()
    if "-" in text or "_" in text:
        text = text.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError(f"{where}: not valid base64") from exc


def envelope_from_dict(doc: object, *, where: str) -> Envelope:
    """An :class:`Envelope` from parsed JSON (a DSSE envelope, or a bundle's ``dsseEnvelope``)."""
    if not isinstance(doc, Mapping):
        raise SignatureError(f"{where}: a DSSE envelope is a JSON object")
    payload_type = doc.get("payloadType")
    if not isinstance(payload_type, str) or not payload_type or len(payload_type) > 256:
        raise SignatureError(f"{where}.payloadType: missing or not a short string")
    payload = b64decode(doc.get("payload"), where=f"{where}.payload")
    raw = doc.get("signatures")
    if not isinstance(raw, list) or not raw:
        raise SignatureError(f"{where}.signatures: no signature")
    if len(raw) > _MAX_SIGNATURES:
        raise SignatureError(f"{where}.signatures: more than {_MAX_SIGNATURES}")
    sigs: list[Signature] = []
    for i, item in enumerate(raw):
        at = f"{where}.signatures[{i}]"
        if not isinstance(item, Mapping):
            raise SignatureError(f"{at}: not an object")
        keyid = item.get("keyid", "")
        if keyid is None:
            keyid = ""
        if not isinstance(keyid, str) or len(keyid) > 512:
            raise SignatureError(f"{at}.keyid: not a short string")
        sig = b64decode(item.get("sig"), where=f"{at}.sig", limit=_SIG_LIMIT)
        if not sig:
            raise SignatureError(f"{at}.sig: empty")
        sigs.append(Signature(sig=sig, keyid=keyid))
    return Envelope(payload_type=payload_type, payload=payload, signatures=tuple(sigs))


def parse_envelope(data: bytes, *, where: str) -> Envelope:
    """Parse a DSSE envelope from untrusted JSON bytes (bounded)."""
    if len(data) > ENVELOPE_LIMIT:
        raise SignatureError(f"{where}: {len(data)} bytes is over the {ENVELOPE_LIMIT}-byte limit")
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise SignatureError(f"{where}: not valid JSON: {exc}") from exc
    return envelope_from_dict(doc, where=where)
