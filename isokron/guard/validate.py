"""Validate arguments before any SQL runs (the one validator); every failure names the bad
value in a bounded form (:func:`shown`)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sized
from datetime import datetime
from typing import Any

from ..errors import InvalidInputError
from .limits import MAX_ID_CHARS, check_clean_text, check_depth, check_free_text

__all__ = [
    "MAX_EMBEDDING_DIMS",
    "MAX_NAME_CHARS",
    "MAX_POLICY_PATH_CHARS",
    "MAX_SEARCH_NAMESPACES",
    "check_aware",
    "check_validity",
    "check_items",
    "check_limit",
    "check_policy_path",
    "check_text",
    "check_uuid",
    "check_workspace",
    "cut_text",
    "escape_like",
    "json_object_text",
    "shown",
]

#: namespace names, agent names, delegation ids, idempotency keys
MAX_NAME_CHARS = 256
#: namespaces one memory search may name
MAX_SEARCH_NAMESPACES = 100
#: dimensions of one embedding (pgvector's own maximum for a vector column)
MAX_EMBEDDING_DIMS = 16_000


def shown(value: Any, limit: int = 40) -> str:
    """Describe ``value`` for an error message: bounded in size, and never recursive (the
    repr of a 100,000-deep value raises RecursionError; of a 10 MB string, is 10 MB)."""
    if isinstance(value, str):
        head = repr(value[:limit])
        return head if len(value) <= limit else f"{head}... ({len(value):,} characters)"
    if value is None or isinstance(value, bool | float):
        return repr(value)
    if isinstance(value, int):  # str() of a 5,000-digit int raises ValueError
        return repr(value) if value.bit_length() <= 64 else (
            f"an integer of {value.bit_length():,} bits")
    if isinstance(value, uuid.UUID | datetime):
        return repr(str(value))
    try:
        size = f" of {len(value):,} items" if isinstance(value, Sized) else ""
    except Exception:  # a __len__ that raises tells nothing useful
        size = ""
    return f"a {type(value).__name__}{size}"


def check_workspace(value: Any) -> str:
    """Return ``value`` if it is a usable workspace id (a clean, non-blank str of
    1..MAX_ID_CHARS)."""
    if not isinstance(value, str):
        raise InvalidInputError(f"workspace_id must be a string, got {shown(value)}")
    if len(value) > MAX_ID_CHARS:
        raise InvalidInputError(
            f"workspace_id is {len(value):,} characters; the limit is {MAX_ID_CHARS:,}")
    if not value.strip():
        raise InvalidInputError(f"workspace_id must be a non-empty string, got {shown(value)}")
    return check_free_text(value, "workspace_id", max_chars=MAX_ID_CHARS)


def check_limit(limit: Any, name: str = "limit") -> int:
    """Return ``limit`` if it is a positive int, else raise InvalidInputError naming it."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {shown(limit)}")
    return limit


_POLICY_PATH = re.compile(r"policy\.[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*")
#: longest policy path (``policy.`` included)
MAX_POLICY_PATH_CHARS = 200


def check_policy_path(value: Any) -> str:
    """Return ``value`` if it is a policy registry path: ``policy.`` then dot-separated
    lower-case words (``policy.kora_disabled``, ``policy.kora_token_ceiling.opus``)."""
    if (not isinstance(value, str) or len(value) > MAX_POLICY_PATH_CHARS
            or _POLICY_PATH.fullmatch(value) is None):
        raise InvalidInputError(
            f"policy path must be 'policy.' then dot-separated lower-case words "
            f"(a-z, 0-9, _), at most {MAX_POLICY_PATH_CHARS} characters, got {shown(value)}")
    return value


def escape_like(value: str) -> str:
    r"""Escape LIKE wildcards (``%``, ``_``) and the escape char ``\`` in ``value``."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def check_items(value: Any, name: str) -> list[Any]:
    """Return ``value`` as a list if it is a list, tuple or other iterable of items (a str,
    bytes or mapping is not: iterating one would give characters or keys)."""
    if isinstance(value, str | bytes | bytearray | Mapping) or not isinstance(value, Iterable):
        raise InvalidInputError(f"{name} must be a list, got {shown(value)}")
    return list(value)


def check_text(
    value: Any, name: str, *, max_len: int, min_len: int = 1, optional: bool = False
) -> str | None:
    """Return ``value`` if it is a str of ``min_len..max_len`` chars without NUL."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string, got {shown(value)}")
    if not min_len <= len(value) <= max_len:  # the length first: it costs nothing
        raise InvalidInputError(
            f"{name} must be {min_len}..{max_len} characters, got {len(value)}: {value[:40]!r}"
        )
    check_clean_text(value, name)
    return value


def check_uuid(value: Any, name: str) -> uuid.UUID:
    """Return ``value`` as a UUID (str or UUID accepted)."""
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str) and len(value) <= 64:
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise InvalidInputError(f"{name} must be a UUID, got {shown(value)}")


def check_aware(value: Any, name: str, *, optional: bool = True) -> datetime | None:
    """Return ``value`` if it is a timezone-aware datetime (or None when optional)."""
    if value is None and optional:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(f"{name} must be a timezone-aware datetime, got {shown(value)}")
    return value


def check_validity(valid_from: Any, valid_to: Any) -> None:
    """Check a valid-time interval: aware datetimes (or None), ``valid_to`` after
    ``valid_from`` when both are given."""
    start = check_aware(valid_from, "valid_from")
    end = check_aware(valid_to, "valid_to")
    if start is not None and end is not None and end <= start:
        raise InvalidInputError(f"valid_to ({end.isoformat()}) must be after valid_from "
                                f"({start.isoformat()})")


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
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{name} is not valid text: a lone surrogate at position {exc.start}") from None
    if "\\u0000" in text or "\x00" in text:
        raise InvalidInputError(f"{name} must not contain NUL characters")
    if size > max_bytes:
        raise InvalidInputError(f"{name} is {size} bytes; the limit is {max_bytes}")
    return text


def cut_text(value: str, limit: int) -> str:
    """Cut ``value`` to at most ``limit`` characters (code points, never half a character)."""
    return value if len(value) <= limit else value[:limit]
