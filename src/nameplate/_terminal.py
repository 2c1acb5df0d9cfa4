"""Untrusted strings made safe to print on a terminal, the way ``git`` quotes file names.

A component name, a tag or an error message read from a record, an image or a registry may hold
a carriage return, an escape sequence or a bidirectional override (U+202E) that makes a line read
differently from what it says (a ``FAIL`` line that shows as ``ok``). :func:`printable` leaves an
ordinary string as it is and puts one that holds such characters in double quotes with C-style
escapes (``"x\\r  ok  "``, ``"\\u202e"``), so what is shown is what is there. JSON output is never
escaped this way: it stays exact.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["escape", "needs_quoting", "printable"]

_SHORT = {"\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r"}
#: Bidirectional controls (marks, embeddings, overrides, isolates) and line/paragraph separators.
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"
_FAST = re.compile(r"[\x00-\x1f\x7f-\x9f" + _BIDI + r"\ud800-\udfff]")


def _unsafe(ch: str) -> bool:
    """Control (Cc), format (Cf: bidi marks, zero-width characters), surrogate (Cs) and
    line/paragraph separators (Zl, Zp): characters that move the cursor, hide or reorder text,
    or cannot be encoded."""
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")


def needs_quoting(text: str) -> bool:
    """Whether ``text`` holds a character that :func:`printable` escapes."""
    if _FAST.search(text) or text.startswith('"'):
        return True
    return not text.isascii() and any(_unsafe(c) for c in text)


def _escape(ch: str) -> str:
    if ch in _SHORT:
        return _SHORT[ch]
    if ch in '"\\':
        return "\\" + ch
    if not _unsafe(ch):
        return ch
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: object) -> str:
    """``text`` as a terminal may show it: unchanged when harmless, else double-quoted with
    control, format and bidirectional characters (and ``"``, ``\\``) escaped."""
    s = text if isinstance(text, str) else str(text)
    if not needs_quoting(s):
        return s
    return '"' + "".join(_escape(c) for c in s) + '"'


def escape(text: object) -> str:
    """``text`` on one line with its control, format and bidirectional characters escaped, but
    not quoted: for messages (``error: ...``) that mix our words with untrusted names. Line
    breaks become spaces, as a message is one line."""
    s = text if isinstance(text, str) else str(text)
    s = s.replace("\r\n", " ").replace("\n", " ")
    if not needs_quoting(s.lstrip('"')):
        return s
    return "".join(c if c in '"\\' else _escape(c) for c in s)
