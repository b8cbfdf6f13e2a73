"""Read an agent's whole governed identity in one round trip (``isokron.read_context_v2``).

The function runs the seven reads (or the parts asked for) under the caller's
row-level security and returns one JSON document; this module turns it into the
same records the single readers return, with the same checks: the charter fails
closed, scratchpad integrity is warn-only, policy drift is logged, an empty
capability column falls back to the packaged mirror.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from cachetools import LRUCache

from ..db.tenancy import WORKSPACE_SETTING, lean_token, signed_call
from ..errors import NoActiveRoleCharterError
from ..guard.validate import check_limit, check_workspace
from ..models import (
    CapabilityRow,
    ChainEvent,
    ConstitutionRevision,
    PolicyEntry,
    ScratchpadEntry,
)
from ..pool import DB, Conn, acquire, translate_errors
from .capabilities import mirror_capability_row
from .charter import verify_charter
from .policies import warn_policy_drift
from .scratchpad import check_scratchpad_integrity

__all__ = ["PARTS", "read_context_parts"]

#: The parts of a SessionContext, by the name read_context_v2 uses for each.
PARTS: dict[str, str] = {
    "charter": "role_charter",
    "policies": "policies",
    "capabilities": "capability_row",
    "own_scratchpad": "own_scratchpad",
    "cross_scratchpad": "cross_agent_scratchpad",
    "recent_events": "recent_events",
    "constitution": "constitution",
}
_SQL = signed_call("SELECT isokron.read_context_v2($1, $2, $3, $4, $5)::text")

#: The last document read per (workspace, actor kind, parts) and what it decoded to: the
#: same text again (an unchanged identity re-read after its TTL) is not decoded and
#: checked again. Only a document that passed every check is kept; its records are
#: immutable, so handing them out again is safe. The verdict holds for the exact text only.
_DECODED: LRUCache[tuple[str, str, tuple[str, ...] | None], tuple[str, dict[str, Any]]] = (
    LRUCache(maxsize=1024))
_DECODED_LOCK = threading.Lock()


def _when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


#: The substrate's charter table holds Kora's charter; no other actor kind has one there.
CHARTER_ACTOR_KIND = "kora"


def _charter(workspace_id: str, doc: Mapping[str, Any] | None, actor_kind: str,
             everything: Mapping[str, Any]) -> Any:
    if actor_kind != CHARTER_ACTOR_KIND:
        # Never show Kora's identity to another actor kind: fail closed.
        raise NoActiveRoleCharterError(
            workspace_id, detail=f"for actor kind {actor_kind!r} (the substrate's charter "
            f"table holds {CHARTER_ACTOR_KIND!r}'s charter only)")
    if doc is None:
        if not any(everything.get(k) for k in ("policies", "own_scratchpad", "recent_events",
                                                 "constitution")):
            raise NoActiveRoleCharterError(
                workspace_id, detail="(unknown workspace: no charter, policies, scratchpad "
                "entries or chain events)")
        raise NoActiveRoleCharterError(workspace_id)
    content = doc["content_jsonb"]
    if isinstance(content, str):  # a charter stored as a JSON string holding the object
        content = json.loads(content)
    return verify_charter(workspace_id, {**doc, "content_jsonb": content,
                                         "created_at": _when(doc["created_at"])})


def _scratchpad(rows: Iterable[Mapping[str, Any]]) -> tuple[ScratchpadEntry, ...]:
    entries = tuple(ScratchpadEntry.from_row({**r, "created_at": _when(r["created_at"])})
                    for r in rows)
    check_scratchpad_integrity(entries)
    return entries


def _capabilities(actor_kind: str, pairs: list[list[Any]]) -> CapabilityRow:
    if not pairs:
        return mirror_capability_row(actor_kind)
    return CapabilityRow.from_rows(
        actor_kind, ({"cap_name": cap, "granted": granted} for cap, granted in pairs))


def _build(workspace_id: str, actor_kind: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    if "charter" in doc:
        parts["role_charter"] = _charter(workspace_id, doc["charter"], actor_kind, doc)
    if "policies" in doc:
        policies = tuple(PolicyEntry(path=path, value=value) for path, value in doc["policies"])
        warn_policy_drift(workspace_id, len(policies))
        parts["policies"] = policies
    if "capabilities" in doc:
        parts["capability_row"] = _capabilities(actor_kind, doc["capabilities"])
    if "own_scratchpad" in doc:
        parts["own_scratchpad"] = _scratchpad(doc["own_scratchpad"])
    if "cross_scratchpad" in doc:
        parts["cross_agent_scratchpad"] = _scratchpad(doc["cross_scratchpad"])
    if "recent_events" in doc:
        parts["recent_events"] = tuple(
            ChainEvent.from_row({**e, "occurred_at": _when(e["occurred_at"])})
            for e in doc["recent_events"])
    if "constitution" in doc:
        c = doc["constitution"]
        parts["constitution"] = None if c is None else ConstitutionRevision(
            revision_id=str(c["revision_id"]), revision_number=int(c["revision_number"]),
            rules_hash=c["rules_hash"])
    return parts


async def read_context_parts(
    db: DB | Conn,
    workspace_id: str,
    *,
    actor_kind: str = "kora",
    scratchpad_limit: int = 100,
    event_limit: int = 50,
    parts: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Read the named parts (all when None) in one round trip; keys are SessionContext fields.

    Works on a pool or on a single connection (one statement, so nothing runs concurrently).
    """
    check_workspace(workspace_id)
    check_limit(scratchpad_limit, "scratchpad_limit")
    check_limit(event_limit, "event_limit")
    wanted = None if parts is None else sorted(
        name for name, field in PARTS.items() if field in set(parts) or name in set(parts))
    async with translate_errors("reading the identity context"), acquire(db) as conn:
        text = await conn.fetchval(_SQL, workspace_id, actor_kind, scratchpad_limit,
                                   event_limit, wanted,
                                   lean_token(conn, {WORKSPACE_SETTING: workspace_id}))
    key = (workspace_id, actor_kind, None if wanted is None else tuple(wanted))
    with _DECODED_LOCK:
        seen = _DECODED.get(key)
    if seen is not None and seen[0] == text:
        return dict(seen[1])
    built = _build(workspace_id, actor_kind, json.loads(text))
    with _DECODED_LOCK:
        _DECODED[key] = (text, built)
    return dict(built)
