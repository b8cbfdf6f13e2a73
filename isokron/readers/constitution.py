"""Read the active constitution revision (the highest revision_number)."""

from __future__ import annotations

from ..db.tenancy import workspace_scope
from ..guard.validate import check_workspace
from ..models import ConstitutionRevision
from ..pool import DB, Conn

__all__ = ["read_active_constitution"]

_SQL = """
SELECT revision_id, revision_number, rules_hash
  FROM kronicle.workspace_constitution_revisions
 WHERE workspace_id = $1
 ORDER BY revision_number DESC
 LIMIT 1
"""


async def read_active_constitution(
    db: DB | Conn, workspace_id: str
) -> ConstitutionRevision | None:
    """Return the active revision, or None for a workspace that has none."""
    check_workspace(workspace_id)
    async with workspace_scope(db, workspace_id, "reading the constitution") as conn:
        row = await conn.fetchrow(_SQL, workspace_id)
    return None if row is None else ConstitutionRevision.from_row(row)
