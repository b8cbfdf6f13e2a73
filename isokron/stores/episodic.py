"""Append-only, per-agent episodic events; the workspace must own the agent.

Rows carry ``workspace_id``; PostgreSQL itself enforces ownership (a composite foreign
key to ``actor_registry (workspace_id, actor_id)``) and row-level security keeps each
workspace's events to itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ..errors import InvalidInputError, NotOwnedError
from ..models import EpisodicEvent
from ..pool import DB
from ..readers._common import check_workspace
from ..redact import scrub_json, scrub_text
from ..tenancy import workspace_scope
from ._validate import check_aware, check_text, check_uuid, json_object_text

__all__ = ["DEFAULT_MAX_BODY_BYTES", "EpisodicEventStore"]

DEFAULT_MAX_BODY_BYTES = 64 * 1024
# body as text: decoded once in Python, whatever codecs the connection has.
_COLUMNS = ("id, agent_id, created_at, event_type, sender, recipient, body::text AS body, "
            "inference_receipt_id, audit_event_hash")

# Ownership is checked in the same statement that writes: no owner row, no insert.
_INSERT = f"""
WITH owner AS (
    SELECT actor_id FROM public.actor_registry WHERE actor_id = $2 AND workspace_id = $1
), rows AS (
    SELECT * FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[],
                         $8::text[], $9::text[])
        AS u(id, event_type, sender, recipient, body, inference_receipt_id, audit_event_hash)
), inserted AS (
    INSERT INTO isokron.agent_episodic_events
        (id, workspace_id, agent_id, event_type, sender, recipient, body, inference_receipt_id,
         audit_event_hash)
    SELECT r.id, $1, o.actor_id, r.event_type, r.sender, r.recipient, r.body::jsonb,
           r.inference_receipt_id, r.audit_event_hash
      FROM rows r CROSS JOIN owner o
    ON CONFLICT (workspace_id, id) DO NOTHING
    RETURNING {_COLUMNS}
)
SELECT (SELECT count(*) FROM owner) AS owned, NULL::uuid AS replay_id, i.*
  FROM inserted i
UNION ALL
-- Replays (ids that already existed) come back as stored, still only for the owner.
SELECT (SELECT count(*) FROM owner), e.id, {_COLUMNS}
  FROM isokron.agent_episodic_events e
 WHERE e.id = ANY($3::uuid[]) AND e.agent_id IN (SELECT actor_id FROM owner)
   AND e.id NOT IN (SELECT id FROM inserted)
UNION ALL
SELECT (SELECT count(*) FROM owner), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
 WHERE NOT EXISTS (SELECT 1 FROM owner)
"""


def _list_sql(*, by_type: bool, since: bool) -> str:
    """Build the list query for one filter combination (each served by an index)."""
    filters = ["e.workspace_id = $1", "e.agent_id = $2"]
    if by_type:
        filters.append("e.event_type = $4")
    if since:
        filters.append(f"e.created_at >= ${5 if by_type else 4}")
    return f"""
SELECT o.owned, e.*
  FROM (SELECT count(*) AS owned FROM public.actor_registry
         WHERE actor_id = $2 AND workspace_id = $1) o
  LEFT JOIN LATERAL (
      SELECT {_COLUMNS} FROM isokron.agent_episodic_events e
       WHERE o.owned > 0 AND {' AND '.join(filters)}
       ORDER BY e.created_at DESC
       LIMIT $3
  ) e ON true
"""


class EpisodicEventStore:
    """Append and list an agent's episodic events (no update, no delete)."""

    def __init__(self, pool: DB, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.pool = pool
        self.max_body_bytes = max_body_bytes

    @staticmethod
    def list_sql(*, event_type: bool = False, since: bool = False) -> str:
        """Return the SQL ``list`` runs for a filter combination (for EXPLAIN)."""
        return _list_sql(by_type=event_type, since=since)

    def _row(self, event: Mapping[str, Any]) -> tuple[Any, ...]:
        unknown = set(event) - {"event_type", "body", "sender", "recipient",
                                "inference_receipt_id", "audit_event_hash", "id"}
        if unknown:
            raise InvalidInputError(f"unknown episodic event field(s): {sorted(unknown)}")
        event_id = check_uuid(event["id"], "id") if event.get("id") is not None else uuid.uuid4()
        sender = check_text(event.get("sender"), "sender", max_len=128, min_len=0, optional=True)
        recipient = check_text(event.get("recipient"), "recipient", max_len=128, min_len=0,
                               optional=True)
        json_object_text(event.get("body"), "body", max_bytes=self.max_body_bytes)
        return (
            event_id,
            check_text(event.get("event_type"), "event_type", max_len=64),
            scrub_text(sender, "an episode's sender") if sender is not None else None,
            scrub_text(recipient, "an episode's recipient") if recipient is not None else None,
            json_object_text(scrub_json(event.get("body"), "an episode body"), "body",
                             max_bytes=self.max_body_bytes),
            check_text(event.get("inference_receipt_id"), "inference_receipt_id", max_len=64,
                       min_len=0, optional=True),
            check_text(event.get("audit_event_hash"), "audit_event_hash", max_len=64,
                       min_len=0, optional=True),
        )

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
        (event,) = await self.append_many(workspace_id, agent_id, [{
            "event_type": event_type, "body": body, "sender": sender, "recipient": recipient,
            "inference_receipt_id": inference_receipt_id, "audit_event_hash": audit_event_hash,
            "id": id,
        }])
        return event

    async def append_many(
        self, workspace_id: str, agent_id: str | uuid.UUID, events: Iterable[Mapping[str, Any]]
    ) -> list[EpisodicEvent]:
        """Append a batch in one round trip; all rows are validated before any SQL."""
        check_workspace(workspace_id)
        agent = check_uuid(agent_id, "agent_id")
        rows = [self._row(e) for e in events]
        if not rows:
            return []
        columns = list(zip(*rows, strict=True))
        async with workspace_scope(self.pool, workspace_id, "appending episodic events") as conn:
            result = await conn.fetch(_INSERT, workspace_id, agent, *[list(c) for c in columns])
        if not result or result[0]["owned"] == 0:
            raise NotOwnedError(
                f"agent {agent} is not an agent of workspace {workspace_id!r}"
            )
        by_id = {r["id"]: EpisodicEvent.from_row(r) for r in result}
        return [by_id[row[0]] for row in rows]

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
            raise InvalidInputError(f"limit must be an integer, got {limit!r}")
        limit = max(1, min(500, limit))
        args: list[Any] = [workspace_id, agent, limit]
        if event_type is not None:
            args.append(event_type)
        if since is not None:
            args.append(since)
        sql = _list_sql(by_type=event_type is not None, since=since is not None)
        async with workspace_scope(self.pool, workspace_id, "listing episodic events") as conn:
            rows = await conn.fetch(sql, *args)
        if not rows or rows[0]["owned"] == 0:
            raise NotOwnedError(f"agent {agent} is not an agent of workspace {workspace_id!r}")
        return [EpisodicEvent.from_row(r) for r in rows if r["id"] is not None]
