"""Signing keys and trusted public keys.

- **PEM** (``cryptography``): ECDSA P-256 (signatures ASN.1 DER over SHA-256, as cosign makes
  them) and Ed25519. Private keys are PKCS#8 or SEC1 PEM, encrypted ones with the password in
  ``$NAMEPLATE_KEY_PASSWORD`` (never an argument: it would show in ``ps``). A key of another
  type is refused, naming it.
- **OpenPGP** through ``gpg``: ``gpg:KEY`` signs with a secret key of the user's keyring
  (``$GNUPGHOME``), e.g. a site's Spack build-cache key; public keys (armored or binary, one or
  a keyring of several) verify in a throw-away keyring.

Key files are read bounded; a private key given where a public key is expected is refused (it
would not be a secret any more once copied to verifiers).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..errors import SignatureError

__all__ = [
    "KEY_FILE_LIMIT",
    "PASSWORD_ENV",
    "OpenPgpSigner",
    "PemPublicKey",
    "PemSigner",
    "Signer",
    "TrustedKeys",
    "key_hint",
    "load_signer",
    "load_trusted",
]

KEY_FILE_LIMIT = 1024 * 1024
PASSWORD_ENV = "NAMEPLATE_KEY_PASSWORD"  # noqa: S105 - the name of a variable
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.S)
_PGP_ARMOR = b"-----BEGIN PGP PUBLIC KEY BLOCK-----"


def key_hint(public_der: bytes) -> str:
    """cosign's hint for a public key: standard base64 of SHA-256 of its DER
    SubjectPublicKeyInfo (``verificationMaterial.publicKey.hint`` of a bundle)."""
    return base64.b64encode(hashlib.sha256(public_der).digest()).decode()


class Signer(Protocol):
    """What signs a DSSE envelope."""

    @property
    def name(self) -> str:
        """How the key is named in messages."""
        ...

    @property
    def hint(self) -> str:
        """The bundle's ``publicKey.hint``."""
        ...

    @property
    def openpgp(self) -> bool:
        """True for an OpenPGP key (cosign cannot verify those)."""
        ...

    def sign(self, data: bytes) -> bytes:
        """The raw signature of ``data``; raises SignatureError."""
        ...

    def trusted(self) -> TrustedKeys:
        """Its own public key, as trusted keys (to tell what it signed already)."""
        ...


def _read(path: str | os.PathLike[str], what: str) -> bytes:
    p = Path(path)
    try:
        with p.open("rb") as f:
            data = f.read(KEY_FILE_LIMIT + 1)
    except OSError as exc:
        raise SignatureError(f"{p}: cannot read the {what}: {exc.strerror or exc}") from exc
    if len(data) > KEY_FILE_LIMIT:
        raise SignatureError(f"{p}: over the {KEY_FILE_LIMIT}-byte limit of a {what}")
    return data


def _kind(key: object) -> str | None:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "ecdsa-p256" if isinstance(key.curve, ec.SECP256R1) else None
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "ed25519"
    return None


def _type_name(key: object) -> str:
    curve = getattr(key, "curve", None)
    base = type(key).__name__.removeprefix("_").replace("PrivateKey", "").replace("PublicKey", "")
    return f"{base} {curve.name}" if curve is not None else base


@dataclass(frozen=True, slots=True)
class PemPublicKey:
    """A trusted ECDSA P-256 or Ed25519 public key."""

    name: str
    kind: str
    der: bytes
    hint: str

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's signature of ``data``."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519

        key = serialization.load_der_public_key(self.der)
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
            elif isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, data)
            else:  # pragma: no cover - refused when loaded
                return False
        except (InvalidSignature, ValueError):
            return False
        return True


class PemSigner:
    """An ECDSA P-256 or Ed25519 private key (loaded once: decrypting may be slow)."""

    def __init__(self, name: str, kind: str, key: Any) -> None:
        from cryptography.hazmat.primitives import serialization

        self.name = name
        self.kind = kind
        self._key = key
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public = PemPublicKey(name=name, kind=kind, der=der, hint=key_hint(der))

    def __repr__(self) -> str:
        return f"PemSigner({self.name!r}, {self.kind!r})"

    @property
    def openpgp(self) -> bool:
        """Never: a PEM key."""
        return False

    @property
    def hint(self) -> str:
        """cosign's key hint of the public half."""
        return self.public.hint

    def public_pem(self) -> bytes:
        """The public key as PEM (``-----BEGIN PUBLIC KEY-----``), as ``cosign.pub`` is."""
        from cryptography.hazmat.primitives import serialization

        pem: bytes = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem

    def trusted(self) -> TrustedKeys:
        """The public half as the only trusted key."""
        return TrustedKeys(pem=(self.public,))

    def sign(self, data: bytes) -> bytes:
        """ECDSA P-256 over SHA-256 (DER), or Ed25519."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        if self.kind == "ecdsa-p256":
            signature: bytes = self._key.sign(data, ec.ECDSA(hashes.SHA256()))
        else:
            signature = self._key.sign(data)
        return signature


@dataclass(frozen=True, slots=True)
class OpenPgpSigner:
    """A secret key of the user's OpenPGP keyring, used through ``gpg``."""

    key: str

    @property
    def name(self) -> str:
        """``gpg:KEY``."""
        return f"gpg:{self.key}"

    @property
    def openpgp(self) -> bool:
        """Always."""
        return True

    @property
    def hint(self) -> str:
        """``openpgp:KEY``: not a cosign hint, so cosign never mistakes it for its key."""
        return f"openpgp:{self.key}"

    def trusted(self) -> TrustedKeys:
        """The public key exported from the user's keyring as the only trusted key."""
        from .._gpg import export_public

        return TrustedKeys(openpgp=((self.name, export_public(self.key, where=self.name)),))

    def sign(self, data: bytes) -> bytes:
        """A binary detached OpenPGP signature made by ``gpg``."""
        from .._gpg import detach_sign

        signature, _ = detach_sign(data, self.key, where=self.name)
        return signature


