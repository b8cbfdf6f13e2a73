"""The documented limits on free-text and JSON inputs, checked before any SQL runs.

Every check raises :class:`~isokron.errors.InvalidInputError` naming the field and the
limit. Nesting depth is measured iteratively, so a 100,000-deep value is refused
without a RecursionError.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInputError

__all__ = [
    "MAX_ID_CHARS",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_MEMORY_CHARS",
    "MAX_MESSAGE_CHARS",
    "MAX_QUERY_CHARS",
    "MAX_TASK_CHARS",
    "MAX_TITLE_CHARS",
    "check_clean_text",
    "check_depth",
    "check_free_text",
]

#: a memory search query
MAX_QUERY_CHARS = 2_000
#: one memory's content
MAX_MEMORY_CHARS = 32_768
#: one session message's content
MAX_MESSAGE_CHARS = 1_000_000
#: a delegation's task or result text
MAX_TASK_CHARS = 100_000
#: a session title
MAX_TITLE_CHARS = 500
#: workspace, user and session ids
MAX_ID_CHARS = 128
#: nesting of any JSON value (episodic bodies, tool calls, session state, tool arguments)
MAX_JSON_DEPTH = 32
#: a tool call's arguments, serialised
MAX_JSON_BYTES = 1_000_000


def check_free_text(value: Any, name: str, *, max_chars: int, blank_ok: bool = False) -> str:
    """Return ``value`` if it is a str of at most ``max_chars`` characters, without NUL or
    lone surrogates (and not blank unless ``blank_ok``)."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string, got {type(value).__name__}")
    if len(value) > max_chars:
        raise InvalidInputError(
            f"{name} is {len(value):,} characters; the limit is {max_chars:,}")
    check_clean_text(value, name)
    if not blank_ok and not value.strip():
        raise InvalidInputError(f"{name} must be a non-blank string")
    return value


def check_clean_text(value: str, name: str) -> None:
    """Refuse NUL characters and lone surrogates (PostgreSQL stores neither)."""
    if "\x00" in value:
        raise InvalidInputError(f"{name} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{name} is not valid text: a lone surrogate at position {exc.start}") from None


_CONTAINERS = (dict, list, tuple)  # a tuple, not a union: built once, checked often


def check_depth(value: Any, name: str, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuse a JSON value nested deeper than ``max_depth`` (iteratively: no recursion).

    Only containers are visited: a scalar is never deeper than the container holding it.
    """
    if not isinstance(value, _CONTAINERS):
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        for child in (item.values() if isinstance(item, dict) else item):
            if isinstance(child, _CONTAINERS):
                if depth >= max_depth:
                    raise InvalidInputError(f"{name} is nested more than {max_depth} levels "
                                            f"deep; the limit is {max_depth}")
                stack.append((child, depth + 1))
