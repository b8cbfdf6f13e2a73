"""Append-only, per-agent episodic events; the workspace must own the agent.

Rows carry ``workspace_id``; PostgreSQL itself enforces ownership (a composite foreign
key to ``actor_registry (workspace_id, actor_id)``) and row-level security keeps each
workspace's events to itself.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import asyncpg

from .. import telemetry
from ..db.tenancy import WORKSPACE_SETTING, lean_token, signed_call
from ..errors import InvalidInputError, NotOwnedError
from ..guard.redact import scrub_json, scrub_text
from ..guard.validate import (
    check_aware,
    check_items,
    check_text,
    check_uuid,
    check_workspace,
    json_object_text,
    shown,
)
from ..models import EpisodicEvent
from ..pool import DB, acquire, translate_errors
from ._json import timestamps

__all__ = ["DEFAULT_MAX_BODY_BYTES", "EpisodicEventStore"]

DEFAULT_MAX_BODY_BYTES = 64 * 1024
# One round trip each (migration 0007): the tenant setting, the ownership check, the work.
_APPEND = signed_call(
    "SELECT isokron.episodic_append_v3($1, $2, $3, $4, $5, $6, $7, $8, $9)::text")
_APPEND_ONE = signed_call(
    "SELECT isokron.episodic_append_one_v1($1, $2, $3, $4, $5, $6, $7, $8, $9)")
#: The foreign key that makes an event's agent one of its workspace's (migration 0040).
_OWNER_KEY = "agent_episodic_events_workspace_agent_fkey"
_LIST = signed_call("SELECT isokron.episodic_list_v1($1, $2, $3, $4, $5)::text")


def _list_sql(*, by_type: bool) -> str:
    """Return the statement episodic_list_v1 runs for a filter combination (for EXPLAIN).

    Parameters: $1 workspace, $2 agent, $3 limit, $4 since (or NULL), $5 event type.
    """
    type_filter = "\n                   AND x.event_type = $5" if by_type else ""
    return f"""
SELECT id, agent_id, created_at, event_type, sender, recipient,
       body::text AS body, inference_receipt_id, audit_event_hash, seq
  FROM isokron.agent_episodic_events x
 WHERE x.workspace_id = $1 AND x.agent_id = $2{type_filter}
   AND x.created_at >= coalesce($4::timestamptz, '-infinity')
 ORDER BY x.created_at DESC, x.seq DESC
 LIMIT $3
