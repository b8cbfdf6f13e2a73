"""Read the policy registry under row-level security."""

from __future__ import annotations

import json
import logging

from ..db.tenancy import workspace_scope
from ..guard.validate import check_workspace
from ..models import PolicyEntry
from ..pool import DB, Conn

__all__ = ["EXPECTED_POLICY_COUNT", "read_policy_registry", "warn_policy_drift"]

log = logging.getLogger("isokron.readers")

#: Rows a healthy workspace has; another count is drift (logged, never an error).
EXPECTED_POLICY_COUNT = 31

_SQL = """
SELECT policy_path, policy_value::text AS policy_value
  FROM public.kora_policy_registry
 WHERE workspace_id = $1
 ORDER BY policy_path
"""


def warn_policy_drift(workspace_id: str, count: int) -> None:
    """Log one WARNING when ``count`` differs from the expected policy count."""
    if count != EXPECTED_POLICY_COUNT:
        log.warning(
            "policy registry drift in workspace %s: expected %d rows, found %d",
            workspace_id, EXPECTED_POLICY_COUNT, count,
        )


async def read_policy_registry(db: DB | Conn, workspace_id: str) -> tuple[PolicyEntry, ...]:
    """Return the workspace's policies ordered by path (values decoded exactly once)."""
    check_workspace(workspace_id)
    async with workspace_scope(db, workspace_id, "reading the policy registry") as conn:
        rows = await conn.fetch(_SQL, workspace_id)
    # Selected as text and decoded here, so decoding happens once whatever codecs are set.
    entries = tuple(
        PolicyEntry(path=r["policy_path"], value=json.loads(r["policy_value"])) for r in rows
    )
    warn_policy_drift(workspace_id, len(entries))
    return entries
