"""Signed records in registries and layouts: sign and attach, find and check signatures.

A signature is an in-toto statement (subject: the image, by digest; predicate: the record) in
a DSSE envelope (:mod:`nameplate.sign`), stored the two ways cosign 2.x stores an attestation,
so a site's ``cosign verify-attestation`` checks nameplate's signatures:

- **sigstore bundle** (``cosign attest --new-bundle-format``): an OCI 1.1 referrer of the image,
  ``artifactType`` ``application/vnd.dev.sigstore.bundle.v0.3+json``, the empty config, one layer
  of that media type holding the bundle; annotations ``dev.sigstore.bundle.content:
  dsse-envelope``, ``dev.sigstore.bundle.predicateType`` and ``org.opencontainers.image.created``;
- **cosign ``.att`` tag** (``cosign attest`` without it): the image ``sha256-<hex>.att`` whose
  layers are DSSE envelopes (``application/vnd.dsse.envelope.v1+json``, annotations
  ``dev.cosignproject.cosign/signature: ""`` and ``predicateType``); a new one is appended, as
  cosign does. OpenPGP signatures are never written there (cosign cannot check them).

Signing happens before anything is pushed: a key that cannot sign pushes nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import sign
from ..errors import NameplateError, RegistryError, SignatureError
from ..record import Record
from ..sign.dsse import ENVELOPE_LIMIT, Envelope
from . import _wire
from . import manifest as m
from ._store import Store
from .artifacts import StoreArg, _push_artifact, _read_limited, _resolve, attach_to, open_store
from .artifacts import record_layer as _record_layer
from .layout import Layout
from .manifest import Descriptor

__all__ = [
    "FORMATS",
    "PreparedSignature",
    "SignedRecord",
    "Verification",
    "att_tag",
    "attach_signed",
    "prepare_signature",
    "pull_trusted",
    "push_signature",
    "sign_attached",
    "verify",
]

#: Where signatures are written: ``bundle`` (sigstore bundle referrer), ``att`` (cosign tag).
FORMATS = ("bundle", "att")
ATT_CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
COSIGN_SIGNATURE = "dev.cosignproject.cosign/signature"
_ZERO_TIME = "0001-01-01T00:00:00Z"
_ATT_TRIES = 5


def att_tag(digest: str) -> str:
    """cosign's attestation tag of an image: ``sha256-<hex>.att``."""
    return m.referrers_tag(digest) + ".att"


def _tagged(st: Store, tag: str) -> m.ResolvedManifest | None:
    if isinstance(st, Layout):
        return st.resolve(tag) if tag in st.tags() else None
    assert isinstance(st, _wire.Repository)
    return st.get_manifest(tag)


# -- writing ---------------------------------------------------------------------------------


def _att_layers(found: m.ResolvedManifest | None, where: str) -> list[Descriptor]:
    if found is None:
        return []
    doc = found.json
    if found.is_index or not isinstance(doc.get("layers"), list):
        raise RegistryError(f"{where}: not a cosign attestation image; not overwritten")
    return m.index_descriptors({"manifests": doc["layers"]}, where=f"{where}.layers")


def _att_manifest(st: Store, layers: list[Descriptor]) -> bytes:
    """The ``.att`` image as cosign 2.x (go-containerregistry's ``mutate.Append`` on an empty
    OCI image) builds it: a config listing the layers as ``diff_ids``."""
    config = m.canonical_json(
        {
            "architecture": "",
            "created": _ZERO_TIME,
            "history": [{"created": _ZERO_TIME} for _ in layers],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": [d.digest for d in layers]},
            "config": {},
        }
    )
    st.put_blob(io.BytesIO(config), m.digest_of(config), len(config))
    return m.canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": m.MANIFEST,
            "config": {
                "mediaType": ATT_CONFIG_TYPE,
                "digest": m.digest_of(config),
                "size": len(config),
            },
            "layers": [d.to_dict() for d in layers],
        }
    )


