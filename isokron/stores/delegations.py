"""The delegation ledger: idempotent inserts, compare-and-set transitions, heartbeats.

Rows are keyed by ``(workspace_id, delegation_id)`` and every call runs in a transaction
scoped to its workspace, so row-level security keeps one workspace's ledger out of
another's reach: the same id in two workspaces is two independent rows.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from .. import telemetry
from ..db.tenancy import workspace_scope
from ..errors import InvalidInputError, InvalidTransitionError
from ..guard.limits import MAX_TASK_CHARS
from ..guard.redact import scrub_text
from ..guard.validate import (
    MAX_NAME_CHARS,
    check_aware,
    check_text,
    check_uuid,
    check_workspace,
    cut_text,
    shown,
)
from ..models import Delegation
from ..pool import DB

__all__ = [
    "IN_FLIGHT",
    "PREVIEW_CHARS",
    "STATUSES",
    "TERMINAL",
    "TRANSITIONS",
    "DelegationLedger",
]

log = logging.getLogger("isokron.stores.delegations")

PREVIEW_CHARS = 4096
STATUSES = ("queued", "dispatched", "in_progress", "completed", "failed", "stuck")
IN_FLIGHT = ("queued", "dispatched", "in_progress", "stuck")
TERMINAL = ("completed", "failed")

#: status -> the statuses it may move to. A stuck agent may still report its result.
TRANSITIONS: dict[str, frozenset[str]] = {
    "queued": frozenset({"dispatched", "in_progress", "failed"}),
    "dispatched": frozenset({"in_progress", "completed", "failed"}),
    "in_progress": frozenset({"completed", "failed", "stuck"}),
    "stuck": frozenset({"in_progress", "completed", "failed"}),
    "completed": frozenset(),
    "failed": frozenset(),
}
_PREDECESSORS = {
    target: sorted(s for s, nexts in TRANSITIONS.items() if target in nexts) for target in STATUSES
}

_COLUMNS = ("delegation_id, workspace_id, caller_id, callee_id, task_preview, status, "
            "last_heartbeat, deadline, result_preview, error_detail, retry_count, "
            "idempotency_key, created_at, updated_at")

_INSERT = """
INSERT INTO isokron.delegations
    (delegation_id, workspace_id, caller_id, callee_id, task_preview, idempotency_key, deadline)
VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now() + interval '6 hours'))
ON CONFLICT DO NOTHING
RETURNING true
"""

_RECORD_COMPLETED = """
INSERT INTO isokron.delegations
    (delegation_id, workspace_id, caller_id, callee_id, task_preview, status, result_preview)
VALUES ($1, $2, $3, $4, $5, 'completed', $6)
ON CONFLICT DO NOTHING
RETURNING true
"""

# One compare-and-set: the row moves only from a legal predecessor.
_SET_STATUS = """
UPDATE isokron.delegations
   SET status = $2,
       error_detail = coalesce($3, error_detail),
       result_preview = coalesce($4, result_preview),
       updated_at = now()
 WHERE workspace_id = $6 AND delegation_id = $1 AND status = ANY($5::text[])
RETURNING status
"""

_HEARTBEAT = """
UPDATE isokron.delegations
   SET last_heartbeat = now(),
       status = CASE WHEN status = 'stuck' THEN 'in_progress' ELSE status END,
       updated_at = now()
 WHERE workspace_id = $2 AND delegation_id = $1
   AND status IN ('queued', 'dispatched', 'in_progress', 'stuck')
RETURNING true
"""


def _check_id(delegation_id: str) -> str:
    checked = check_text(delegation_id, "delegation_id", max_len=MAX_NAME_CHARS)
    assert checked is not None
    return checked


def _check_new(
    delegation_id: str, workspace_id: str, caller_id: str | uuid.UUID,
    callee_id: str | uuid.UUID, task_preview: str,
) -> tuple[uuid.UUID, uuid.UUID, str]:
    """Validate a new row's shared fields; return (caller, callee, cut task preview)."""
    _check_id(delegation_id)
    check_workspace(workspace_id)
    caller = check_uuid(caller_id, "caller_id")
    callee = check_uuid(callee_id, "callee_id")
    check_text(task_preview, "task_preview", max_len=MAX_TASK_CHARS)
    if not task_preview.strip():
        raise InvalidInputError("task_preview must be a non-blank string")
    return caller, callee, _preview(task_preview, "a delegation's task")


def _preview(text: str, where: str) -> str:
    """Redact, then cut to PREVIEW_CHARS (redacting first: a cut never splits a secret)."""
    return cut_text(scrub_text(text, where), PREVIEW_CHARS)


