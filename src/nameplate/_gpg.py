"""OpenPGP through the system ``gpg``: verify clearsigned files and detached signatures in a
throw-away keyring, and make detached signatures with the user's own keyring.

Only the public keys the user names are trusted: keys shipped inside a build cache or a
registry are never imported. A missing ``gpg`` is an error when verification was asked for,
never a silent pass. ``gpg`` answers 0 for a good signature by an *expired* or *revoked* key;
its status lines (``EXPKEYSIG``, ``REVKEYSIG``, ``KEYREVOKED``, ``EXPSIG``) are read, and such a
signature is refused with the reason.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from ._io import read_bounded
from .errors import SignatureError, SourceError

__all__ = [
    "KEY_LIMIT",
    "OpenPgpKeyring",
    "detach_sign",
    "export_public",
    "read_public_key",
    "verify_clearsigned",
]

_TIMEOUT = 60
#: Largest public key file read (an exported key with many signatures is a few hundred kB; the
#: read is bounded before gpg sees a byte, so ``--public-key /dev/zero`` ends at once).
KEY_LIMIT = 4 * 1024 * 1024


def read_public_key(path: str | Path) -> bytes:
    """The bytes of a ``--public-key`` file, at most :data:`KEY_LIMIT` (``/dev/zero`` is
    refused at once instead of filling memory or stalling gpg)."""
    try:
        return read_bounded(path, limit=KEY_LIMIT)
    except SourceError as exc:
        raise SignatureError(f"--public-key {exc}") from exc


def _gpg(where: str) -> str:
    gpg = shutil.which("gpg")
    if gpg is None:
        raise SignatureError(f"{where}: cannot use OpenPGP signatures: gpg is not installed")
    return gpg


def _run(
    cmd: list[str], where: str, data: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(cmd, input=data, capture_output=True, timeout=_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SignatureError(f"{where}: gpg did not answer: {exc}") from exc


def _verdict(status_text: str, returncode: int, *, where: str) -> str:
    """The primary-key fingerprint of a good signature by a valid key, or the refusal."""
    lines = status_text.splitlines()

    def first(tag: str) -> list[str] | None:
        for line in lines:
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "[GNUPG:]" and parts[1] == tag:
                return parts[2:]
        return None

    valid = first("VALIDSIG")
    fpr = (valid[-1] if valid else "") or "?"
    if first("BADSIG") is not None:
        raise SignatureError(f"{where}: BAD signature: the signed content was changed")
    if first("REVKEYSIG") is not None or (valid and first("KEYREVOKED") is not None):
        raise SignatureError(f"{where}: signed by OpenPGP key {fpr}, which has been revoked")
    if first("EXPKEYSIG") is not None:
        raise SignatureError(f"{where}: signed by OpenPGP key {fpr}, which has expired")
    if first("EXPSIG") is not None:
        raise SignatureError(f"{where}: the OpenPGP signature has expired")
    if first("NO_PUBKEY") is not None:
        raise SignatureError(f"{where}: signed by a key that is not among the given public keys")
    if returncode == 0 and valid and first("GOODSIG") is not None:
        return fpr
    raise SignatureError(f"{where}: the signature does not verify")


class OpenPgpKeyring:
    """A throw-away ``gpg`` home holding only the given public keys; use as a context manager.

    ``keys``: ``(name, bytes)`` pairs (armored or binary OpenPGP public keys). After
    ``__enter__``, :attr:`names` maps each primary-key fingerprint to the name it came from.
    """

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        self._keys = list(keys)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.names: dict[str, str] = {}

    def __enter__(self) -> OpenPgpKeyring:
        gpg = _gpg(self._keys[0][0] if self._keys else "OpenPGP keys")
        self._tmp = tempfile.TemporaryDirectory(prefix="nameplate-gpg-")
        home = Path(self._tmp.name)
        home.chmod(0o700)
        self._base = [gpg, "--batch", "--no-tty", "--homedir", str(home), "--no-autostart"]
        for i, (name, data) in enumerate(self._keys):
            path = home / f"key-{i}"
            path.write_bytes(data)
            shown = _run([*self._base, "--with-colons", "--import-options", "show-only",
                          "--import", str(path)], name)  # fmt: skip
            primaries = _primary_fingerprints(shown.stdout.decode("utf-8", "replace"))
            imported = _run([*self._base, "--import", str(path)], name)
            if imported.returncode != 0 or not primaries:
                raise SignatureError(f"{name}: not an OpenPGP public key")
            for fpr in primaries:
                self.names.setdefault(fpr, name)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def verify_detached(self, data: bytes, signature: bytes, *, where: str) -> str:
        """Check a binary detached signature over ``data``; the signer's primary fingerprint,
        or :class:`SignatureError` saying why not (changed, unknown, expired, revoked key)."""
        assert self._tmp is not None, "use OpenPgpKeyring as a context manager"
        with tempfile.TemporaryDirectory(prefix="nameplate-sig-", dir=self._tmp.name) as tmp:
            sig, msg = Path(tmp) / "sig", Path(tmp) / "data"
            sig.write_bytes(signature)
            msg.write_bytes(data)
            result = _run([*self._base, "--status-fd", "1", "--verify", str(sig), str(msg)], where)
        return _verdict(result.stdout.decode("utf-8", "replace"), result.returncode, where=where)

    def verify_clearsigned(self, data: bytes, *, where: str) -> str:
        """Check a clearsigned message; the signer's primary fingerprint, or the refusal."""
        assert self._tmp is not None, "use OpenPgpKeyring as a context manager"
        with tempfile.TemporaryDirectory(prefix="nameplate-sig-", dir=self._tmp.name) as tmp:
            message = Path(tmp) / "message.asc"
            message.write_bytes(data)
            result = _run([*self._base, "--status-fd", "1", "--verify", str(message)], where)
        return _verdict(result.stdout.decode("utf-8", "replace"), result.returncode, where=where)


