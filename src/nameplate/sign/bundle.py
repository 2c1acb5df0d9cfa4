"""Sigstore bundles (``application/vnd.dev.sigstore.bundle.v0.3+json``) holding a DSSE envelope:
what ``cosign attest --new-bundle-format --key`` attaches as an OCI referrer.

A key-signed bundle carries no certificate and no transparency-log entry: its verification
material is ``publicKey.hint``, the base64 SHA-256 of the public key's DER
(SubjectPublicKeyInfo), as cosign writes it. The JSON is the protobuf JSON mapping of
``dev.sigstore.bundle.v1.Bundle`` (camelCase names, bytes as base64, empty fields omitted), so
sigstore-go and cosign read it. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import SignatureError
from .dsse import ENVELOPE_LIMIT, Envelope, envelope_from_dict

__all__ = [
    "BUNDLE_MEDIA_TYPE",
    "BUNDLE_MEDIA_TYPES",
    "Bundle",
    "make_bundle",
    "parse_bundle",
]

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
#: The bundle versions read (0.1 and 0.2 use the ``+json;version=`` form).
BUNDLE_MEDIA_TYPES = frozenset(
    {
        BUNDLE_MEDIA_TYPE,
        "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "application/vnd.dev.sigstore.bundle+json;version=0.2",
        "application/vnd.dev.sigstore.bundle+json;version=0.3",
    }
)


@dataclass(frozen=True, slots=True)
class Bundle:
    """A parsed bundle: its DSSE envelope and the public key hint (untrusted, may be empty)."""

    envelope: Envelope
    hint: str


def make_bundle(envelope: Envelope, *, hint: str) -> bytes:
    """The bundle JSON of a key-signed DSSE envelope (one signature, no key id, as cosign)."""
    doc = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": hint}},
        "dsseEnvelope": envelope.to_dict(keyid=False),
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def parse_bundle(data: bytes, *, where: str) -> Bundle:
    """Parse a bundle from untrusted bytes; only DSSE bundles are signed records."""
    if len(data) > ENVELOPE_LIMIT:
        raise SignatureError(f"{where}: {len(data)} bytes is over the {ENVELOPE_LIMIT}-byte limit")
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise SignatureError(f"{where}: not valid JSON: {exc}") from exc
    if not isinstance(doc, Mapping):
        raise SignatureError(f"{where}: a sigstore bundle is a JSON object")
    media_type = doc.get("mediaType")
    if not isinstance(media_type, str) or media_type not in BUNDLE_MEDIA_TYPES:
        raise SignatureError(f"{where}.mediaType: not a sigstore bundle: {str(media_type)[:80]!r}")
    if "dsseEnvelope" not in doc:
        raise SignatureError(f"{where}: the bundle holds no DSSE envelope (a bare signature)")
    envelope = envelope_from_dict(doc["dsseEnvelope"], where=f"{where}.dsseEnvelope")
    material = doc.get("verificationMaterial")
    hint = ""
    if isinstance(material, Mapping):
        public_key = material.get("publicKey")
        if isinstance(public_key, Mapping) and isinstance(public_key.get("hint"), str):
            hint = public_key["hint"][:512]
    return Bundle(envelope=envelope, hint=hint)
