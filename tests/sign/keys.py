"""Real keys for the signing tests: PEM keys made with ``cryptography``, OpenPGP keys made by
the real ``gpg`` (valid, expired, revoked) in a throw-away home whose agent is stopped after."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tests.conftest import need

GPG = shutil.which("gpg")


def pem_pair(
    folder: Path, name: str, kind: str = "ecdsa", password: bytes | None = None
) -> tuple[Path, Path]:
    """(private, public) PEM files of a new key: ``ecdsa`` (P-256), ``ed25519``, ``rsa`` or
    ``p384`` (the last two are refused by nameplate)."""
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    if kind == "ecdsa":
        key = ec.generate_private_key(ec.SECP256R1())
    elif kind == "p384":
        key = ec.generate_private_key(ec.SECP384R1())
    elif kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    private = folder / f"{name}.key"
    public = folder / f"{name}.pub"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


@dataclass
class GpgHome:
    """A real ``gpg`` home (short path: the agent's socket lives in it)."""

    path: Path

    def run(self, *args: str, data: bytes | None = None) -> bytes:
        assert GPG is not None
        done = subprocess.run(
            [GPG, "--batch", "--no-tty", "--homedir", str(self.path), *args],
            input=data,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout

    def generate(self, name: str, *, created: str | None = None) -> str:
        """A new Ed25519 signing key without passphrase; its fingerprint."""
        params = [
            "%no-protection",
            "Key-Type: eddsa",
            "Key-Curve: ed25519",
            "Key-Usage: sign",
            f"Name-Real: {name}",
            "Expire-Date: 0",
        ]
        if created:
            params.append(f"Creation-Date: {created}")
        self.run("--gen-key", data=("\n".join([*params, "%commit"]) + "\n").encode())
        listing = self.run("--with-colons", "--list-keys", name).decode()
        return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))

    def export(self, fpr: str, path: Path, *, armor: bool = True) -> Path:
        path.write_bytes(self.run(*(["--armor"] if armor else []), "--export", fpr))
        return path

    def expire(self, fpr: str) -> None:
        """Make a key created on 2025-01-01 expire on 2025-01-03 (gpg refuses an expiry date
        in the past, so the change is made at a faked time of 2025-01-02)."""
        self.run("--faked-system-time", "20250102T000000", "--quick-set-expire", fpr, "1d")

    def revoke(self, fpr: str) -> None:
        """Import the revocation certificate gpg made with the key."""
        rev = (self.path / "openpgp-revocs.d" / f"{fpr}.rev").read_text()
        cert = self.path / "revoke.asc"
        cert.write_text(
            rev.replace(":-----BEGIN PGP PUBLIC KEY BLOCK", "-----BEGIN PGP PUBLIC KEY BLOCK")
        )
        self.run("--import", str(cert))


@pytest.fixture
def gpg_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[GpgHome]:
    """A fresh ``$GNUPGHOME`` (what ``--sign gpg:KEY`` signs with); its agent is stopped after."""
    need(GPG is not None, "gpg is not installed (Debian package gnupg)")
    path = Path(tempfile.mkdtemp(prefix="np-gpg-"))
    path.chmod(0o700)
    monkeypatch.setenv("GNUPGHOME", str(path))
    try:
        yield GpgHome(path)
    finally:
        subprocess.run(
            ["gpgconf", "--homedir", str(path), "--kill", "gpg-agent"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        shutil.rmtree(path, ignore_errors=True)
