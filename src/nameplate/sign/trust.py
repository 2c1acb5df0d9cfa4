"""Which trusted key signed a DSSE envelope, or why none did.

PEM keys are checked in-process; an OpenPGP signature (one detached signature packet, see
:mod:`.openpgp`) is checked by ``gpg`` in a throw-away keyring holding only the trusted OpenPGP
keys. The reasons name what failed: a bundle whose key hint matches a trusted key but whose
signature does not verify was *changed*; otherwise the signer is not trusted (or the envelope
was changed: without a hint the two cannot be told apart).
"""

from __future__ import annotations

import contextlib
from types import TracebackType

from .._gpg import OpenPgpKeyring
from ..errors import SignatureError
from .dsse import Envelope
from .keys import TrustedKeys
from .openpgp import is_detached_signature

__all__ = ["Verifier"]


class Verifier:
    """Checks envelopes against :class:`TrustedKeys`; a context manager (the OpenPGP keyring
    lives as long as it)."""

    def __init__(self, trusted: TrustedKeys) -> None:
        if not trusted:
            raise SignatureError("no trusted key: give --key or --keyring")
        self.trusted = trusted
        self._stack = contextlib.ExitStack()
        self._ring: OpenPgpKeyring | None = None

    def __enter__(self) -> Verifier:
        if self.trusted.openpgp:
            self._ring = self._stack.enter_context(OpenPgpKeyring(self.trusted.openpgp))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    def signer_of(self, envelope: Envelope, *, hint: str = "", where: str) -> str:
        """The name of the trusted key that signed ``envelope``; raises
        :class:`SignatureError` with the reason when no trusted key did."""
        data = envelope.signed_bytes
        pgp_reason: str | None = None
        for s in envelope.signatures:
            for key in self.trusted.pem:
                if key.verify(data, s.sig):
                    return key.name
            if self._ring is not None and is_detached_signature(s.sig):
                try:
                    fpr = self._ring.verify_detached(data, s.sig, where=where)
                except SignatureError as exc:
                    pgp_reason = str(exc)
                    continue
                return f"{self._ring.names.get(fpr, 'OpenPGP key')} ({fpr})"
        if pgp_reason is not None:
            raise SignatureError(pgp_reason)
        hinted = [k for k in self.trusted.pem if hint and k.hint == hint]
        if hinted:
            raise SignatureError(
                f"{where}: BAD signature by trusted key {hinted[0].name}: the envelope was "
                "changed after it was signed"
            )
        raise SignatureError(
            f"{where}: not signed by a trusted key ({', '.join(self.trusted.names)}), "
            "or changed after signing"
        )
