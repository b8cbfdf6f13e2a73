"""Read own and cross-agent scratchpad entries; integrity is warn-only."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable

from ..db.tenancy import workspace_scope
from ..guard.validate import check_limit, check_workspace
from ..models import ScratchpadEntry
from ..pool import DB, Conn

__all__ = ["check_scratchpad_integrity", "read_cross_agent_scratchpad", "read_own_scratchpad"]

log = logging.getLogger("isokron.readers")

_SELECT = """
SELECT s.scratchpad_entry_id, a.actor_kind, a.display_name,
       s.scratchpad_kind::text AS scratchpad_kind, s.visibility_scope::text AS visibility_scope,
       s.content_inline, s.content_uri, s.content_hash, s.created_at
  FROM kronicle.agent_scratchpad_entries s
  JOIN public.actor_registry a ON a.actor_id = s.actor_id
 WHERE s.workspace_id = $1 AND s.status = 'active' AND {filter}
 ORDER BY s.created_at DESC, s.scratchpad_entry_id DESC
 LIMIT $3
"""
_OWN = _SELECT.format(filter="a.actor_kind = $2")
_CROSS = _SELECT.format(
    filter="a.actor_kind <> $2 AND s.visibility_scope = 'cross_agent_dereferenceable'"
)


def check_scratchpad_integrity(entries: Iterable[ScratchpadEntry]) -> None:
    """Log a WARNING for each inline entry whose SHA-256 differs from its content_hash."""
    for entry in entries:
        if entry.content_inline is None:
            continue  # content_uri entries are not verified
        actual = hashlib.sha256(entry.content_inline.encode("utf-8")).hexdigest()
        if actual != entry.content_hash:
            log.warning(
                "scratchpad entry %s failed its integrity check: content_hash %s, computed %s "
                "(returned anyway)", entry.id, entry.content_hash, actual,
            )


async def _read(
    sql: str, db: DB | Conn, workspace_id: str, actor_kind: str, limit: int, what: str
) -> tuple[ScratchpadEntry, ...]:
    check_workspace(workspace_id)
    check_limit(limit)
    async with workspace_scope(db, workspace_id, what) as conn:
        rows = await conn.fetch(sql, workspace_id, actor_kind, limit)
    entries = tuple(ScratchpadEntry.from_row(r) for r in rows)
    check_scratchpad_integrity(entries)
    return entries


async def read_own_scratchpad(
    db: DB | Conn, workspace_id: str, *, actor_kind: str = "kora", limit: int = 100
) -> tuple[ScratchpadEntry, ...]:
    """Return the actor kind's own active entries, newest first."""
    return await _read(_OWN, db, workspace_id, actor_kind, limit, "reading the own scratchpad")


async def read_cross_agent_scratchpad(
    db: DB | Conn, workspace_id: str, *, actor_kind: str = "kora", limit: int = 100
) -> tuple[ScratchpadEntry, ...]:
    """Return other actor kinds' active, cross-agent-visible entries, newest first."""
    return await _read(
        _CROSS, db, workspace_id, actor_kind, limit, "reading the cross-agent scratchpad"
    )