class DelegationLedger:
    """Record delegations and move them through their lifecycle safely under concurrency."""

    def __init__(self, pool: DB) -> None:
        self.pool = pool
        #: completions refused because the sweeper had already failed the delegation
        self.raced_completions = 0

    @telemetry.traced("isokron.delegations.insert")
    async def insert(
        self,
        delegation_id: str,
        *,
        workspace_id: str,
        caller_id: str | uuid.UUID,
        callee_id: str | uuid.UUID,
        task_preview: str,
        idempotency_key: str | None = None,
        deadline: datetime | None = None,
    ) -> bool:
        """Insert a queued delegation; return False on a replay (same id, or caller+key)."""
        caller, callee, preview = _check_new(
            delegation_id, workspace_id, caller_id, callee_id, task_preview)
        check_text(idempotency_key, "idempotency_key", max_len=MAX_NAME_CHARS, optional=True)
        check_aware(deadline, "deadline")
        async with workspace_scope(self.pool, workspace_id, "inserting a delegation") as conn:
            inserted = await conn.fetchval(
                _INSERT, delegation_id, workspace_id, caller, callee, preview, idempotency_key,
                deadline,
            )
        return bool(inserted)

    @telemetry.traced("isokron.delegations.record_completed")
    async def record_completed(
        self,
        delegation_id: str,
        *,
        workspace_id: str,
        caller_id: str | uuid.UUID,
        callee_id: str | uuid.UUID,
        task_preview: str,
        result_preview: str,
    ) -> bool:
        """Record a delegation that already finished (idempotent; False on a replay)."""
        caller, callee, preview = _check_new(
            delegation_id, workspace_id, caller_id, callee_id, task_preview)
        check_text(result_preview, "result_preview", max_len=MAX_TASK_CHARS, min_len=0)
        async with workspace_scope(self.pool, workspace_id, "recording a delegation") as conn:
            inserted = await conn.fetchval(
                _RECORD_COMPLETED, delegation_id, workspace_id, caller, callee, preview,
                _preview(result_preview, "a delegation's result"),
            )
        return bool(inserted)

    @telemetry.traced("isokron.delegations.set_status")
    async def set_status(
        self,
        workspace_id: str,
        delegation_id: str,
        status: str,
        *,
        error_detail: str | None = None,
        result_preview: str | None = None,
    ) -> None:
        """Move the workspace's row to ``status`` if legal; the current status again is a no-op."""
        check_workspace(workspace_id)
        _check_id(delegation_id)
        if status not in STATUSES:
            raise InvalidInputError(
                f"status must be one of {', '.join(STATUSES)}; got {shown(status)}")
        check_text(error_detail, "error_detail", max_len=MAX_TASK_CHARS, min_len=0, optional=True)
        check_text(result_preview, "result_preview", max_len=MAX_TASK_CHARS, min_len=0,
                   optional=True)
        preview = (_preview(result_preview, "a delegation's result")
                   if result_preview is not None else None)
        if error_detail is not None:
            error_detail = scrub_text(error_detail, "a delegation's error detail")
        async with workspace_scope(self.pool, workspace_id, "updating a delegation") as conn:
            moved = await conn.fetchval(
                _SET_STATUS, delegation_id, status, error_detail, preview, _PREDECESSORS[status],
                workspace_id,
            )
            if moved is not None:
                return
            current = await conn.fetchval(
                "SELECT status FROM isokron.delegations "
                "WHERE workspace_id = $1 AND delegation_id = $2", workspace_id, delegation_id
            )
        if current is None:
            log.warning("set_status(%r, %r, %r): no such delegation; nothing changed",
                        workspace_id, delegation_id, status)
            return
        if current == status:
            return
        if status == "completed" and current == "failed":
            # The sweeper failed it (deadline) while the agent was finishing: say so, count it.
            self.raced_completions += 1
            log.warning("delegation %s in workspace %s completed after the sweeper had failed "
                        "it; the completion is refused (%d such race(s) so far)",
                        delegation_id, workspace_id, self.raced_completions)
        raise InvalidTransitionError(delegation_id, current, status)

    @telemetry.traced("isokron.delegations.heartbeat")
    async def heartbeat(self, workspace_id: str, delegation_id: str) -> bool:
        """Stamp an in-flight row (stuck -> in_progress); False for terminal or unknown rows."""
        check_workspace(workspace_id)
        _check_id(delegation_id)
        async with workspace_scope(self.pool, workspace_id, "heartbeating a delegation") as conn:
            return bool(await conn.fetchval(_HEARTBEAT, delegation_id, workspace_id))

    @telemetry.traced("isokron.delegations.get")
    async def get(self, workspace_id: str, delegation_id: str) -> Delegation | None:
        """Return the workspace's delegation with that id, or None."""
        check_workspace(workspace_id)
        _check_id(delegation_id)
        async with workspace_scope(self.pool, workspace_id, "reading a delegation") as conn:
            row = await conn.fetchrow(
                f"SELECT {_COLUMNS} FROM isokron.delegations "
                "WHERE workspace_id = $1 AND delegation_id = $2",
                workspace_id, delegation_id,
            )
        return None if row is None else Delegation.from_row(row)
