"""Check isokron's settings: the value checks of IsoKronConfig's fields, and the error that
names a mistyped key together with the known one it most likely meant (difflib)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ..errors import ConfigError
from .dsn import redact_dsn

__all__ = ["at_least", "boolean", "check_dsn", "embedder_spec", "identifier", "one_of",
           "optional_text", "read_dsns", "similarity", "suggest_key", "unknown_keys_error"]


def check_dsn(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value.startswith(("postgres://", "postgresql://")):
        shown = redact_dsn(value) if isinstance(value, str) else repr(value)
        raise ConfigError(
            f"dsn must start with postgres:// or postgresql://, got {shown!r}", key="dsn"
        )


def read_dsns(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(
            isinstance(v, str) and v.startswith(("postgres://", "postgresql://")) for v in items):
        shown = ", ".join(redact_dsn(v) if isinstance(v, str) else repr(v)
                          for v in (items if isinstance(items, list | tuple) else [items]))
        raise ConfigError(f"read_dsn must be a postgres:// DSN or a list of them, got {shown}",
                          key="read_dsn")
    return tuple(items)


def at_least(minimum: float, *, strict: bool = False, integer: bool = False) -> Any:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        is_number = isinstance(value, int) or (not integer and isinstance(value, float))
        if isinstance(value, bool) or not is_number:
            what = "an integer" if integer else "a number"
            raise ConfigError(f"{attribute.name} must be {what}, got {value!r}",
                              key=attribute.name)
        number = float(value)
        if number < minimum or (strict and number == minimum):
            relation = ">" if strict else ">="
            raise ConfigError(f"{attribute.name} must be {relation} {minimum}, got {value!r}",
                              key=attribute.name)

    return check


def boolean(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{attribute.name} must be true or false, got {value!r}",
                          key=attribute.name)


def similarity(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A cosine similarity threshold: a number in (0, 1]."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ConfigError(f"{attribute.name} must be a number in (0, 1] (a cosine "
                          f"similarity), got {value!r}", key=attribute.name)


def one_of(*choices: str) -> Any:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in choices:
            raise ConfigError(f"{attribute.name} must be one of {', '.join(choices)}; got "
                              f"{value!r}", key=attribute.name)

    return check


def optional_text(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ConfigError(f"{attribute.name} must be a non-empty string, got {value!r}",
                          key=attribute.name)


def identifier(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", value):
        raise ConfigError(f"{attribute.name} must be a lower-case identifier, got {value!r}",
                          key=attribute.name)


def embedder_spec(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """An import path ``module:attr`` or OpenAI-compatible settings (checked in full when
    the embedder is loaded)."""
    if value is None:
        return
    if isinstance(value, str):
        module, colon, attr = value.partition(":")
        if colon and module.strip() and attr.strip():
            return
    elif isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return
    elif hasattr(value, "embed_documents") and hasattr(value, "embed_query"):
        return  # an embedder object (from Python)
    raise ConfigError(f"embedder must be 'module:attr', a mapping with provider: openai, or "
                      f"an embedder; got {value!r}", key=attribute.name)


def suggest_key(key: str, known: Iterable[str]) -> str | None:
    """The known key closest to ``key`` (difflib's ratio at least 0.6), or None."""
    matches = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown_keys_error(unknown: Iterable[str], known: Iterable[str], *,
                       what: str = "isokron setting", key_prefix: str = "") -> ConfigError:
    """A ConfigError naming each unknown key, with "did you mean" for a near miss.

    Without any near miss the message lists the known keys instead. ``key`` is the first
    unknown key (``key_prefix`` before it, e.g. ``embedder.``).
    """
    names = sorted(unknown)
    choices = sorted(set(known))
    parts = []
    for name in names:
        near = suggest_key(name, choices)
        parts.append(f"{name!r} (did you mean {near!r}?)" if near else repr(name))
    message = f"unknown {what}{'s' if len(names) > 1 else ''}: {', '.join(parts)}"
    if not any("did you mean" in part for part in parts):
        message += f" (known: {', '.join(choices)})"
    return ConfigError(message, key=f"{key_prefix}{names[0]}" if names else None)
