"""What keeps memory true: forget (a retraction in team and org namespaces), supersede,
and the lineage of a record (issue 26).

The SQL functions (migration 0032) check the namespace ACL themselves: supersession and
retraction write transaction-time and lineage columns the runtime role may not write by
itself. One round trip each, as a lean call (signed when ``signed_context`` is on).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import attrs

from .. import telemetry
from ..db.tenancy import WORKSPACE_SETTING, lean_token, signed_call
from ..errors import InvalidInputError, NotFoundError
from ..guard.limits import MAX_ID_CHARS, MAX_MEMORY_CHARS, check_free_text
from ..guard.redact import scrub_text
from ..guard.validate import check_aware, check_text, check_uuid, check_workspace, shown
from ..models import MemoryRecord
from ..pool import DB, acquire, translate_errors
from ._json import timestamps
from ._names import check_names
from ._spans import on_forget as _on_forget

__all__ = ["SOURCES", "Forgotten", "MemoryLifecycle", "Superseded"]

_FORGET = signed_call("SELECT isokron.memory_forget_v1($1, $2, $3)::text")
_SUPERSEDE = signed_call(
    "SELECT isokron.memory_supersede_v1($1, $2, $3, $4, $5, $6, $7)::text")
_HISTORY = signed_call("SELECT isokron.memory_history_v1($1, $2)::text")

#: who a memory comes from
SOURCES = ("agent", "runtime", "user")


@attrs.frozen(kw_only=True)
class Forgotten:
    """What :meth:`MemoryLifecycle.forget` did: ``retracted`` (team and org memory: kept,
    audited, still visible to ``as_of``) or ``deleted`` (the workspace's own memory)."""

    id: str
    namespace: str
    action: str


@attrs.frozen(kw_only=True)
class Superseded:
    """The two records of a supersession: ``old`` (now with ``superseded_by`` and its
    ``valid_to``) and ``new`` (with ``supersedes`` and ``valid_from``)."""

    old: MemoryRecord
    new: MemoryRecord


def _record(doc: dict[str, Any]) -> MemoryRecord:
    return MemoryRecord.from_row(timestamps(doc))


class MemoryLifecycle:
    """Forget, supersede and trace memories (mixed into
    :class:`~isokron.stores.memory.NamespaceMemory`)."""

    pool: DB

    @telemetry.traced("isokron.memory.forget", operation="delete_memory", annotate=_on_forget)
    async def forget(
        self, workspace_id: str, memory_id: str | uuid.UUID, *, namespace: str | None = None
    ) -> Forgotten:
        """Forget a memory in a namespace the workspace can write: team and org memories are
        retracted (``retracted_at``; audited, still found by ``as_of`` searches), the
        workspace's own are deleted. NotFoundError when it does not exist (or is already
        retracted), NotOwnedError when the workspace cannot write its namespace."""
        check_workspace(workspace_id)
        target = check_uuid(memory_id, "memory_id")
        if namespace is not None:
            check_names([namespace], "namespace")
        async with translate_errors("forgetting a memory"), acquire(self.pool) as conn:
            text = await conn.fetchval(_FORGET, workspace_id, target, namespace,
                                       lean_token(conn, {WORKSPACE_SETTING: workspace_id}))
        done = json.loads(text)
        return Forgotten(id=str(target), namespace=done["namespace"],
                         action="retracted" if done["action"] == "retract" else "deleted")

    @telemetry.traced("isokron.memory.supersede", operation="update_memory")
    async def supersede(
        self,
        workspace_id: str,
        old_id: str | uuid.UUID,
        content: str,
        *,
        valid_from: datetime | None = None,
        source: str = "agent",
        user_id: str | None = None,
        id: str | uuid.UUID | None = None,
    ) -> Superseded:
        """Replace a current memory with a new one saying ``content`` (redacted like a
        commit), true in the world from ``valid_from`` (default: now). The old record gets
        ``superseded_by`` and its ``valid_to`` cut to ``valid_from``; the new one, in the
        same namespace with the old one's kind, pin and expiry, ``supersedes``. Both in one
        transaction; a second supersession of the same record is refused
        (:class:`~isokron.errors.SupersededError`), so two racing updates cannot both win."""
        check_workspace(workspace_id)
        old = check_uuid(old_id, "old_id")
        if not isinstance(content, str) or not content.strip():
            raise InvalidInputError("content must be a non-blank string")
        check_free_text(content, "content", max_chars=MAX_MEMORY_CHARS)
        check_aware(valid_from, "valid_from")
        if source not in SOURCES:
            raise InvalidInputError(
                f"source must be one of {', '.join(SOURCES)}; got {shown(source)}")
        if user_id is not None:
            check_text(user_id, "user_id", max_len=MAX_ID_CHARS)
        new_id = check_uuid(id, "id") if id is not None else uuid.uuid4()
        stored = scrub_text(content, "a memory")
        async with translate_errors("superseding a memory"), acquire(self.pool) as conn:
            text = await conn.fetchval(_SUPERSEDE, workspace_id, old, new_id, stored, source,
                                       valid_from, user_id,
                                       lean_token(conn, {WORKSPACE_SETTING: workspace_id}))
        doc = json.loads(text)
        return Superseded(old=_record(doc["old"]), new=_record(doc["new"]))

    @telemetry.traced("isokron.memory.history", operation="search_memory")
    async def history(self, workspace_id: str, memory_id: str | uuid.UUID) -> list[MemoryRecord]:
        """Return the lineage of a memory, oldest first: every record it superseded and
        every record that superseded it, retracted ones included (in namespaces the
        workspace can read). NotFoundError when the workspace cannot see it."""
        check_workspace(workspace_id)
        target = check_uuid(memory_id, "memory_id")
        async with translate_errors("reading a memory's history"), acquire(self.pool) as conn:
            text = await conn.fetchval(_HISTORY, workspace_id, target,
                                       lean_token(conn, {WORKSPACE_SETTING: workspace_id}))
        if text is None:
            raise NotFoundError(f"unknown workspace {workspace_id!r} (not in isokron.workspaces)")
        rows = [_record(r) for r in json.loads(text)]
        if not rows:
            raise NotFoundError(f"memory {target} does not exist (in a namespace workspace "
                                f"{workspace_id!r} can read)")
        return rows