"""


def _written(row: tuple[Any, ...], agent: uuid.UUID, created: datetime) -> EpisodicEvent:
    """The event a validated row (:meth:`EpisodicEventStore._row`) became once stored."""
    return EpisodicEvent(
        id=row[0], agent_id=agent, created_at=created, event_type=row[1], sender=row[2],
        recipient=row[3], body=row[4], inference_receipt_id=row[5], audit_event_hash=row[6])


class EpisodicEventStore:
    """Append and list an agent's episodic events (no update, no delete)."""

    def __init__(self, pool: DB, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.pool = pool
        self.max_body_bytes = max_body_bytes

    @staticmethod
    def list_sql(*, event_type: bool = False) -> str:
        """Return the SQL ``list`` runs for a filter combination (for EXPLAIN)."""
        return _list_sql(by_type=event_type)

    def _row(self, event: Mapping[str, Any]) -> tuple[Any, ...]:
        if not isinstance(event, Mapping):
            raise InvalidInputError(f"an episodic event must be a mapping, got {shown(event)}")
        unknown = set(event) - {"event_type", "body", "sender", "recipient",
                                "inference_receipt_id", "audit_event_hash", "id"}
        if unknown:
            raise InvalidInputError(f"unknown episodic event field(s): "
                                    f"{', '.join(sorted(shown(k) for k in unknown)[:5])}")
        event_id = check_uuid(event["id"], "id") if event.get("id") is not None else uuid.uuid4()
        sender = check_text(event.get("sender"), "sender", max_len=128, min_len=0, optional=True)
        recipient = check_text(event.get("recipient"), "recipient", max_len=128, min_len=0,
                               optional=True)
        event_type = check_text(event.get("event_type"), "event_type", max_len=64) or ""
        body = event.get("body")
        text = json_object_text(body, "body", max_bytes=self.max_body_bytes)  # type, size first
        scrubbed = scrub_json(body, "an episode body")
        if scrubbed is not body:
            text = json_object_text(scrubbed, "body", max_bytes=self.max_body_bytes)
        return (
            event_id,
            scrub_text(event_type, "an episode's event type"),
            scrub_text(sender, "an episode's sender") if sender is not None else None,
            scrub_text(recipient, "an episode's recipient") if recipient is not None else None,
            text,
            check_text(event.get("inference_receipt_id"), "inference_receipt_id", max_len=64,
                       min_len=0, optional=True),
            check_text(event.get("audit_event_hash"), "audit_event_hash", max_len=64,
                       min_len=0, optional=True),
        )

    @telemetry.traced("isokron.episodic.append")
    async def append(
        self,
        workspace_id: str,
        agent_id: str | uuid.UUID,
        *,
        event_type: str,
        body: dict[str, Any] | None = None,
        sender: str | None = None,
        recipient: str | None = None,
        inference_receipt_id: str | None = None,
        audit_event_hash: str | None = None,
        id: str | uuid.UUID | None = None,
    ) -> EpisodicEvent:
        """Append one event (``id`` makes a retry idempotent) and return it."""
        check_workspace(workspace_id)
        agent = check_uuid(agent_id, "agent_id")
        event = {"event_type": event_type, "body": body, "sender": sender,
                 "recipient": recipient, "inference_receipt_id": inference_receipt_id,
                 "audit_event_hash": audit_event_hash, "id": id}
        row = self._row(event)
        async with translate_errors("appending an episodic event"), \
                acquire(self.pool) as conn:
            try:
                created = await conn.fetchval(
                    _APPEND_ONE, workspace_id, agent, *row,
                    lean_token(conn, {WORKSPACE_SETTING: workspace_id}))
            except asyncpg.ForeignKeyViolationError as exc:
                if exc.constraint_name != _OWNER_KEY:
                    raise
                raise NotOwnedError(
                    f"agent {agent} is not an agent of workspace {workspace_id!r}") from None
        if created is None:  # the id was stored before: v3 tells a retry from a taken id
            (stored,) = await self.append_many(workspace_id, agent, [{**event, "id": row[0]}])
            return stored
        return _written(row, agent, created)

    @telemetry.traced("isokron.episodic.append_many")
    async def append_many(
        self, workspace_id: str, agent_id: str | uuid.UUID, events: Iterable[Mapping[str, Any]]
    ) -> list[EpisodicEvent]:
        """Append a batch in one round trip; all rows are validated before any SQL."""
        check_workspace(workspace_id)
        agent = check_uuid(agent_id, "agent_id")
        rows = [self._row(e) for e in check_items(events, "events")]
        if not rows:
            return []
        columns = list(zip(*rows, strict=True))
        async with translate_errors("appending episodic events"), acquire(self.pool) as conn:
            text = await conn.fetchval(_APPEND, workspace_id, agent, *[list(c) for c in columns],
                                       lean_token(conn, {WORKSPACE_SETTING: workspace_id}))
        result = json.loads(text)
        if not result["owned"]:
            raise NotOwnedError(
                f"agent {agent} is not an agent of workspace {workspace_id!r}"
            )
        # Written rows: built from what was sent and the database's created_at; rows stored
        # before (a retry) come back as stored.
        created = {uuid.UUID(i): datetime.fromisoformat(at) for i, at in result["written"]}
        by_id = {uuid.UUID(r["id"]): EpisodicEvent.from_row(timestamps(r))
                 for r in result["replayed"]}
        for row in rows:  # an id given twice in one batch: the first one was stored
            if row[0] in created and row[0] not in by_id:
                by_id[row[0]] = _written(row, agent, created[row[0]])
        taken = [str(row[0]) for row in rows if row[0] not in by_id]
        if taken:  # the id was stored before, for another agent of the workspace
            raise NotOwnedError(f"episodic event id(s) already used by another agent: "
                                f"{', '.join(taken[:5])}")
        return [by_id[row[0]] for row in rows]

    @telemetry.traced("isokron.episodic.list")
    async def list(
        self,
        workspace_id: str,
        agent_id: str | uuid.UUID,
        *,
        event_type: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[EpisodicEvent]:
        """Return the agent's events, newest first (limit clamped to 1..500)."""
        check_workspace(workspace_id)
        agent = check_uuid(agent_id, "agent_id")
        if event_type is not None:
            check_text(event_type, "event_type", max_len=64)
        check_aware(since, "since")
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise InvalidInputError(f"limit must be an integer, got {shown(limit)}")
        limit = max(1, min(500, limit))
        async with translate_errors("listing episodic events"), acquire(self.pool) as conn:
            text = await conn.fetchval(_LIST, workspace_id, agent, event_type, since, limit,
                                       lean_token(conn, {WORKSPACE_SETTING: workspace_id}))
        result = json.loads(text)
        if not result["owned"]:
            raise NotOwnedError(f"agent {agent} is not an agent of workspace {workspace_id!r}")
        return [EpisodicEvent.from_row(timestamps(r)) for r in result["rows"]]