def load_signer(spec: str, *, env: dict[str, str] | None = None) -> Signer:
    """The signer ``spec`` names: ``gpg:KEY`` or the path of a PEM private key."""
    environ = os.environ if env is None else env
    if spec.startswith("gpg:"):
        return OpenPgpSigner(key=spec[4:])
    data = _read(spec, "private key")
    if b"SIGSTORE PRIVATE KEY" in data or b"COSIGN PRIVATE KEY" in data:
        raise SignatureError(
            f"{spec}: a cosign-encrypted key cannot be read here: make a PEM key with openssl "
            "and import that one into cosign (cosign import-key-pair), see docs/oci.md"
        )
    if b"PRIVATE KEY-----" not in data:
        raise SignatureError(f"{spec}: not a PEM private key (or gpg:KEY for OpenPGP)")
    from cryptography.hazmat.primitives import serialization

    password_text = environ.get(PASSWORD_ENV)
    password = password_text.encode() if password_text else None
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except TypeError as exc:
        if password is None:
            raise SignatureError(f"{spec}: the key is encrypted: set ${PASSWORD_ENV}") from exc
        raise SignatureError(f"{spec}: the key is not encrypted: unset ${PASSWORD_ENV}") from exc
    except ValueError as exc:
        reason = "wrong password" if password else "not a readable PEM private key"
        raise SignatureError(f"{spec}: {reason}") from exc
    except Exception as exc:  # cryptography raises UnsupportedAlgorithm for odd keys
        raise SignatureError(f"{spec}: not a readable PEM private key: {exc}") from exc
    kind = _kind(key)
    if kind is None:
        raise SignatureError(
            f"{spec}: a {_type_name(key)} key: nameplate signs with ECDSA P-256 or Ed25519"
        )
    return PemSigner(str(spec), kind, key)


@dataclass(frozen=True, slots=True)
class TrustedKeys:
    """The keys a verification trusts: PEM public keys and OpenPGP public keys (``gpg``)."""

    pem: tuple[PemPublicKey, ...] = ()
    openpgp: tuple[tuple[str, bytes], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.pem or self.openpgp)

    @property
    def names(self) -> tuple[str, ...]:
        """The files the keys came from, for messages."""
        return tuple(dict.fromkeys([k.name for k in self.pem] + [n for n, _ in self.openpgp]))


def _pem_public(name: str, block: bytes) -> PemPublicKey:
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_public_key(block)
    except Exception as exc:  # ValueError, UnsupportedAlgorithm
        raise SignatureError(f"{name}: not a readable PEM public key") from exc
    kind = _kind(key)
    if kind is None:
        raise SignatureError(
            f"{name}: a {_type_name(key)} key: nameplate verifies ECDSA P-256 and Ed25519 keys"
        )
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return PemPublicKey(name=name, kind=kind, der=der, hint=key_hint(der))


def _looks_openpgp_binary(data: bytes) -> bool:
    """A binary OpenPGP public key starts with a public-key packet (tag 6)."""
    if not data:
        return False
    first = data[0]
    if first & 0x80 == 0:
        return False
    tag = first & 0x3F if first & 0x40 else (first >> 2) & 0x0F
    return tag == 6


def load_trusted(paths: Sequence[str | os.PathLike[str]]) -> TrustedKeys:
    """Trusted keys from files: each a PEM public key (or several PEM blocks), or an OpenPGP
    public key or keyring (armored or binary)."""
    pem: list[PemPublicKey] = []
    pgp: list[tuple[str, bytes]] = []
    for path in paths:
        name = str(path)
        data = _read(path, "public key")
        if _PGP_ARMOR in data or _looks_openpgp_binary(data):
            pgp.append((name, data))
            continue
        blocks = list(_PEM_BLOCK.finditer(data))
        if any(b"PRIVATE KEY" in m.group(1) for m in blocks) or b"PRIVATE KEY" in data[:4096]:
            raise SignatureError(f"{name}: a private key: give the public key to verify with")
        keys = [m.group(0) for m in blocks if m.group(1) == b"PUBLIC KEY"]
        if not keys:
            raise SignatureError(f"{name}: not a PEM or OpenPGP public key")
        for i, block in enumerate(keys):
            pem.append(_pem_public(name if len(keys) == 1 else f"{name}[{i}]", block))
    return TrustedKeys(pem=tuple(pem), openpgp=tuple(pgp))