def _append_att(st: Store, subject: str, envelope: Envelope) -> Descriptor:
    """Append ``envelope`` to the subject's ``.att`` image (read, append, write, check; a
    concurrent writer's append is retried over, as far as the registry lets us see it)."""
    tag = att_tag(subject)
    data = envelope.to_json()
    layer = Descriptor(
        media_type=sign.ENVELOPE_MEDIA_TYPE,
        digest=m.digest_of(data),
        size=len(data),
        annotations={COSIGN_SIGNATURE: "", "predicateType": sign.PREDICATE_TYPE},
    )
    st.put_blob(io.BytesIO(data), layer.digest, layer.size)
    done = dataclasses.replace(layer, annotations={**layer.annotations, m.ANNOTATION_REF_NAME: tag})
    for attempt in range(_ATT_TRIES):
        layers = _att_layers(_tagged(st, tag), f"{st}:{tag}")
        if any(d.digest == layer.digest for d in layers):
            return done
        if attempt:
            time.sleep(0.05 * attempt)
        st.put_manifest(_att_manifest(st, [*layers, layer]), m.MANIFEST, tag=tag)
    raise RegistryError(f"{st}:{tag}: concurrent writers kept replacing the attestation image")


@dataclass(frozen=True, slots=True)
class PreparedSignature:
    """A statement signed and ready to push (signing comes before any push)."""

    envelope: Envelope
    hint: str
    formats: tuple[str, ...]


def prepare_signature(
    record_json: bytes, subject: str, name: str, signer: sign.Signer, formats: Sequence[str]
) -> PreparedSignature:
    """Sign the statement "``subject`` (named ``name``) has this record" for ``formats``
    (``att`` is dropped for an OpenPGP key, which cosign cannot check)."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise SignatureError(f"signature formats: {', '.join(unknown) or 'none'}: use bundle, att")
    wanted = tuple(f for f in FORMATS if f in formats and not (f == "att" and signer.openpgp))
    envelope = sign.sign_record(record_json, name=name, digest=subject, signer=signer)
    return PreparedSignature(envelope=envelope, hint=signer.hint, formats=wanted)


def push_signature(
    st: Store, subject: Descriptor, prepared: PreparedSignature, created: str
) -> list[Descriptor]:
    """Push a prepared signature next to ``subject``: the bundle referrer, the ``.att`` layer."""
    out: list[Descriptor] = []
    if "bundle" in prepared.formats:
        out.append(
            _push_artifact(
                st,
                artifact_type=sign.BUNDLE_MEDIA_TYPE,
                layer_type=sign.BUNDLE_MEDIA_TYPE,
                payload=sign.make_bundle(prepared.envelope, hint=prepared.hint),
                title="nameplate-record.sigstore.json",
                subject=subject,
                annotations={
                    m.ANNOTATION_CREATED: created,
                    "dev.sigstore.bundle.content": "dsse-envelope",
                    "dev.sigstore.bundle.predicateType": sign.PREDICATE_TYPE,
                },
                compat=False,
            )
        )
    if "att" in prepared.formats:
        out.append(_append_att(st, subject.digest, prepared.envelope))
    return out


def attach_signed(
    record: Record,
    ref: str,
    *,
    signer: sign.Signer,
    formats: Sequence[str] = FORMATS,
    exports: Sequence[str] = (),
    compat: bool = False,
    store: StoreArg = None,
    platform: str | None = None,
    transport: _wire.Transport | None = None,
    force: bool = False,
) -> tuple[Descriptor, list[Descriptor]]:
    """Attach ``record`` to ``ref`` as :func:`~.artifacts.attach` does (the same subject
    check, the same ``force``), signed by ``signer``.

    The statement is signed first: when the key cannot sign, nothing is pushed. ``formats``:
    where the signature goes (:data:`FORMATS`; an OpenPGP signature only in a bundle). Returns
    the record artifact's descriptor and those of the signature artifacts."""
    st, r = open_store(ref, store=store, transport=transport)
    resolved = _resolve(st, r, platform)
    if not force:
        m.check_subject(record, resolved, str(r))
    subject = resolved.descriptor()
    prepared = prepare_signature(record.to_json().encode(), subject.digest, r.repo, signer, formats)
    desc = attach_to(st, subject, record, exports, compat=compat)
    return desc, push_signature(st, subject, prepared, record.provenance.extracted_at)


