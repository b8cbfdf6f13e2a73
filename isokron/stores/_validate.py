"""Validate store arguments before any SQL runs; every failure names the bad value."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from ..errors import InvalidInputError
from ..limits import check_clean_text, check_depth

__all__ = [
    "check_aware",
    "check_text",
    "check_uuid",
    "cut_text",
    "json_object_text",
]


def check_text(
    value: Any, name: str, *, max_len: int, min_len: int = 1, optional: bool = False
) -> str | None:
    """Return ``value`` if it is a str of ``min_len..max_len`` chars without NUL."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string, got {type(value).__name__}")
    check_clean_text(value, name)
    if not min_len <= len(value) <= max_len:
        raise InvalidInputError(
            f"{name} must be {min_len}..{max_len} characters, got {len(value)}: {value[:40]!r}"
        )
    return value


def check_uuid(value: Any, name: str) -> uuid.UUID:
    """Return ``value`` as a UUID (str or UUID accepted)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        raise InvalidInputError(f"{name} must be a UUID, got {value!r}") from None


def check_aware(value: Any, name: str, *, optional: bool = True) -> datetime | None:
    """Return ``value`` if it is a timezone-aware datetime (or None when optional)."""
    if value is None and optional:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value


def json_object_text(value: Any, name: str, *, max_bytes: int) -> str:
    """Serialise a JSON object (dict) to text, bounded in size and free of NUL."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise InvalidInputError(f"{name} must be a JSON object (dict), got {type(value).__name__}")
    check_depth(value, name)
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} is not JSON-serialisable: {exc}") from None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{name} is not valid text: a lone surrogate at position {exc.start}") from None
    if "\\u0000" in text or "\x00" in text:
        raise InvalidInputError(f"{name} must not contain NUL characters")
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise InvalidInputError(f"{name} is {size} bytes; the limit is {max_bytes}")
    return text


def cut_text(value: str, limit: int) -> str:
    """Cut ``value`` to at most ``limit`` characters (code points, never half a character)."""
    return value if len(value) <= limit else value[:limit]
