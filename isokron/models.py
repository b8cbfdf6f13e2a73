"""Define the frozen records isokron returns; each is built from a row by ``from_row``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar, cast

import asyncpg
import attrs

__all__ = [
    "AgentMessage",
    "AgentSession",
    "CapabilityRow",
    "ChainEvent",
    "ConstitutionRevision",
    "Delegation",
    "EpisodicEvent",
    "MemoryRecord",
    "PolicyEntry",
    "RoleCharter",
    "RoleCharterSections",
    "ScratchpadEntry",
    "SessionContext",
    "hex_digest",
]

#: A database row, or any mapping with the same keys (the fake uses dicts).
Row = Mapping[str, Any] | asyncpg.Record
_HEX = re.compile(r"^[0-9a-f]*$")


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(item) for item in value)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


_HEX_TEXT = re.compile(r"(?:[0-9a-fA-F]{2})+")


def hex_digest(value: Any) -> str:
    """Return bytes-like ``value`` as lower-case hex; a str that is already hex passes
    through (lower-cased), as the original encoder accepts; reject anything else."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, str) and _HEX_TEXT.fullmatch(value):
        return value.lower()
    raise TypeError(f"expected bytes, bytearray, memoryview or a hex str, got "
                    f"{type(value).__name__}")


def decode_json(value: Any) -> Any:
    """Decode JSON text (stores select JSON columns ``::text``); pass other values through."""
    if isinstance(value, str | bytes | bytearray):
        return json.loads(value)
    return value


@attrs.frozen(kw_only=True)
class RoleCharterSections:
    """Hold the nine sections of a role charter (list sections as tuples)."""

    identity: str
    authority_can_do: tuple[str, ...]
    authority_cannot_do: tuple[str, ...]
    override_preconditions: tuple[str, ...]
    escalation_triggers: tuple[str, ...]
    per_session_discipline: tuple[str, ...]
    audit_attribution: str
    charter_modification: str
    effective_date_clause: str

    @classmethod
    def from_json(cls, sections: Mapping[str, Any]) -> RoleCharterSections:
        """Build from the ``sections`` object of ``content_jsonb`` (missing keys are empty)."""
        return cls(
            identity=_text(sections.get("identity")),
            authority_can_do=_tuple(sections.get("authority_can_do")),
            authority_cannot_do=_tuple(sections.get("authority_cannot_do")),
            override_preconditions=_tuple(sections.get("override_preconditions")),
            escalation_triggers=_tuple(sections.get("escalation_triggers")),
            per_session_discipline=_tuple(sections.get("per_session_discipline")),
            audit_attribution=_text(sections.get("audit_attribution")),
            charter_modification=_text(sections.get("charter_modification")),
            effective_date_clause=_text(sections.get("effective_date_clause")),
        )


@attrs.frozen(kw_only=True)
class RoleCharter:
    """Hold a verified, active role charter."""

    id: str
    workspace_id: str
    schema_version: str
    charter_version: str
    content_md: str
    content_hash: str
    sections: RoleCharterSections
    created_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> RoleCharter:
        """Build from a ``kora_role_charter`` row (``content_jsonb`` as object or text)."""
        content = decode_json(row["content_jsonb"]) or {}
        if not isinstance(content, Mapping):
            raise TypeError(f"content_jsonb must be a JSON object, got {type(content).__name__}")
        return cls(
            id=str(row["id"]),
            workspace_id=row["workspace_id"],
            schema_version=row["schema_version"],
            charter_version=_text(content.get("charter_version")),
            content_md=row["content_md"],
            content_hash=row["content_hash"],
            sections=RoleCharterSections.from_json(content.get("sections") or {}),
            created_at=row["created_at"],
        )


@attrs.frozen(kw_only=True)
class PolicyEntry:
    """Hold one policy path and its decoded JSON value."""

    path: str
    value: Any

    @classmethod
    def from_row(cls, row: Row) -> PolicyEntry:
        """Build from a ``kora_policy_registry`` row whose value the driver already decoded."""
        return cls(path=row["policy_path"], value=row["policy_value"])


@attrs.frozen(kw_only=True)
class CapabilityRow:
    """Hold one actor kind's granted and denied capabilities."""

    actor_kind: str
    granted: frozenset[str]
    denied: frozenset[str]

    def has(self, cap: str) -> bool:
        """Tell whether ``cap`` is granted; unknown capabilities are not (fail-closed)."""
        return cap in self.granted and cap not in self.denied

    @property
    def total(self) -> int:
        """Count every capability known for the actor kind."""
        return len(self.granted | self.denied)

    @classmethod
    def from_rows(cls, actor_kind: str, rows: Iterable[Row]) -> CapabilityRow:
        """Build from ``(cap_name, granted)`` rows of ``actor_capability_matrix``."""
        granted: set[str] = set()
        denied: set[str] = set()
        for row in rows:
            (granted if row["granted"] else denied).add(row["cap_name"])
        return cls(actor_kind=actor_kind, granted=frozenset(granted), denied=frozenset(denied))


@attrs.frozen(kw_only=True)
class ScratchpadEntry:
    """Hold one active scratchpad entry (actor kind resolved through actor_registry)."""

    id: str
    actor_kind: str
    actor_label: str
    kind: str
    visibility_scope: str
    content_inline: str | None
    content_uri: str | None
    content_hash: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> ScratchpadEntry:
        """Build from the scratchpad join row."""
        return cls(
            id=str(row["scratchpad_entry_id"]),
            actor_kind=row["actor_kind"],
            actor_label=row["display_name"],
            kind=str(row["scratchpad_kind"]),
            visibility_scope=str(row["visibility_scope"]),
            content_inline=row["content_inline"],
            content_uri=row["content_uri"],
            content_hash=row["content_hash"],
            created_at=row["created_at"],
        )


