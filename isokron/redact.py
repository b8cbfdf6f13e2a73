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
NPM_TOKEN, HUGGINGFACE_TOKEN, SENDGRID_KEY, TWILIO_KEY, SK_KEY (``sk-…``),
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

__all__ = ["SECRET_KEY_WORDS", "log_redactions", "redact_json", "redact_secrets"]

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


def _code_assignment(match: re.Match[str]) -> str:
    # lower_case names in code: only a literal or a key-shaped value is a secret, never an
    # expression ("token = self._token", "password = getpass.getpass()").
    value = match.group(3)
    quoted = value[:1] in "\"'" and len(value) >= 2
    if quoted or (len(value) >= 8 and _has_mixed_alphabet(value) and not re.search(r"[(.\[]",
                                                                                    value)):
        return f"{match.group(1)}{match.group(2)}{_label('SECRET_ASSIGNMENT')}"
    return match.group(0)


_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b")


@attrs.frozen
class _Rule:
    label: str
    pattern: re.Pattern[str]
    replace: Replace
    #: the rule runs only when this also matches the text (a secret's context)
    guard: re.Pattern[str] | None = None


_RULES: tuple[_Rule, ...] = (
    _Rule("PRIVATE_KEY", re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|.*\Z)", re.DOTALL),
        _whole("PRIVATE_KEY")),
    _Rule("DATABASE_URL_PASSWORD", re.compile(
        r"\b([a-z][a-z0-9+.\-]*://[^\s:/@]*):([^\s@/]+)@", re.IGNORECASE),
        lambda m: f"{m.group(1)}:{_label('DATABASE_URL_PASSWORD')}@"),
    _Rule("SLACK_WEBHOOK", re.compile(
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_\-]+"),
        _whole("SLACK_WEBHOOK")),
    _Rule("URL_QUERY_SECRET", re.compile(
        r"([?&](?:key|api[_-]?key|token|access_token|auth|auth_token|secret|client_secret|"
        r"password|sig|signature|x-amz-signature|x-goog-signature|x-amz-credential)=)"
        r"([^&\s#\"'<>]+)", re.IGNORECASE),
        _keep_prefix("URL_QUERY_SECRET")),
    # Environment style: an UPPER_CASE name ending in a secret word, any value.
    _Rule("SECRET_ASSIGNMENT", re.compile(
        r"\b((?:[A-Z0-9_]*_)?(?:API_?KEY|TOKEN|SECRET|SECRET_KEY|ACCESS_KEY|PASSWORD|PASSWD|"
        r"PASS|PWD|PRIVATE_KEY|CREDENTIALS)(?:\s*[=:]\s*))(\"[^\"]*\"|'[^']*'|[^\s\"',;]+)"),
        _keep_prefix("SECRET_ASSIGNMENT")),
    # Code style: a snake_case name with a literal or key-shaped value.
    _Rule("SECRET_ASSIGNMENT", re.compile(
        r"\b([a-z0-9_]*_(?:api_?key|token|secret|password|passwd|secret_key|access_key))"
        r"(\s*=\s*)(\"[^\"]*\"|'[^']*'|[^\s\"',;)]+)"),
        _code_assignment),
    # JSON / Python mappings: a quoted secret-ish key with a quoted value.
    _Rule("SECRET_FIELD", re.compile(
        rf"([\"'][A-Za-z0-9_.\-]*(?:{_KEY_WORDS})[\"']\s*:\s*)(\"[^\"]*\"|'[^']*')",
        re.IGNORECASE),
        _keep_prefix("SECRET_FIELD")),
    # YAML: "password: value" as a line of its own (one token, not a type annotation).
    _Rule("SECRET_FIELD", re.compile(
        rf"^(\s*-?\s*[A-Za-z0-9_.\-]*(?:{_KEY_WORDS}))(\s*:\s*)([^\s#]+)[ \t]*$",
        re.IGNORECASE | re.MULTILINE),
        _yaml_field),
    _Rule("BEARER_TOKEN", re.compile(r"\b(Bearer)\s+[A-Za-z0-9\-._~+/]{8,}=*", re.IGNORECASE),
          lambda m: f"{m.group(1)} {_label('BEARER_TOKEN')}"),
    _Rule("BASIC_AUTH", re.compile(r"\b(Basic)\s+([A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])",
                                   re.IGNORECASE), _basic_auth),
    _Rule("JWT", re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
          _whole("JWT")),
    _Rule("GITHUB_TOKEN", re.compile(
        r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b"),
        _whole("GITHUB_TOKEN")),
    _Rule("SLACK_TOKEN", re.compile(r"\bxox[abeoprs]-[A-Za-z0-9\-]{10,}"), _whole("SLACK_TOKEN")),
    _Rule("STRIPE_KEY", re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"),
          _whole("STRIPE_KEY")),
    _Rule("GOOGLE_API_KEY", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"), _whole("GOOGLE_API_KEY")),
    _Rule("NPM_TOKEN", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"), _whole("NPM_TOKEN")),
    _Rule("HUGGINGFACE_TOKEN", re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"),
          _whole("HUGGINGFACE_TOKEN")),
    _Rule("SENDGRID_KEY", re.compile(r"\bSG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"),
          _whole("SENDGRID_KEY")),
    _Rule("TWILIO_KEY", re.compile(r"\bSK[0-9a-fA-F]{32}\b"), _whole("TWILIO_KEY")),
    _Rule("SK_KEY", re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"), _whole("SK_KEY")),
    _Rule("AWS_SECRET_ACCESS_KEY",
          re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
          lambda m: _label("AWS_SECRET_ACCESS_KEY") if _has_mixed_alphabet(m.group(0))
          else m.group(0), guard=_AWS_KEY_ID),
    _Rule("AWS_ACCESS_KEY_ID", _AWS_KEY_ID, _whole("AWS_ACCESS_KEY_ID")),
    _Rule("BASE64_BLOB",
          re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{64,}={0,2}(?![A-Za-z0-9+/=])"),
          lambda m: _label("BASE64_BLOB") if _has_mixed_alphabet(m.group(0)) else m.group(0)),
)

# A zero-width character inside a token ("sk-\u200babc…") must not hide it.
_ZERO_WIDTH_IN_TOKEN = re.compile(
    r"(?<=[A-Za-z0-9_\-])[\u200b\u200c\u200d\u2060\ufeff\u00ad]+(?=[A-Za-z0-9_\-])")


def _apply(text: str) -> tuple[str, list[str]]:
    found: list[str] = []
    for rule in _RULES:
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
    joined = _ZERO_WIDTH_IN_TOKEN.sub("", text)
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
