"""Read recent chain events for an actor kind and verify a workspace's chain."""

from __future__ import annotations

from ..models import ChainEvent
from ..pool import DB, Conn, acquire, translate_errors
from ._common import check_limit, check_workspace, escape_like

__all__ = ["PAYLOAD_SUMMARY_CHARS", "read_recent_events", "verify_event_chain"]

#: jsonb_pretty(payload) is cut to this many characters, then "…" is appended.
PAYLOAD_SUMMARY_CHARS = 300

_SQL = """
SELECT e.event_id, e.event_type, e.occurred_at,
       CASE WHEN char_length(p.pretty) > $4 THEN left(p.pretty, $4) || '…'
            ELSE p.pretty END AS payload_summary
  FROM hivex_foundation.event_log e
  JOIN hivex_foundation.tenant t ON t.tenant_id = e.tenant_id
  CROSS JOIN LATERAL (SELECT jsonb_pretty(e.payload) AS pretty) p
 WHERE t.clerk_org_id = $1 AND e.event_type LIKE $2 ESCAPE '\\'
 ORDER BY e.seq DESC
 LIMIT $3
"""


async def read_recent_events(
    db: DB | Conn, workspace_id: str, *, actor_kind: str = "kora", limit: int = 50
) -> tuple[ChainEvent, ...]:
    """Return the newest ``<actor_kind>.*`` chain events (the kind matched literally)."""
    check_workspace(workspace_id)
    check_limit(limit)
    pattern = escape_like(actor_kind) + ".%"
    async with translate_errors("reading recent chain events"), acquire(db) as conn:
        rows = await conn.fetch(_SQL, workspace_id, pattern, limit, PAYLOAD_SUMMARY_CHARS)
    return tuple(ChainEvent.from_row(r) for r in rows)


async def verify_event_chain(db: DB | Conn, workspace_id: str) -> int | None:
    """Return the first broken ``seq`` of the workspace's chain, or None when intact."""
    check_workspace(workspace_id)
    async with translate_errors("verifying the event chain"), acquire(db) as conn:
        broken = await conn.fetchval("SELECT hivex_foundation.verify_chain_v1($1)", workspace_id)
    return None if broken is None else int(broken)
