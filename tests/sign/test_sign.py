"""The signing library without a registry: DSSE, statements, bundles, PEM and OpenPGP keys,
and every refusal of :func:`nameplate.sign.check_envelope`."""

from __future__ import annotations

import base64
import json
import warnings
from pathlib import Path

import pytest

from nameplate import sign
from nameplate._gpg import detach_sign
from nameplate.errors import SignatureError
from nameplate.sign.dsse import Envelope, Signature, pae
from nameplate.sign.keys import key_hint
from nameplate.sign.openpgp import is_detached_signature
from nameplate.sign.statement import parse_statement
from tests.oci.conftest import make_record
from tests.sign.keys import GpgHome, pem_pair

SUBJECT = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32


def _record_json(n: int = 0) -> bytes:
    return make_record(n).to_json().encode()


def _records(*ns: int) -> dict[str, str]:
    return {sign.predicate_key(json.loads(_record_json(n))): f"record-{n}" for n in ns}


def _check(envelope: Envelope, trusted: sign.TrustedKeys, **kw: object) -> sign.Checked:
    with sign.Verifier(trusted) as v:
        args: dict[str, object] = {"subject": SUBJECT, "records": _records(0), "where": "sig"}
        args.update(kw)
        return sign.check_envelope(envelope, verifier=v, **args)  # type: ignore[arg-type]


def test_pae_is_the_dsse_test_vector() -> None:
    # the example of the DSSE specification (protocol.md)
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


@pytest.mark.parametrize("kind", ["ecdsa", "ed25519"])
def test_sign_and_check_with_pem_keys(tmp_path: Path, kind: str) -> None:
    private, public = pem_pair(tmp_path, "site", kind)
    signer = sign.load_signer(str(private))
    env = sign.sign_record(_record_json(0), name="reg/app", digest=SUBJECT, signer=signer)
    assert env.payload_type == "application/vnd.in-toto+json"
    checked = _check(env, sign.load_trusted([public]))
    assert checked == sign.Checked(key=str(public), record="record-0")
    # the envelope as JSON and back
    again = sign.parse_envelope(env.to_json(), where="env")
    assert again == env
    assert json.loads(env.to_json())["signatures"] == [
        {"keyid": "", "sig": base64.b64encode(env.signatures[0].sig).decode()}
    ]


def test_statement_is_in_toto_v1_and_parses_strictly() -> None:
    from google.protobuf import json_format
    from in_toto_attestation.v1.statement import Statement
    from in_toto_attestation.v1.statement_pb2 import Statement as StatementPb

    payload = sign.statement.record_statement(_record_json(0), name="reg/app", digest=SUBJECT)
    doc = json.loads(payload)
    # sigstore-go reads the statement with protojson, which refuses unknown fields: so does this
    Statement.copy_from_pb(json_format.Parse(payload, StatementPb())).validate()
    assert doc["_type"] == "https://in-toto.io/Statement/v1"
    assert doc["predicateType"] == sign.PREDICATE_TYPE
    assert doc["subject"] == [{"name": "reg/app", "digest": {"sha256": "ab" * 32}}]
    assert doc["predicate"] == json.loads(_record_json(0))


def test_bundle_is_the_sigstore_protobuf_shape(tmp_path: Path) -> None:
    with warnings.catch_warnings():  # pydantic deprecations inside the generated models
        warnings.simplefilter("ignore", DeprecationWarning)
        from sigstore_protobuf_specs.dev.sigstore.bundle.v1 import Bundle

    private, public = pem_pair(tmp_path, "site")
    signer = sign.load_signer(str(private))
    env = sign.sign_record(_record_json(0), name="reg/app", digest=SUBJECT, signer=signer)
    data = sign.make_bundle(env, hint=signer.hint)
    doc = json.loads(data)
    parsed = Bundle.from_dict(doc)
    # the protobuf model reads every field and writes the same JSON back: no unknown names
    assert parsed.to_dict() == doc
    assert parsed.dsse_envelope is not None and parsed.dsse_envelope.payload == env.payload
    assert parsed.dsse_envelope.signatures[0].sig == env.signatures[0].sig
    assert doc["verificationMaterial"] == {"publicKey": {"hint": signer.hint}}
    # cosign's hint: base64 SHA-256 of the DER public key
    der = sign.load_trusted([public]).pem[0].der
    assert signer.hint == key_hint(der)
    back = sign.parse_bundle(data, where="bundle")
    assert back.envelope == env and back.hint == signer.hint


