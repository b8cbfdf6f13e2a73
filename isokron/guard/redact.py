"""Redact secrets from text before isokron stores it; report what was found by label only.

One pass guards every write of free text (memories, session messages, episodic
bodies, scratchpad entries, delegation previews, chain event payloads, namespace
metadata): :func:`redact_secrets` for a string, :func:`redact_json` for a JSON value (its
keys as well as its values). Each secret is replaced with ``[REDACTED:<LABEL>]``.
Ordinary prose, code, UUIDs, git SHAs, hex digests, ISO dates, phone numbers and order
ids pass unchanged (a test runs the standard library's docstrings through it).

The rules (:mod:`.redact_rules`) run on a normalised view of the text
(:mod:`.normalize`): NFKC, invisible and format characters dropped, Cyrillic, Greek and
full-width look-alikes and every dash folded to ASCII; a match there redacts the matching
span of the original. The vendor-prefix rules also read a token broken by white space
joined up again, a reversed token, and a token with a separator between its characters;
base64, hex and URL-encoded runs are decoded and what they hold is scanned (an encoded
run that holds a secret is redacted whole, under the label of what it holds).

Detected (labels): PRIVATE_KEY (PEM and PGP, any case and spacing, with or without an END
line), DATABASE_URL_PASSWORD (``scheme://user:pw@``, empty user too, ``/`` and ``@`` in
the password), SLACK_WEBHOOK, URL_QUERY_SECRET (``?key=``, ``&token=``, ``&password=``,
``&signature=`` …), SECRET_ASSIGNMENT (``PASSWORD=``, ``DB_PASS=``, ``*_SECRET_KEY=``,
``*_ACCESS_KEY=``, ``*_API_KEY=``, ``*_TOKEN=`` …), SECRET_FIELD (JSON ``"api_key": "…"``,
YAML ``password: …``, a secret-named JSON key's value), PASSWORD (libpq ``password=``,
ODBC/JDBC ``Password=``/``Pwd=``, INI/env/YAML ``password: x``), BEARER_TOKEN, BASIC_AUTH,
JWT (a short or empty signature too), GITHUB_TOKEN, SLACK_TOKEN (``xox[abeoprs]-``,
``xapp-``), STRIPE_KEY (``sk_live_``/``rk_live_``/``pk_live_``/``*_test_``), SHOPIFY_TOKEN
(``shpat_``/``shpss_``/``shpca_``/``shppa_``), SQUARE_TOKEN (``sq0atp-``/``sq0csp-``),
GOOGLE_API_KEY (``AIza…``), NPM_TOKEN,
HUGGINGFACE_TOKEN, SENDGRID_KEY, TWILIO_KEY, SK_KEY (``sk-…``), GITLAB_TOKEN, PYPI_TOKEN,
TELEGRAM_BOT_TOKEN, DISCORD_BOT_TOKEN, AZURE_STORAGE_KEY (``AccountKey=``),
MAILCHIMP_KEY, AWS_SECRET_ACCESS_KEY (a 40-character key next to a key id or after an AWS
word), AWS_ACCESS_KEY_ID, CARD_NUMBER (13-19 digits, Luhn-valid, a real issuer range),
HIGH_ENTROPY_STRING (a quoted literal of 32+ key characters, mixed alphabet, at least 4.5
bits of entropy per character), BASE64_BLOB (64+ characters of mixed-alphabet base64).
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from cachetools import LRUCache

from .normalize import View, decoded_runs, joined_runs, normalised, reversed_runs, separated_runs
from .redact_cards import is_card_number
from .redact_rules import SECRET_KEY_WORDS, Span, longest_run, scan_rules

__all__ = [
    "SECRET_KEY_WORDS",
    "log_redactions",
    "redact_json",
    "redact_secrets",
    "scrub_json",
    "scrub_text",
]

log = logging.getLogger("isokron.redact")

_FIELD_NAME = re.compile(
    "^[A-Za-z0-9_.\\-]*(?:" + "|".join(sorted(SECRET_KEY_WORDS, key=len, reverse=True)) + ")$",
    re.IGNORECASE)


def _label(label: str) -> str:
    return f"[REDACTED:{label}]"


# Where a vendor-prefixed token starts (for joining a token broken by white space), and
# what a reversed one looks like. One pattern per prefix, each starting with a literal:
# the engine skips to it, four times faster than one alternation over prose.
_PREFIXES = tuple(re.compile(p) for p in (
    r"gh[pousr]_", "github_pat_", r"xox[abeoprs]-", "xapp-", r"sk_(?:live|test)_",
    r"rk_(?:live|test)_", r"pk_(?:live|test)_", r"shp(?:at|ss|ca|pa)_", "aiza", "npm_", "hf_",
    r"sg\.", "sk-", "glpat-", "pypi-", "eyj", "akia", "asia", r"sq0(?:atp|csp)-",
    r"hooks\.slack"))
_REVERSED = tuple(re.compile(p) for p in (
    r"_[pousr]hg", "_tap_buhtig", r"-[abeoprs]xox", "-ppax", r"_(?:evil|tset)_k[srp]",
    r"_(?:ta|ss|ac|ap)phs", "azia", "_mpn", "_fh", r"\.gs", "-ks", "-taplg", "-ipyp",
    r"jye\."))


def _has(patterns: tuple[re.Pattern[str], ...], lower: str) -> bool:
    return any(p.search(lower) for p in patterns)


# The same prefixes as one alternation, to tell a short text holds none of them: ten times
# faster than the patterns one by one on a sentence, as slow as they are on prose (measured).
_ANY_PREFIX = re.compile("|".join(p.pattern for p in _PREFIXES))
_ANY_REVERSED = re.compile("|".join(p.pattern for p in _REVERSED))
_SHORT = 512


def _starts(patterns: tuple[re.Pattern[str], ...], lower: str,
            any_of: re.Pattern[str]) -> list[int]:
    if len(lower) <= _SHORT and not any_of.search(lower):
        return []
    return sorted(m.start() for p in patterns for m in p.finditer(lower))


_LETTER_AND_DIGIT = re.compile(r"(?=.*[A-Za-z])(?=.*[0-9])", re.DOTALL)


def _mapped(view: View, spans: list[Span]) -> list[Span]:
    return [(*view.original(s, e), label) for s, e, label in spans]


def _find(text: str) -> list[Span]:
    """Every secret span of ``text`` (original positions), in rule order."""
    view = normalised(text)
    norm = view.text
    found = _mapped(view, scan_rules(norm))
    lower = norm.lower()
    if len(lower) != len(norm):  # "İ".lower() is two characters: keep positions aligned
        lower = "".join(ch.lower()[:1] for ch in norm)
    starts = _starts(_PREFIXES, lower, _ANY_PREFIX)
    if starts:
        for window, joins in joined_runs(view, iter(starts)):
            for s, e, label in scan_rules(window.text, prefixed_only=True):
                if any(s < j < e for j in joins) and _LETTER_AND_DIGIT.match(window.text[s:e]):
                    found.append((*window.original(s, e), label))
    hits = _starts(_REVERSED, lower, _ANY_REVERSED)
    if hits:
        for copy in reversed_runs(view, iter(hits)):
            found += _mapped(copy, scan_rules(copy.text, prefixed_only=True))
    for copy in separated_runs(view, lambda joined: _has(_PREFIXES, joined.lower())):
        found += _mapped(copy, scan_rules(copy.text, prefixed_only=True))
    for copy in decoded_runs(view, long=longest_run(norm) >= 16):
        inner = normalised(copy.text)
        held = scan_rules(inner.text)
        if held:
            found.append((*copy.original(0, len(copy.text)), held[0][2]))
    return found


def _merge(spans: list[Span]) -> list[Span]:
    """Overlapping spans joined; each keeps the label of the earliest rule among its parts."""
    ordered = sorted(enumerate(spans), key=lambda item: (item[1][0], -item[1][1]))
    merged: list[tuple[int, int, int, str]] = []  # start, end, rank, label
    for rank, (start, end, label) in ordered:
        if merged and start < merged[-1][1]:
            s, e, r, lab = merged[-1]
            merged[-1] = (s, max(e, end), *((r, lab) if r <= rank else (rank, label)))
        else:
            merged.append((start, end, rank, label))
    return [(s, e, lab) for s, e, _, lab in merged]


#: Short texts already found clean (an event type, a sender, a JSON key, a tool name: the
#: same few strings again and again) are not scanned twice. Only clean texts are kept, so
#: the cache never holds a secret; the rules are fixed for the process's life.
_CLEAN_MAX_CHARS = 128
_CLEAN: LRUCache[str, bool] = LRUCache(maxsize=8192)
_CLEAN_LOCK = threading.Lock()


def redact_secrets(text: str) -> tuple[str, list[str]]:
    """Return ``text`` with secrets replaced by ``[REDACTED:<LABEL>]`` and the labels found.

    Text without a secret comes back unchanged, character for character.
    """
    short = len(text) <= _CLEAN_MAX_CHARS
    if short and text in _CLEAN:  # a read needs no lock: membership never reorders the LRU
        return text, []
    spans = _merge(_find(text))
    if not spans:
        if short:
            with _CLEAN_LOCK:
                _CLEAN[text] = True
        return text, []
    parts: list[str] = []
    last = 0
    for start, end, label in spans:
        parts += [text[last:start], _label(label)]
        last = end
    parts.append(text[last:])
    return "".join(parts), [label for _, _, label in spans]


_SEQUENCES = (list, tuple)  # a tuple, not a union: built once, checked for every value


def redact_json(value: Any) -> tuple[Any, list[str]]:
    """Redact every string in a JSON value, keys as well as values (a secret-named key's
    string value wholesale; an integer that is a card number too)."""
    found: list[str] = []

    def walk(item: Any, key: str | None) -> Any:
        if isinstance(item, str):
            if key is not None and item and _FIELD_NAME.match(key):
                found.append("SECRET_FIELD")
                return _label("SECRET_FIELD")
            text, labels = redact_secrets(item)
            found.extend(labels)
            return text
        if isinstance(item, dict):
            out: dict[Any, Any] = {}
            for k, v in item.items():
                name = k
                if isinstance(k, str):
                    if not (len(k) <= _CLEAN_MAX_CHARS and k in _CLEAN):
                        name, labels = redact_secrets(k)
                        found.extend(labels)
                    while name in out:  # two keys redacted alike stay two keys
                        name += "'"
                out[name] = walk(v, k if isinstance(k, str) else None)
            return out
        if isinstance(item, _SEQUENCES):
            return [walk(v, None) for v in item]
        if (isinstance(item, int) and not isinstance(item, bool)
                and 10**12 <= item < 10**19 and is_card_number(str(item))):
            found.append("CARD_NUMBER")
            return _label("CARD_NUMBER")
        return item

    return walk(value, None), found


def log_redactions(where: str, labels: list[str]) -> None:
    """Log what was redacted before a write: the labels and their count, never the text."""
    if labels:
        counts = {label: labels.count(label) for label in sorted(set(labels))}
        log.warning("redacted %d secret(s) before storing %s: %s", len(labels), where,
                    ", ".join(f"{k}×{v}" for k, v in counts.items()))


def scrub_text(text: str, where: str) -> str:
    """Redact ``text`` before it is stored in ``where``; log labels and count only."""
    redacted, labels = redact_secrets(text)
    log_redactions(where, labels)
    return redacted


def scrub_json(value: Any, where: str) -> Any:
    """Redact the strings of a JSON value before it is stored in ``where``; log labels only.

    A value without secrets comes back as the very same object.
    """
    redacted, labels = redact_json(value)
    log_redactions(where, labels)
    return redacted if labels else value
