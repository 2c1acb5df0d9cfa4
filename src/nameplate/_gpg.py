"""Verify OpenPGP clearsigned files with the system ``gpg``, in a throw-away keyring.

Only the public keys the user names are trusted: keys shipped inside a build cache are not
imported. A missing ``gpg`` is an error when verification was asked for, never a silent pass.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ._io import read_bounded
from .errors import SignatureError, SourceError

__all__ = ["verify_clearsigned"]

_TIMEOUT = 60
#: Largest public key file read (an exported key with many signatures is a few hundred kB; the
#: read is bounded before gpg sees a byte, so ``--public-key /dev/zero`` ends at once).
KEY_LIMIT = 4 * 1024 * 1024


def verify_clearsigned(data: bytes, public_keys: Sequence[Path], *, where: str) -> str:
    """Check ``data`` (a clearsigned message) against ``public_keys``; return the signer's
    fingerprint, or raise :class:`SignatureError` saying why not."""
    gpg = shutil.which("gpg")
    if gpg is None:
        raise SignatureError(f"{where}: cannot verify the signature: gpg is not installed")
    if not public_keys:
        raise SignatureError(f"{where}: cannot verify the signature: no --public-key given")
    with tempfile.TemporaryDirectory(prefix="nameplate-gpg-") as home:
        Path(home).chmod(0o700)
        base = [gpg, "--batch", "--no-tty", "--homedir", home, "--no-autostart"]
        for key in public_keys:
            try:
                key_data = read_bounded(key, limit=KEY_LIMIT)
            except SourceError as exc:
                raise SignatureError(f"--public-key {exc}") from exc
            try:
                imported = subprocess.run(
                    [*base, "--import"],
                    input=key_data,
                    capture_output=True,
                    timeout=_TIMEOUT,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise SignatureError(f"{key}: cannot import the public key: {exc}") from exc
            if imported.returncode != 0:
                raise SignatureError(f"{key}: not an OpenPGP public key")
        message = Path(home) / "message.asc"
        message.write_bytes(data)
        try:
            result = subprocess.run(
                [*base, "--status-fd", "1", "--verify", str(message)],
                capture_output=True,
                timeout=_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SignatureError(f"{where}: gpg did not answer: {exc}") from exc
    status = result.stdout.decode("utf-8", "replace").splitlines()
    valid = [line.split()[2] for line in status if line.startswith("[GNUPG:] VALIDSIG ")]
    if result.returncode == 0 and valid:
        return valid[0]
    if any(line.startswith("[GNUPG:] BADSIG") for line in status):
        raise SignatureError(f"{where}: BAD signature: the signed content was changed")
    if any(line.startswith("[GNUPG:] NO_PUBKEY") for line in status):
        raise SignatureError(f"{where}: signed by a key that is not among the given public keys")
    raise SignatureError(f"{where}: the signature does not verify")
