"""Read recent chain events for an actor kind and verify a workspace's chain."""

from __future__ import annotations

from ..db.tenancy import workspace_scope
from ..errors import InvalidInputError
from ..guard.validate import check_limit, check_workspace, escape_like
from ..models import ChainEvent
from ..pool import DB, Conn, acquire, translate_errors

__all__ = ["PAYLOAD_SUMMARY_CHARS", "read_chain_heads", "read_recent_events",
           "verify_event_chain"]

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
    async with workspace_scope(db, workspace_id, "reading recent chain events") as conn:
        rows = await conn.fetch(_SQL, workspace_id, pattern, limit, PAYLOAD_SUMMARY_CHARS)
    return tuple(ChainEvent.from_row(r) for r in rows)


# The first break of the chain (v1 and v2 rows) or of its tail (the anchor), if any.
_VERIFY = "SELECT v.broken_seq FROM hivex_foundation.verify_chain_v2($1) v"
_HASH_AT = """
SELECT e.this_event_hash FROM hivex_foundation.event_log e
  JOIN hivex_foundation.tenant t ON t.tenant_id = e.tenant_id
 WHERE t.clerk_org_id = $1 AND e.seq = $2
"""
_HEADS = """
SELECT t.clerk_org_id AS workspace_id, h.seq, h.this_event_hash
  FROM hivex_foundation.tenant t
  CROSS JOIN LATERAL (SELECT e.seq, e.this_event_hash FROM hivex_foundation.event_log e
                       WHERE e.tenant_id = t.tenant_id ORDER BY e.seq DESC LIMIT 1) h
 ORDER BY 1
"""


async def verify_event_chain(
    db: DB | Conn, workspace_id: str, *, expected_head: tuple[int, str] | None = None
) -> int | None:
    """Return the first broken ``seq`` of the workspace's chain, or None when intact.

    ``verify_chain_v2`` checks every row (v2 rows hash their id, type, payload, actor,
    time and previous hash; v1 rows, written before migration 0027, their type and
    payload) and compares the last row with the tenant's anchor, which ``append_event_v1``
    moves in the same transaction: a cut tail reports the first missing seq.

    The anchor lives in the same database as the chain, so the schema owner can rewrite
    both. Against that, pass ``expected_head=(seq, hash)``, a head recorded earlier
    (``read_chain_heads``, ``isokron doctor --record-chain-heads``) and kept elsewhere: a
    chain that no longer has that seq or has another hash there reports that seq, unless
    an earlier seq is broken.
    """
    check_workspace(workspace_id)
    if expected_head is not None:
        seq, digest = expected_head
        bad_seq = isinstance(seq, bool) or not isinstance(seq, int) or seq < 1
        if bad_seq or not isinstance(digest, str):
            raise InvalidInputError(
                f"expected_head must be (seq >= 1, hash), got {expected_head!r}")
    async with workspace_scope(db, workspace_id, "verifying the event chain") as conn:
        broken = await conn.fetchval(_VERIFY, workspace_id)
        stored = (await conn.fetchval(_HASH_AT, workspace_id, expected_head[0])
                  if expected_head is not None else None)
    found = [] if broken is None else [int(broken)]
    if expected_head is not None and stored != expected_head[1]:
        found.append(expected_head[0])
    return min(found) if found else None


async def read_chain_heads(db: DB | Conn) -> dict[str, tuple[int, str]]:
    """Return every workspace's current chain head: ``{workspace_id: (seq, hash)}``."""
    async with translate_errors("reading chain heads"), acquire(db) as conn:
        rows = await conn.fetch(_HEADS)
    return {r["workspace_id"]: (int(r["seq"]), r["this_event_hash"]) for r in rows}