def sign_attached(
    st: Store,
    subject: Descriptor,
    record_json: bytes,
    *,
    name: str,
    signer: sign.Signer,
    formats: Sequence[str] = FORMATS,
    created: str,
) -> list[Descriptor]:
    """Sign a record already attached to ``subject`` (its exact bytes) and push the signature."""
    prepared = prepare_signature(record_json, subject.digest, name, signer, formats)
    return push_signature(st, subject, prepared, created)


# -- reading and checking ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedRecord:
    """A record attached to the image, and the trusted keys whose signatures count for it."""

    descriptor: Descriptor
    data: bytes
    signers: tuple[str, ...]
    via: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Verification:
    """Every record attached to ``ref`` with who signed it, and every refused signature."""

    ref: str
    subject: str
    records: tuple[SignedRecord, ...]
    refusals: tuple[tuple[str, str], ...]

    @property
    def trusted(self) -> tuple[SignedRecord, ...]:
        """The records signed by at least one trusted key (oldest first)."""
        return tuple(r for r in self.records if r.signers)

    @property
    def newest(self) -> SignedRecord | None:
        """The newest trusted record (by ``created``), or None."""
        trusted = self.trusted
        return trusted[-1] if trusted else None

    @property
    def why_not(self) -> str:
        """One line: why no record counts (empty when one does)."""
        if self.trusted:
            return ""
        if not self.records:
            return f"{self.ref}: no nameplate record is attached"
        n = len(self.records)
        text = (
            f"{self.ref}: none of the {n} attached record{'s' * (n > 1)} is signed by a trusted key"
        )
        if not self.refusals:
            return text + " (no signature is attached)"
        shown = "; ".join(reason for _, reason in self.refusals[:3])
        more = f" (+{len(self.refusals) - 3} more)" if len(self.refusals) > 3 else ""
        return f"{text}: {shown}{more}"

    def to_dict(self) -> dict[str, Any]:
        """JSON data for ``nameplate verify -f json``."""
        return {
            "ref": self.ref,
            "subject": self.subject,
            "verified": bool(self.trusted),
            "records": [
                {
                    "digest": r.descriptor.digest,
                    "created": r.descriptor.created or None,
                    "signed_by": list(r.signers),
                    "via": list(r.via),
                }
                for r in self.records
            ],
            "refused": [{"signature": w, "reason": why} for w, why in self.refusals],
        }


