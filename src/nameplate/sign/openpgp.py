"""The shape of an OpenPGP detached signature, checked before ``gpg`` sees it. Pure.

``gpg --verify SIG DATA`` verifies whatever SIG holds: given a *signed message* instead of a
detached signature, it would check the message inside and ignore DATA. So a signature taken
from an envelope must be exactly one OpenPGP signature packet (tag 2, RFC 4880 §5.2) of version
4 or later over a binary document (signature type 0x00), and nothing else.
"""

from __future__ import annotations

__all__ = ["is_detached_signature"]


def _header(data: bytes) -> tuple[int, int, int] | None:
    """(tag, header length, body length) of the packet at the start of ``data``."""
    if len(data) < 2 or not data[0] & 0x80:
        return None
    first = data[0]
    if first & 0x40:  # new format
        tag, b0 = first & 0x3F, data[1]
        if b0 < 192:
            return tag, 2, b0
        if b0 < 224:
            if len(data) < 3:
                return None
            return tag, 3, ((b0 - 192) << 8) + data[2] + 192
        if b0 == 255:
            if len(data) < 6:
                return None
            return tag, 6, int.from_bytes(data[2:6], "big")
        return None  # partial body lengths: never a signature packet
    tag, length_type = (first >> 2) & 0x0F, first & 0x03
    if length_type == 3:
        return None  # indeterminate length
    n = 1 << length_type
    if len(data) < 1 + n:
        return None
    return tag, 1 + n, int.from_bytes(data[1 : 1 + n], "big")


def is_detached_signature(data: bytes) -> bool:
    """True when ``data`` is one OpenPGP v4+ signature packet over a binary document."""
    header = _header(data)
    if header is None:
        return False
    tag, head, body = header
    if tag != 2 or head + body != len(data) or body < 2:
        return False
    version, sig_type = data[head], data[head + 1]
    return version >= 4 and sig_type == 0x00
