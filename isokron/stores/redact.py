"""Redact secrets from text before it is stored; report what was found by label only."""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["redact_secrets"]


def _label(label: str) -> str:
    return f"[REDACTED:{label}]"


def _has_mixed_alphabet(blob: str) -> bool:
    # Real base64 mixes cases and digits; a hex digest or a long word does not.
    return bool(re.search(r"[a-z]", blob) and re.search(r"[A-Z]", blob)
                and re.search(r"[0-9]", blob))


# (label, pattern, replacement); applied in order, most specific first.
_RULES: list[tuple[str, re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    ("PRIVATE_KEY",
     re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?-----END (?:[A-Z0-9]+ )*PRIVATE "
                r"KEY-----", re.DOTALL),
     lambda m: _label("PRIVATE_KEY")),
    ("DATABASE_URL_PASSWORD",
     re.compile(r"\b([a-z][a-z0-9+.\-]*://[^\s:/@]+):([^\s@/]+)@", re.IGNORECASE),
     lambda m: f"{m.group(1)}:{_label('DATABASE_URL_PASSWORD')}@"),
    ("SECRET_ASSIGNMENT",
     re.compile(r"\b([A-Za-z0-9_]*_(?:API_KEY|TOKEN|SECRET|PASSWORD))(\s*[=:]\s*)"
                r"(\"[^\"]*\"|'[^']*'|[^\s\"']+)", re.IGNORECASE),
     lambda m: f"{m.group(1)}{m.group(2)}{_label('SECRET_ASSIGNMENT')}"),
    ("BEARER_TOKEN",
     re.compile(r"\b(Bearer)\s+[A-Za-z0-9\-._~+/]{8,}=*", re.IGNORECASE),
     lambda m: f"{m.group(1)} {_label('BEARER_TOKEN')}"),
    ("GITHUB_TOKEN",
     re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b"),
     lambda m: _label("GITHUB_TOKEN")),
    ("SK_KEY",
     re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"),
     lambda m: _label("SK_KEY")),
    ("AWS_ACCESS_KEY_ID",
     re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b"),
     lambda m: _label("AWS_ACCESS_KEY_ID")),
    ("BASE64_BLOB",
     re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{64,}={0,2}(?![A-Za-z0-9+/=])"),
     lambda m: _label("BASE64_BLOB") if _has_mixed_alphabet(m.group(0)) else m.group(0)),
]


def redact_secrets(text: str) -> tuple[str, list[str]]:
    """Return ``text`` with secrets replaced by ``[REDACTED:<LABEL>]`` and the labels found."""
    found: list[str] = []
    for label, pattern, replace in _RULES:
        def sub(match: re.Match[str], _label: str = label,
                _replace: Callable[[re.Match[str]], str] = replace) -> str:
            out = _replace(match)
            if out != match.group(0):
                found.append(_label)
            return out

        text = pattern.sub(sub, text)
    return text, found
