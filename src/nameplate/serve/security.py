"""Who may write, what every answer carries, and how much of a body is read.

- **Writes** (host profiles, notifications) need ``Authorization: Bearer TOKEN`` with the token
  of ``--token-file``, compared in constant time (:func:`hmac.compare_digest`). Without a token
  file every write is refused (403). The header is read here and nowhere else; it is never
  logged, and no error message repeats it.
- **Every answer** carries a strict Content-Security-Policy (no script at all, styles and
  images from this origin only, no framing, forms post only here), ``nosniff``, no referrer.
- **Bodies** are read up to a limit (413 past it) and must be JSON (415 otherwise).
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import ServeError

__all__ = ["CSP", "SecurityHeaders", "read_json_body", "require_token"]

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
    " base-uri 'none'; frame-ancestors 'none'"
)

_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"interest-cohort=()"),
]


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in _HEADERS if k not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def require_token(request: Request, token: bytes | None) -> None:
    """Refuse a write without the right bearer token (401), or any write when the service has
    no token (403)."""
    if token is None:
        raise ServeError("writes are disabled: start nameplate serve with --token-file", status=403)
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise ServeError("this needs a bearer token (Authorization: Bearer ...)", status=401)
    if not hmac.compare_digest(given.strip().encode("utf-8", "replace"), token):
        raise ServeError("the bearer token is not the right one", status=401)


async def read_json_body(request: Request, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes, declared as JSON."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind and kind != "application/json" and not kind.endswith("+json"):
        raise ServeError(
            f"content-type {kind[:60]!r}: the body must be JSON", status=415, field="body"
        )
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ServeError("content-length: not a number", field="body")
        if int(declared) > limit:
            raise ServeError(f"body: over {limit} bytes", status=413, field="body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ServeError(f"body: over {limit} bytes", status=413, field="body")
        chunks.append(chunk)
    return b"".join(chunks)


def challenge(exc: ServeError) -> dict[str, Any]:
    """The ``WWW-Authenticate`` header of a 401."""
    if exc.status != 401:
        return {}
    error = ', error="invalid_token"' if "right one" in str(exc) else ""
    return {"WWW-Authenticate": f'Bearer realm="nameplate"{error}'}