@attrs.frozen(kw_only=True)
class ChainEvent:
    """Hold one recent chain event with a short, pretty payload summary."""

    event_id: str
    event_type: str
    occurred_at: datetime
    payload_summary: str

    @classmethod
    def from_row(cls, row: Row) -> ChainEvent:
        """Build from an ``event_log`` row carrying ``payload_summary``."""
        return cls(
            event_id=str(row["event_id"]),
            event_type=row["event_type"],
            occurred_at=row["occurred_at"],
            payload_summary=row["payload_summary"],
        )


@attrs.frozen(kw_only=True)
class ConstitutionRevision:
    """Hold the active constitution revision; ``rules_hash`` is lower-case hex."""

    revision_id: str
    revision_number: int
    rules_hash: str = attrs.field(validator=attrs.validators.matches_re(_HEX))

    @classmethod
    def from_row(cls, row: Row) -> ConstitutionRevision:
        """Build from a revision row whose ``rules_hash`` is bytes-like."""
        return cls(
            revision_id=str(row["revision_id"]),
            revision_number=int(row["revision_number"]),
            rules_hash=hex_digest(row["rules_hash"]),
        )


@attrs.frozen(kw_only=True)
class SessionContext:
    """Hold one immutable snapshot of an agent's governed identity."""

    workspace_id: str
    assembled_at: datetime
    role_charter: RoleCharter
    policies: tuple[PolicyEntry, ...]
    capability_row: CapabilityRow
    own_scratchpad: tuple[ScratchpadEntry, ...]
    cross_agent_scratchpad: tuple[ScratchpadEntry, ...]
    recent_events: tuple[ChainEvent, ...]
    constitution: ConstitutionRevision | None

    @property
    def actor_kind(self) -> str:
        """Return the actor kind this context was assembled for."""
        return self.capability_row.actor_kind

    def policy(self, path: str) -> PolicyEntry | None:
        """Return the policy at ``path`` or None."""
        return next((p for p in self.policies if p.path == path), None)


# -- isokron's own stores ------------------------------------------------------
# Field names are the tables' column names; converters normalise driver values
# (UUIDs to str, JSON selected as text to Python), so one ``from_row`` serves all.

R = TypeVar("R")


def _from_columns(cls: type[R], row: Row) -> R:
    """Build an attrs record whose fields are named after its table's columns."""
    names = [field.name for field in attrs.fields(cast(Any, cls))]
    return cls(**{name: row[name] for name in names})


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _json_dict(value: Any) -> dict[str, Any]:
    return dict(decode_json(value))


@attrs.frozen(kw_only=True)
class EpisodicEvent:
    """Hold one per-agent episodic event."""

    id: str = attrs.field(converter=str)
    agent_id: str = attrs.field(converter=str)
    created_at: datetime
    event_type: str
    sender: str | None
    recipient: str | None
    body: dict[str, Any] = attrs.field(converter=_json_dict)
    inference_receipt_id: str | None
    audit_event_hash: str | None

    @classmethod
    def from_row(cls, row: Row) -> EpisodicEvent:
        """Build from an ``agent_episodic_events`` row."""
        return _from_columns(cls, row)


@attrs.frozen(kw_only=True)
class Delegation:
    """Hold one delegation ledger row."""

    delegation_id: str
    workspace_id: str
    caller_id: str = attrs.field(converter=str)
    callee_id: str = attrs.field(converter=str)
    task_preview: str
    status: str
    last_heartbeat: datetime | None
    deadline: datetime
    result_preview: str | None
    error_detail: str | None
    retry_count: int
    idempotency_key: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> Delegation:
        """Build from an ``isokron.delegations`` row."""
        return _from_columns(cls, row)


@attrs.frozen(kw_only=True)
class MemoryRecord:
    """Hold one namespaced memory."""

    id: str = attrs.field(converter=str)
    namespace: str
    content: str
    kind: str
    source: str
    pin: bool
    expires_at: datetime | None
    created_at: datetime
    # Transaction time (learned, retracted), valid time (as the writer said), the lineage,
    # how often the same content was committed, the near-duplicate it was reported against,
    # its user, and whether a commit returned this existing record instead of a new one.
    recorded_at: datetime | None = None
    retracted_at: datetime | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    supersedes: str | None = attrs.field(default=None, converter=_optional_str)
    superseded_by: str | None = attrs.field(default=None, converter=_optional_str)
    seen_count: int = 1
    last_seen_at: datetime | None = None
    duplicate_of: str | None = attrs.field(default=None, converter=_optional_str)
    user_id: str | None = None
    deduplicated: bool = False

    @classmethod
    def from_row(cls, row: Row) -> MemoryRecord:
        """Build from an ``isokron.memory_records`` row or its JSON (lifecycle optional)."""
        present = set(row.keys())
        return cls(**{f.name: row[f.name] for f in attrs.fields(cls) if f.name in present})


@attrs.frozen(kw_only=True)
class AgentSession:
    """Hold one agent session."""

    id: str = attrs.field(converter=str)
    tenant_id: str
    user_id: str
    agent_name: str
    title: str | None
    state: dict[str, Any] = attrs.field(converter=_json_dict)
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> AgentSession:
        """Build from an ``isokron.agent_sessions`` row."""
        return _from_columns(cls, row)


@attrs.frozen(kw_only=True)
class AgentMessage:
    """Hold one message of an agent session."""

    id: str = attrs.field(converter=str)
    session_id: str = attrs.field(converter=str)
    seq: int
    role: str
    content: str | None
    tool_calls: Any = attrs.field(converter=decode_json)
    tenant_id: str
    user_id: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> AgentMessage:
        """Build from an ``isokron.agent_messages`` row."""
        return _from_columns(cls, row)