def test_a_cosign_v01_statement_with_our_predicate_is_read() -> None:
    stmt = json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": sign.PREDICATE_TYPE,
            "subject": [{"name": "reg/app", "digest": {"sha256": "ab" * 32}}],
            "predicate": {"x": 1},
        }
    ).encode()
    assert parse_statement(stmt, where="s").digests == {SUBJECT}


def test_refusals(tmp_path: Path) -> None:
    private, public = pem_pair(tmp_path, "site")
    _, other_public = pem_pair(tmp_path, "other", "ed25519")
    signer = sign.load_signer(str(private))
    trusted = sign.load_trusted([public])
    env = sign.sign_record(_record_json(0), name="reg/app", digest=SUBJECT, signer=signer)

    # a wrong key
    with pytest.raises(SignatureError, match="not signed by a trusted key"):
        _check(env, sign.load_trusted([other_public]))
    # a changed envelope: the payload edited after signing (the hint names our key)
    changed = Envelope(
        payload_type=env.payload_type,
        payload=env.payload.replace(b"zen3", b"zen4"),
        signatures=env.signatures,
    )
    with pytest.raises(SignatureError, match=r"BAD signature by trusted key .*changed"):
        _check(changed, trusted, hint=signer.hint)
    with pytest.raises(SignatureError, match="not signed by a trusted key"):
        _check(changed, trusted)
    # a changed payload type is a changed envelope too (PAE covers it)
    retyped = Envelope(payload_type="text/plain", payload=env.payload, signatures=env.signatures)
    with pytest.raises(SignatureError, match="not signed by a trusted key"):
        _check(retyped, trusted)
    # replay: a valid statement signed for another image
    with pytest.raises(SignatureError, match=f"replayed: .* is about sha256:ab.*, not {OTHER}"):
        _check(env, trusted, subject=OTHER)
    # a valid statement whose predicate is not the attached record (a changed record)
    with pytest.raises(SignatureError, match="not attached"):
        _check(env, trusted, records=_records(1))
    # a signed statement of another predicate type
    other = Envelope(
        payload_type=env.payload_type,
        payload=env.payload.replace(
            sign.PREDICATE_TYPE.encode(), b"https://slsa.dev/provenance/v1"
        ),
        signatures=(),
    )
    other = Envelope(
        payload_type=other.payload_type,
        payload=other.payload,
        signatures=(Signature(sig=signer.sign(other.signed_bytes)),),
    )
    with pytest.raises(SignatureError, match="is not a nameplate record"):
        _check(other, trusted)


@pytest.mark.parametrize(
    ("kind", "message"),
    [("rsa", "RSA.* key: nameplate signs with ECDSA P-256 or Ed25519"),
     ("p384", "secp384r1 key: nameplate signs with ECDSA P-256 or Ed25519")],
)  # fmt: skip
def test_other_key_types_are_refused(tmp_path: Path, kind: str, message: str) -> None:
    private, public = pem_pair(tmp_path, kind, kind)
    with pytest.raises(SignatureError, match=message):
        sign.load_signer(str(private))
    with pytest.raises(SignatureError, match="nameplate verifies ECDSA P-256 and Ed25519"):
        sign.load_trusted([public])