def _blob(st: Store, desc: Descriptor, where: str) -> bytes:
    if desc.size > ENVELOPE_LIMIT:
        raise SignatureError(f"{where}: over the {ENVELOPE_LIMIT}-byte limit")
    data = _read_limited(st.open_blob(desc.digest), ENVELOPE_LIMIT, where)
    if m.digest_of(data) != desc.digest:
        raise RegistryError(f"{where}: blob does not match its digest")
    return data


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A signature found next to the subject: its envelope, or why it cannot be read."""

    where: str
    envelope: Envelope | None = None
    hint: str = ""
    unreadable: str = ""


def _candidates(st: Store, subject: str, refs: list[Descriptor], repo: str) -> list[_Candidate]:
    """Every signature attached to ``subject`` that claims to be a nameplate record's (by the
    annotations; the signed statement decides), read and parsed, bounded."""
    out: list[_Candidate] = []
    for d in refs:
        if d.artifact_type not in sign.bundle.BUNDLE_MEDIA_TYPES:
            continue
        claimed = d.annotations.get("dev.sigstore.bundle.predicateType")
        if claimed not in (None, sign.PREDICATE_TYPE):
            continue
        where = f"{repo}@{d.digest} (sigstore bundle)"
        try:
            doc = st.resolve(d.digest).json
            layers = m.index_descriptors({"manifests": doc.get("layers", [])}, where=where)
            if len(layers) != 1 or not layers[0].media_type.startswith(
                "application/vnd.dev.sigstore.bundle"
            ):
                raise SignatureError(f"{where}: not one sigstore bundle layer")
            bundle = sign.parse_bundle(_blob(st, layers[0], where), where=where)
        except (SignatureError, RegistryError) as exc:
            out.append(_Candidate(where, unreadable=str(exc)))
            continue
        out.append(_Candidate(where, bundle.envelope, bundle.hint))
    tag = att_tag(subject)
    try:
        att_layers = _att_layers(_tagged(st, tag), f"{repo}:{tag}")
    except RegistryError as exc:
        out.append(_Candidate(f"{repo}:{tag} (cosign .att)", unreadable=str(exc)))
        att_layers = []
    if att_layers:
        for i, layer in enumerate(att_layers):
            if layer.media_type != sign.ENVELOPE_MEDIA_TYPE:
                continue
            if layer.annotations.get("predicateType") not in (None, sign.PREDICATE_TYPE):
                continue
            where = f"{repo}:{tag} layer {i} (cosign .att)"
            try:
                envelope = sign.parse_envelope(_blob(st, layer, where), where=where)
            except (SignatureError, RegistryError) as exc:
                out.append(_Candidate(where, unreadable=str(exc)))
                continue
            out.append(_Candidate(where, envelope))
    return out


def verify(
    ref: str,
    trusted: sign.TrustedKeys,
    *,
    platform: str | None = None,
    store: StoreArg = None,
    transport: _wire.Transport | None = None,
) -> Verification:
    """Which records attached to ``ref`` are signed by which of the ``trusted`` keys; every
    signature that does not count is listed with its reason (changed, unknown key, replayed
    for another image, a predicate that is not the attached record)."""
    st, r = open_store(ref, store=store, transport=transport)
    subject = _resolve(st, r, platform).digest
    refs = st.referrers(subject)
    record_descs = sorted(
        (d for d in refs if d.artifact_type in m.RECORD_TYPES), key=lambda d: (d.created, d.digest)
    )
    records: list[tuple[Descriptor, bytes]] = []
    by_text: dict[str, str] = {}
    for d in record_descs:
        _, data = _record_layer(st, str(r), d.digest)
        records.append((d, data))
        with contextlib.suppress(ValueError, SignatureError):
            by_text.setdefault(sign.predicate_key(_json(data)), d.digest)
    signers: dict[str, list[str]] = {d.digest: [] for d, _ in records}
    via: dict[str, list[str]] = {d.digest: [] for d, _ in records}
    refusals: list[tuple[str, str]] = []
    with sign.Verifier(trusted) as verifier:
        for found in _candidates(st, subject, refs, r.repo):
            if found.envelope is None:
                refusals.append((found.where, found.unreadable))
                continue
            try:
                checked = sign.check_envelope(
                    found.envelope,
                    verifier=verifier,
                    subject=subject,
                    records=by_text,
                    hint=found.hint,
                    where=found.where,
                )
            except NameplateError as exc:
                refusals.append((found.where, str(exc)))
                continue
            if checked.key not in signers[checked.record]:
                signers[checked.record].append(checked.key)
            form = "cosign .att" if found.where.endswith("(cosign .att)") else "sigstore bundle"
            if form not in via[checked.record]:
                via[checked.record].append(form)
    return Verification(
        ref=str(r),
        subject=subject,
        records=tuple(
            SignedRecord(
                descriptor=d,
                data=data,
                signers=tuple(signers[d.digest]),
                via=tuple(via[d.digest]),
            )
            for d, data in records
        ),
        refusals=tuple(refusals),
    )


def _json(data: bytes) -> Any:
    import json

    try:
        return json.loads(data)
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(str(exc)) from exc


def pull_trusted(
    ref: str,
    trusted: sign.TrustedKeys,
    *,
    platform: str | None = None,
    store: StoreArg = None,
    transport: _wire.Transport | None = None,
) -> tuple[Record | None, str]:
    """The newest record attached to ``ref`` that a trusted key signed, and who signed it; or
    None and the reason no record counts (unsigned, unknown key, refused signatures)."""
    from .artifacts import record_from_bytes

    v = verify(ref, trusted, platform=platform, store=store, transport=transport)
    best = v.newest
    if best is None:
        return None, v.why_not
    record = record_from_bytes(best.data, where=f"{ref}@{best.descriptor.digest}: record")
    return record, f"signed by {', '.join(best.signers)}"
