"""Payment card numbers for the redactor: 13-19 digits, Luhn-valid, from a real issuer.

Separators (one kind, spaces or dashes, between groups of three or more) are allowed; an
order id, a timestamp, a phone number or a digit run inside a longer word is not a card.
"""

from __future__ import annotations

import re

__all__ = ["CARD", "card_span", "is_card_number"]


# A payment card: 13-19 digits, in groups joined by one kind of separator, Luhn-valid and
# from an issuer range that exists (order ids, timestamps and phone numbers are not).
CARD = re.compile(r"[0-9](?:[ \-]?[0-9]){12,18}(?![\w\-]|[.,/:][0-9])")
_NOT_BEFORE_CARD = frozenset(
    "+-.,/:_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _issuer_plausible(d: str) -> bool:
    n = len(d)
    two, four = int(d[:2]), int(d[:4])
    return ((d[0] == "4" and n in (13, 16, 19)) or (51 <= two <= 55 and n == 16)
            or (2221 <= four <= 2720 and n == 16) or (two in (34, 37) and n == 15)
            or ((four == 6011 or 644 <= int(d[:3]) <= 649 or two in (62, 65)) and n >= 16)
            or (3528 <= four <= 3589 and n >= 16)
            or ((300 <= int(d[:3]) <= 305 or two in (36, 38, 39)) and n >= 14)
            or ((two == 50 or 56 <= two <= 69) and n >= 13))


def is_card_number(text: str) -> bool:
    """A 13-19 digit payment card number (separators allowed): Luhn and issuer checked."""
    seps = {c for c in text if not c.isdigit()}
    if len(seps) > 1 or seps - {" ", "-"}:
        return False
    digits = text.replace(" ", "").replace("-", "")
    if not 13 <= len(digits) <= 19 or len(set(digits)) < 2:
        return False
    groups = re.split(r"[ \-]", text)
    if len(groups) > 1 and any(len(g) < 3 for g in groups[:-1]):
        return False
    return _issuer_plausible(digits) and _luhn(digits)


def card_span(m: re.Match[str]) -> tuple[int, int] | None:
    if m.start() and (m.string[m.start() - 1] in _NOT_BEFORE_CARD
                      or not m.string[m.start() - 1].isascii()
                      and m.string[m.start() - 1].isalnum()):
        return None
    return m.span() if is_card_number(m.group(0)) else None