def test_key_files_are_checked(tmp_path: Path) -> None:
    private, public = pem_pair(tmp_path, "enc", password=b"s3cret")
    with pytest.raises(SignatureError, match=r"encrypted: set \$NAMEPLATE_KEY_PASSWORD"):
        sign.load_signer(str(private), env={})
    with pytest.raises(SignatureError, match="wrong password"):
        sign.load_signer(str(private), env={"NAMEPLATE_KEY_PASSWORD": "nope"})
    signer = sign.load_signer(str(private), env={"NAMEPLATE_KEY_PASSWORD": "s3cret"})
    assert signer.sign(b"x")
    with pytest.raises(SignatureError, match="a private key: give the public key"):
        sign.load_trusted([private])
    with pytest.raises(SignatureError, match="not a PEM private key"):
        sign.load_signer(str(public))
    cosign = tmp_path / "cosign.key"
    cosign.write_text(
        "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nxx\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
    )
    with pytest.raises(SignatureError, match="cosign-encrypted key"):
        sign.load_signer(str(cosign))
    big = tmp_path / "big.pub"
    big.write_bytes(b"x" * (1024 * 1024 + 1))
    with pytest.raises(SignatureError, match="limit"):
        sign.load_trusted([big])
    with pytest.raises(SignatureError, match="cannot read"):
        sign.load_trusted([tmp_path / "missing.pub"])
    # a keyring of several PEM keys
    _, second = pem_pair(tmp_path, "second", "ed25519")
    ring = tmp_path / "ring.pem"
    ring.write_bytes(public.read_bytes() + second.read_bytes())
    assert len(sign.load_trusted([ring]).pem) == 2
    with pytest.raises(SignatureError, match="no trusted key"):
        sign.Verifier(sign.TrustedKeys())


def test_openpgp_sign_and_verify(tmp_path: Path, gpg_home: GpgHome) -> None:
    fpr = gpg_home.generate("Site Key")
    public = gpg_home.export(fpr, tmp_path / "site.asc")
    signer = sign.load_signer(f"gpg:{fpr}")
    env = sign.sign_record(_record_json(0), name="reg/app", digest=SUBJECT, signer=signer)
    assert is_detached_signature(env.signatures[0].sig)
    checked = _check(env, sign.load_trusted([public]))
    assert checked.key == f"{public} ({fpr})"
    # a binary keyring of two keys
    fpr2 = gpg_home.generate("Other Key")
    ring = tmp_path / "ring.gpg"
    ring.write_bytes(gpg_home.run("--export", fpr, fpr2))
    assert _check(env, sign.load_trusted([ring])).key == f"{ring} ({fpr})"
    # a wrong OpenPGP key
    other = gpg_home.export(fpr2, tmp_path / "other.asc")
    with pytest.raises(SignatureError, match="not among the given public keys"):
        _check(env, sign.load_trusted([other]))
    # a changed envelope
    changed = Envelope(env.payload_type, env.payload.replace(b"zen3", b"zen4"), env.signatures)
    with pytest.raises(SignatureError, match="BAD signature"):
        _check(changed, sign.load_trusted([public]))


@pytest.mark.parametrize("what", ["expired", "revoked"])
def test_expired_and_revoked_openpgp_keys_are_refused(
    tmp_path: Path, gpg_home: GpgHome, what: str
) -> None:
    fpr = gpg_home.generate("Old Key", created="20250101T000000")
    env = sign.sign_record(
        _record_json(0), name="reg/app", digest=SUBJECT, signer=sign.load_signer(f"gpg:{fpr}")
    )
    assert _check(env, sign.load_trusted([gpg_home.export(fpr, tmp_path / "ok.asc")]))
    gpg_home.expire(fpr) if what == "expired" else gpg_home.revoke(fpr)
    public = gpg_home.export(fpr, tmp_path / f"{what}.asc")
    reason = "has expired" if what == "expired" else "has been revoked"
    with pytest.raises(SignatureError, match=f"OpenPGP key {fpr}, which {reason}"):
        _check(env, sign.load_trusted([public]))


def test_openpgp_signing_failures_are_one_line(gpg_home: GpgHome) -> None:
    with pytest.raises(SignatureError, match="gpg could not sign with NOSUCHKEY"):
        detach_sign(b"x", "NOSUCHKEY", where="gpg:NOSUCHKEY")
    with pytest.raises(SignatureError, match="not an OpenPGP key name"):
        detach_sign(b"x", "--armor", where="gpg:--armor")


def test_an_openpgp_message_is_not_a_detached_signature(gpg_home: GpgHome) -> None:
    fpr = gpg_home.generate("Key")
    signed_message = gpg_home.run("--local-user", fpr, "--sign", data=b"other content")
    detached = gpg_home.run("--local-user", fpr, "--detach-sign", data=b"x")
    clear = gpg_home.run("--local-user", fpr, "--clearsign", data=b"x")
    assert is_detached_signature(detached)
    assert not is_detached_signature(signed_message)
    assert not is_detached_signature(clear)
    assert not is_detached_signature(detached + detached)
