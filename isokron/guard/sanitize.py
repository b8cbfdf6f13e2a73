"""Render untrusted stored text so that it can never start a line of a prompt.

One function, :func:`escape_line`, is used for every value the identity block and the
recall block print. It turns backslashes, every Unicode line break and every control
or bidirectional-formatting character into a visible escape (``\\n``, ``\\u2028``, …),
so the escaped text is always exactly one line and reads the same in any direction.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["escape_line"]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
# Bidirectional overrides and isolates reorder what a reader sees without being controls.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Everything escape_line must rewrite: a quick test before the character-by-character pass.
_NEEDS_WORK = re.compile(
    "[\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    if char in _BIDI or unicodedata.category(char) in ("Cc", "Zl", "Zp"):
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return char


def escape_line(text: str) -> str:
    """Return ``text`` as one line: line breaks, controls and bidi marks become escapes."""
    if not _NEEDS_WORK.search(text):
        return text
    return "".join(_escape(char) for char in text)
