"""Redact secrets from text before isokron stores it; report what was found by label only.

One pass guards every write of free text (memories, session messages, episodic
bodies, scratchpad entries, delegation previews, chain event payloads):
:func:`redact_secrets` for a string, :func:`redact_json` for the string values of a
JSON value. Rules are ordered most specific first; each replaces a secret with
``[REDACTED:<LABEL>]``. Ordinary prose, code, UUIDs, git SHAs and hex digests pass
unchanged (a test runs the standard library's docstrings through it).

Detected (labels): PRIVATE_KEY (PEM and PGP, with or without an END line),
DATABASE_URL_PASSWORD (``scheme://user:pw@``, empty user too), SLACK_WEBHOOK,
URL_QUERY_SECRET (``?key=``, ``&token=``, ``&signature=`` …), SECRET_ASSIGNMENT
(``PASSWORD=``, ``DB_PASS=``, ``*_SECRET_KEY=``, ``*_ACCESS_KEY=``, ``*_API_KEY=``,
``*_TOKEN=`` …), SECRET_FIELD (JSON ``"api_key": "…"``, YAML ``password: …``),
BEARER_TOKEN, BASIC_AUTH, JWT, GITHUB_TOKEN, SLACK_TOKEN (``xox[abeoprs]-``),
STRIPE_KEY (``sk_live_``/``rk_live_``/``*_test_``), GOOGLE_API_KEY (``AIza…``),
NPM_TOKEN, HUGGINGFACE_TOKEN, SENDGRID_KEY, TWILIO_KEY, SK_KEY (``sk-…``), GITLAB_TOKEN,
PYPI_TOKEN, TELEGRAM_BOT_TOKEN, AZURE_STORAGE_KEY (``AccountKey=``), MAILCHIMP_KEY,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (a 40-character key next to a key id),
BASE64_BLOB (64+ characters of mixed-alphabet base64). Zero-width characters
inside a token do not hide it.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Callable
from typing import Any

import attrs

__all__ = [
    "SECRET_KEY_WORDS",
    "log_redactions",
    "redact_json",
    "redact_secrets",
    "scrub_json",
    "scrub_text",
]

log = logging.getLogger("isokron.redact")

Replace = Callable[[re.Match[str]], str]


def _label(label: str) -> str:
    return f"[REDACTED:{label}]"


def _whole(label: str) -> Replace:
    return lambda m: _label(label)


def _keep_prefix(label: str) -> Replace:
    """Keep group 1 (the name and separator) and redact the rest of the match."""
    return lambda m: f"{m.group(1)}{_label(label)}"


def _has_mixed_alphabet(blob: str) -> bool:
    # Real keys mix cases and digits; a hex digest, a word or a path does not.
    return bool(re.search(r"[a-z]", blob) and re.search(r"[A-Z]", blob)
                and re.search(r"[0-9]", blob))


def _basic_auth(match: re.Match[str]) -> str:
    # "Basic <base64 of user:password>"; "Basic instructions" is prose, not a credential.
    blob = match.group(2)
    try:
        decoded = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return match.group(0)
    if ":" not in decoded or not decoded.isprintable():
        return match.group(0)
    return f"{match.group(1)} {_label('BASIC_AUTH')}"


#: Field names whose string value is a secret (JSON keys, YAML keys).
SECRET_KEY_WORDS = (
    "password", "passwd", "pwd", "passphrase", "secret", "client_secret", "secret_key",
    "api_key", "apikey", "api_token", "access_key", "access_token", "auth_token",
    "refresh_token", "token", "private_key", "credentials", "aws_secret_access_key",
)
_KEY_WORDS = "|".join(sorted(SECRET_KEY_WORDS, key=len, reverse=True))
_FIELD_NAME = re.compile(rf"^[A-Za-z0-9_.\-]*(?:{_KEY_WORDS})$", re.IGNORECASE)
# A YAML value that is a type annotation in code ("password: str"), not a secret.
_TYPE_LIKE = re.compile(
    r"^(?:str|bytes|int|bool|float|None|Any|object|SecretStr|Optional\[.*\]|.*\|\s*None|"
    r"[A-Z][A-Za-z_]*(?:\[.*\])?)(?:\s*=.*)?[,)]?$")


def _yaml_field(match: re.Match[str]) -> str:
    value = match.group(3)
    if _TYPE_LIKE.match(value) or value.endswith(":"):
        return match.group(0)
    return f"{match.group(1)}{match.group(2)}{_label('SECRET_FIELD')}"


# NAME=value / NAME: value. Scanned from each separator backwards (fast on long prose):
# UPPER_CASE names (environment files) hide any value; snake_case names in code only a
# literal or a key-shaped value, never an expression ("token = self._token").
_SEPARATOR = re.compile(r"[=:]")
_ENV_NAME = re.compile(
    r"(?:^|_)(?:API_?KEY|TOKEN|SECRET|SECRET_KEY|ACCESS_KEY|PASSWORD|PASSWD|PASS|PWD|"
    r"PRIVATE_KEY|CREDENTIALS)$")
_CODE_NAME = re.compile(r"_(?:api_?key|token|secret|password|passwd|secret_key|access_key)$")
_VALUE = re.compile(r"[ \t]*(\"[^\"]*\"|'[^']*'|[^\s\"',;)]+)")
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _assignment_secret(text: str, sep: int) -> tuple[int, int] | None:
    """Return the span of the secret value assigned at separator ``sep``, if any."""
    end = sep
    while end > 0 and text[end - 1] in " \t":
        end -= 1
    start = end
    while start > 0 and end - start < 80 and text[start - 1] in _NAME_CHARS:
        start -= 1
    name = text[start:end]
    if not name or (start > 0 and text[start - 1] in _NAME_CHARS):
        return None
    value = _VALUE.match(text, sep + 1)
    if value is None:
        return None
    literal = value.group(1)
    if name.isupper() and _ENV_NAME.search(name):
        return value.span(1)
    if text[sep] == "=" and name.islower() and _CODE_NAME.search(name):
        quoted = literal[:1] in "\"'" and len(literal) >= 2
        if quoted or (len(literal) >= 8 and _has_mixed_alphabet(literal)
                      and not re.search(r"[(.\[]", literal)):
            return value.span(1)
    return None


def _redact_assignments(text: str, found: list[str]) -> str:
    if "=" not in text and ":" not in text:
        return text
    parts: list[str] = []
    last = 0
    for sep in _SEPARATOR.finditer(text):
        if sep.start() < last:
            continue
        span = _assignment_secret(text, sep.start())
        if span is not None:
            parts += [text[last:span[0]], _label("SECRET_ASSIGNMENT")]
            last = span[1]
            found.append("SECRET_ASSIGNMENT")
    return "".join(parts) + text[last:] if parts else text


_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b")


@attrs.frozen
class _Rule:
    label: str
    pattern: re.Pattern[str]
    replace: Replace
    #: the rule runs only when this also matches the text (a secret's context)
    guard: re.Pattern[str] | None = None
    #: cheap pre-check: the rule runs only when one of these is in the (lower-cased) text
    needles: tuple[str, ...] = ()
    #: needles are matched case-sensitively against the text itself
    cased: bool = False
    #: the rule runs only when the text has a white-space separated token this long
    min_token: int = 0
    #: a hand-written scanner used instead of ``pattern.sub``
    scan: Callable[[str, list[str]], str] | None = None


def _run_of(length: int | None, label: str) -> Replace:
    """Redact a maximal run of key characters of ``length`` (any length >= the minimum if None)
    when it mixes letters and digits; the pattern has no look-behind, so it scans fast."""

    def replace(match: re.Match[str]) -> str:
        blob = match.group(0).rstrip("=")
        before = match.string[match.start() - 1:match.start()]
        if (length is not None and len(blob) != length) or (before and before in _KEY_CHARS):
            return match.group(0)
        return _label(label) + match.group(0)[len(blob):] if _has_mixed_alphabet(blob) else (
            match.group(0))

    return replace


_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")

_RULES: tuple[_Rule, ...] = (
    _Rule("PRIVATE_KEY", re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|.*\Z)", re.DOTALL),
        _whole("PRIVATE_KEY"), needles=("private key",)),
    _Rule("DATABASE_URL_PASSWORD", re.compile(
        r"\b([a-z][a-z0-9+.\-]*://[^\s:/@]*):([^\s@/]+)@", re.IGNORECASE),
        lambda m: f"{m.group(1)}:{_label('DATABASE_URL_PASSWORD')}@", needles=("://",)),
    _Rule("SLACK_WEBHOOK", re.compile(
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_\-]+"),
        _whole("SLACK_WEBHOOK"), needles=("hooks.slack.com",)),
    _Rule("URL_QUERY_SECRET", re.compile(
        r"([?&](?:key|api[_-]?key|token|access_token|auth|auth_token|secret|client_secret|"
        r"password|sig|signature|x-amz-signature|x-goog-signature|x-amz-credential)=)"
        r"([^&\s#\"'<>]+)", re.IGNORECASE),
        _keep_prefix("URL_QUERY_SECRET"), needles=("?", "&")),
    _Rule("SECRET_ASSIGNMENT", _SEPARATOR, _whole("SECRET_ASSIGNMENT"),
          scan=_redact_assignments),
    # JSON / Python mappings: a quoted secret-ish key with a quoted value.
    _Rule("SECRET_FIELD", re.compile(
        rf"([\"'][A-Za-z0-9_.\-]*(?:{_KEY_WORDS})[\"']\s*:\s*)(\"[^\"]*\"|'[^']*')",
        re.IGNORECASE),
        _keep_prefix("SECRET_FIELD"), needles=("\":", "':", "\" :", "' :")),
    # YAML: "password: value" as a line of its own (one token, not a type annotation).
    _Rule("SECRET_FIELD", re.compile(
        rf"^(\s*-?\s*[A-Za-z0-9_.\-]*(?:{_KEY_WORDS}))(\s*:\s*)([^\s#]+)[ \t]*$",
        re.IGNORECASE | re.MULTILINE),
        _yaml_field, needles=("pass", "pwd", "secret", "key", "token", "credentials")),
    _Rule("BEARER_TOKEN", re.compile(r"(Bearer)\s+[A-Za-z0-9\-._~+/]{8,}=*", re.IGNORECASE),
          lambda m: f"{m.group(1)} {_label('BEARER_TOKEN')}", needles=("bearer",)),
    _Rule("BASIC_AUTH", re.compile(r"(Basic)\s+([A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])",
                                   re.IGNORECASE), _basic_auth, needles=("basic",)),
    _Rule("JWT", re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
          _whole("JWT"), needles=("eyj",)),
    _Rule("GITHUB_TOKEN", re.compile(
        r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"), _whole("GITHUB_TOKEN"),
        needles=("gh", "github_pat_")),
    _Rule("SLACK_TOKEN", re.compile(r"xox[abeoprs]-[A-Za-z0-9\-]{10,}"), _whole("SLACK_TOKEN"),
          needles=("xox",)),
    _Rule("STRIPE_KEY", re.compile(r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"),
          _whole("STRIPE_KEY"), needles=("_live_", "_test_")),
    _Rule("GOOGLE_API_KEY", re.compile(r"AIza[0-9A-Za-z_\-]{35}"), _whole("GOOGLE_API_KEY"),
          needles=("aiza",)),
    _Rule("NPM_TOKEN", re.compile(r"npm_[A-Za-z0-9]{36}\b"), _whole("NPM_TOKEN"),
          needles=("npm_",)),
    _Rule("HUGGINGFACE_TOKEN", re.compile(r"hf_[A-Za-z0-9]{30,}\b"),
          _whole("HUGGINGFACE_TOKEN"), needles=("hf_",)),
    _Rule("SENDGRID_KEY", re.compile(r"SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"),
          _whole("SENDGRID_KEY"), needles=("sg.",)),
    _Rule("TWILIO_KEY", re.compile(r"SK[0-9a-fA-F]{32}\b"), _whole("TWILIO_KEY"),
          needles=("sk",)),
    _Rule("SK_KEY", re.compile(r"sk-[A-Za-z0-9_\-]{16,}"), _whole("SK_KEY"), needles=("sk-",)),
    _Rule("GITLAB_TOKEN", re.compile(r"glpat-[A-Za-z0-9_\-]{20,}"), _whole("GITLAB_TOKEN"),
          needles=("glpat-",)),
    _Rule("PYPI_TOKEN", re.compile(r"pypi-AgE[A-Za-z0-9_\-]{50,}"), _whole("PYPI_TOKEN"),
          needles=("pypi-age",)),
    _Rule("TELEGRAM_BOT_TOKEN", re.compile(r"(?<![0-9])[0-9]{8,10}:AA[A-Za-z0-9_\-]{33}"),
          _whole("TELEGRAM_BOT_TOKEN"), needles=(":aa",)),
    _Rule("AZURE_STORAGE_KEY", re.compile(r"(AccountKey=)([A-Za-z0-9+/]{40,}={0,2})"),
          _keep_prefix("AZURE_STORAGE_KEY"), needles=("accountkey=",)),
    _Rule("MAILCHIMP_KEY", re.compile(r"[0-9a-f]{32}-us[0-9]{1,2}\b"), _whole("MAILCHIMP_KEY"),
          needles=("-us",)),
    _Rule("AWS_SECRET_ACCESS_KEY", re.compile(r"[A-Za-z0-9/+]{40,}"),
          _run_of(40, "AWS_SECRET_ACCESS_KEY"), guard=_AWS_KEY_ID, min_token=40,
          needles=("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA"), cased=True),
    _Rule("AWS_ACCESS_KEY_ID", _AWS_KEY_ID, _whole("AWS_ACCESS_KEY_ID"),
          needles=("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA"), cased=True),
    _Rule("BASE64_BLOB", re.compile(r"[A-Za-z0-9+/]{64,}={0,2}"), _run_of(None, "BASE64_BLOB"),
          min_token=64),
)

# A zero-width character inside a token ("sk-\u200babc…") must not hide it.
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_ZERO_WIDTH_IN_TOKEN = re.compile(
    r"(?<=[A-Za-z0-9_\-])[\u200b\u200c\u200d\u2060\ufeff\u00ad]+(?=[A-Za-z0-9_\-])")


# Every rule's needles in one pattern: a single scan of the text tells which rules can
# apply (most text has none of them), instead of one ``in`` test per needle.
_NEEDLES = sorted({n.lower() for rule in _RULES for n in rule.needles}, key=len, reverse=True)
_ANY_NEEDLE = re.compile("(?=(" + "|".join(re.escape(n) for n in _NEEDLES) + "))")
# The scan reports the longest needle at each position; the shorter ones inside it count too.
_ALSO_FOUND = {n: frozenset(m for m in _NEEDLES if m in n) for n in _NEEDLES}
_RULE_NEEDLES = tuple(frozenset(n.lower() for n in rule.needles) for rule in _RULES)


def _needles_in(lower: str) -> frozenset[str]:
    present: set[str] = set()
    for needle in _ANY_NEEDLE.findall(lower):
        present |= _ALSO_FOUND[needle]
    return frozenset(present)


def _apply(text: str) -> tuple[str, list[str]]:
    found: list[str] = []
    lower = text.lower()
    present = _needles_in(lower)
    longest = max((len(token) for token in text.split()), default=0)
    for rule, needles in zip(_RULES, _RULE_NEEDLES, strict=True):
        if rule.scan is not None:
            text = rule.scan(text, found)
            continue
        if needles:
            if needles.isdisjoint(present):
                continue
            if rule.cased and not any(needle in text for needle in rule.needles):
                continue
        if longest < rule.min_token:
            continue
        if rule.guard is not None and not rule.guard.search(text):
            continue

        def sub(match: re.Match[str], _rule: _Rule = rule) -> str:
            out = _rule.replace(match)
            if out != match.group(0):
                found.append(_rule.label)
            return out

        text = rule.pattern.sub(sub, text)
    return text, found


def redact_secrets(text: str) -> tuple[str, list[str]]:
    """Return ``text`` with secrets replaced by ``[REDACTED:<LABEL>]`` and the labels found.

    Text without a secret comes back unchanged, character for character.
    """
    joined = _ZERO_WIDTH_IN_TOKEN.sub("", text) if _ZERO_WIDTH.search(text) else text
    redacted, found = _apply(joined)
    return (redacted, found) if found else (text, [])


def redact_json(value: Any) -> tuple[Any, list[str]]:
    """Redact every string in a JSON value (a secret-named key's string value wholesale)."""
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
            return {k: walk(v, k if isinstance(k, str) else None) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [walk(v, None) for v in item]
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
