"""Signed records: in-toto statements in DSSE envelopes, the keys that sign them and the keys
that are trusted to. Pure apart from ``gpg`` for OpenPGP keys; registries are :mod:`..oci`'s.

- :mod:`.dsse`: the DSSE envelope and its pre-authentication encoding;
- :mod:`.statement`: the in-toto statement whose predicate is a record (:data:`PREDICATE_TYPE`);
- :mod:`.bundle`: the sigstore bundle v0.3 (what ``cosign attest --new-bundle-format`` writes);
- :mod:`.keys`: PEM (ECDSA P-256, Ed25519) and OpenPGP keys, signing and trusted;
- :mod:`.openpgp`: the shape check of an OpenPGP detached signature;
- :mod:`.trust`: which trusted key signed an envelope, or why none did;
- :mod:`.record`: signing a record, checking an envelope against the attached records.

See ``docs/oci.md`` (Signed records).
"""

from __future__ import annotations

from .bundle import BUNDLE_MEDIA_TYPE, Bundle, make_bundle, parse_bundle
from .dsse import ENVELOPE_MEDIA_TYPE, INTOTO_PAYLOAD_TYPE, Envelope, parse_envelope
from .keys import PASSWORD_ENV, Signer, TrustedKeys, load_signer, load_trusted
from .record import Checked, check_envelope, predicate_key, sign_record
from .statement import PREDICATE_TYPE
from .trust import Verifier

__all__ = [
    "BUNDLE_MEDIA_TYPE",
    "ENVELOPE_MEDIA_TYPE",
    "INTOTO_PAYLOAD_TYPE",
    "PASSWORD_ENV",
    "PREDICATE_TYPE",
    "Bundle",
    "Checked",
    "Envelope",
    "Signer",
    "TrustedKeys",
    "Verifier",
    "check_envelope",
    "load_signer",
    "load_trusted",
    "make_bundle",
    "parse_bundle",
    "parse_envelope",
    "predicate_key",
    "sign_record",
]