def _primary_fingerprints(colons: str) -> list[str]:
    out: list[str] = []
    want = False
    for line in colons.splitlines():
        fields = line.split(":")
        if fields[0] == "pub":
            want = True
        elif fields[0] == "fpr" and want and len(fields) > 9:
            out.append(fields[9])
            want = False
    return out


def detach_sign(data: bytes, key: str, *, where: str) -> tuple[bytes, str]:
    """A binary detached signature of ``data`` by the secret key ``key`` (a fingerprint, key id
    or user id in the user's keyring, ``$GNUPGHOME``), and the signer's primary fingerprint."""
    if not key or key.startswith("-") or "\n" in key:
        raise SignatureError(f"{where}: not an OpenPGP key name: {key[:80]!r}")
    gpg = _gpg(where)
    base = [gpg, "--batch", "--no-tty"]
    result = _run([*base, "--status-fd", "2", "--local-user", key, "--detach-sign", "--output",
                   "-"], where, data)  # fmt: skip
    status = result.stderr.decode("utf-8", "replace")
    if result.returncode != 0 or not result.stdout:
        last = next(
            (ln for ln in reversed(status.splitlines()) if ln and not ln.startswith("[GNUPG:]")),
            "no signature made",
        )
        raise SignatureError(
            f"{where}: gpg could not sign with {key}: {last.removeprefix('gpg: ')}"
        )
    fpr = ""
    for line in status.splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[:2] == ["[GNUPG:]", "SIG_CREATED"]:
            fpr = parts[-1]
    return result.stdout, fpr or key


def export_public(key: str, *, where: str) -> bytes:
    """The public key of ``key`` from the user's keyring (``$GNUPGHOME``), binary."""
    if not key or key.startswith("-") or "\n" in key:
        raise SignatureError(f"{where}: not an OpenPGP key name: {key[:80]!r}")
    result = _run([_gpg(where), "--batch", "--no-tty", "--export", key], where)
    if result.returncode != 0 or not result.stdout:
        raise SignatureError(f"{where}: no OpenPGP key {key} in the keyring")
    return result.stdout


def verify_clearsigned(data: bytes, public_keys: Sequence[Path], *, where: str) -> str:
    """Check ``data`` (a clearsigned message) against ``public_keys``; return the signer's
    fingerprint, or raise :class:`SignatureError` saying why not."""
    _gpg(where)
    if not public_keys:
        raise SignatureError(f"{where}: cannot verify the signature: no --public-key given")
    keys: list[tuple[str, bytes]] = []
    for key in public_keys:
        keys.append((str(key), read_public_key(key)))
    with OpenPgpKeyring(keys) as ring:
        return ring.verify_clearsigned(data, where=where)
