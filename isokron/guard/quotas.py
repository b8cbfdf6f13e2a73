"""The quota settings (``quota_*`` config keys): their defaults, checks and descriptions.

PostgreSQL enforces them (``schema/0028_quotas.sql``, ``0030_quota_gaps.sql``): the
schema's own table of limits is the authority, its defaults the ones below. These keys
reach it when an operator applies them as the schema's owner (``isokron quota apply``);
a runtime connection can neither raise nor lower them. ``quota_result_bytes`` is also
applied by the MCP server itself to every tool result it sends.
"""

from __future__ import annotations

from typing import Any

import attrs

from ..errors import ConfigError

__all__ = ["QUOTA_DEFAULTS", "QUOTA_DESCRIPTIONS", "QUOTA_KEYS", "QuotaSettings"]

#: the largest limit PostgreSQL stores (bigint)
_MAX = 2**63 - 1

#: every quota key and its default (the same as the '*' row of isokron.quota_limits)
QUOTA_DEFAULTS: dict[str, int] = {
    "quota_sessions_per_user": 1000,
    "quota_messages_per_session": 100_000,
    "quota_session_bytes": 32 * 1024 * 1024,
    "quota_message_bytes": 4 * 1024 * 1024,
    "quota_memory_rows": 100_000,
    "quota_memory_bytes": 1024 * 1024 * 1024,
    "quota_result_bytes": 256 * 1024,
    "quota_sessions_per_tenant": 100_000,
    "quota_events_per_tenant": 1_000_000,
    "quota_event_bytes": 1024 * 1024,
}
QUOTA_KEYS = tuple(QUOTA_DEFAULTS)

QUOTA_DESCRIPTIONS: dict[str, str] = {
    "quota_sessions_per_user": "sessions one user of a tenant may hold (enforced in PostgreSQL)",
    "quota_messages_per_session": "messages one session may hold (enforced in PostgreSQL)",
    "quota_session_bytes": "bytes of one session: its messages' content + tool calls, and "
                           "its own agent name, title and state",
    "quota_message_bytes": "bytes of one message, content + tool calls",
    "quota_memory_rows": "memories one namespace may hold (enforced in PostgreSQL)",
    "quota_memory_bytes": "bytes of one namespace's memories, content + metadata + embedding",
    "quota_result_bytes": "largest tool result the MCP server sends (items beyond are cut)",
    "quota_sessions_per_tenant": "sessions one tenant may hold over all its users "
                                 "(enforced in PostgreSQL)",
    "quota_events_per_tenant": "chain events (hivex_foundation.event_log) one workspace may "
                               "append; the log is append-only, nothing frees them",
    "quota_event_bytes": "bytes of one chain event's payload (its jsonb text)",
}

#: the smallest accepted value of each key (a result needs room for its envelope)
_MINIMUM = {"quota_result_bytes": 1024}


def _limit(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    minimum = _MINIMUM.get(attribute.name, 1)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= _MAX:
        raise ConfigError(f"{attribute.name} must be a whole number in {minimum}..{_MAX}, "
                          f"got {value!r}", key=attribute.name)


def _field(name: str) -> Any:
    return attrs.field(default=QUOTA_DEFAULTS[name], validator=_limit)


@attrs.frozen(kw_only=True)
class QuotaSettings:
    """The ``quota_*`` keys of :class:`~isokron.config.IsoKronConfig` (its base class)."""

    quota_sessions_per_user: int = _field("quota_sessions_per_user")
    quota_messages_per_session: int = _field("quota_messages_per_session")
    quota_session_bytes: int = _field("quota_session_bytes")
    quota_message_bytes: int = _field("quota_message_bytes")
    quota_memory_rows: int = _field("quota_memory_rows")
    quota_memory_bytes: int = _field("quota_memory_bytes")
    quota_result_bytes: int = _field("quota_result_bytes")
    quota_sessions_per_tenant: int = _field("quota_sessions_per_tenant")
    quota_events_per_tenant: int = _field("quota_events_per_tenant")
    quota_event_bytes: int = _field("quota_event_bytes")

    def quotas(self) -> dict[str, int]:
        """Every quota key and its value here."""
        return {key: getattr(self, key) for key in QUOTA_KEYS}
