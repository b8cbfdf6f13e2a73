"""Read the live records of one namespace whole (for adapters that keep their own items
in a namespace, such as the LangGraph store), under the same RLS as every memory read;
tell an adapter's item apart from a memory (the memory tools refuse to write one)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime

import attrs

from ..db.tenancy import workspace_scope
from ..errors import NotFoundError
from ..guard.validate import check_limit, check_uuid, check_workspace
from ..pool import DB
from ._names import check_names

__all__ = ["ITEM_FIELDS", "NamespaceItem", "claims_item", "read_items"]

_COLUMNS = "r.id, r.content, r.created_at, r.updated_at"
_LIVE = ("r.root_id = $1 AND r.namespace = $2 AND r.retracted_at IS NULL"
         " AND (r.expires_at IS NULL OR r.expires_at > now())"
         " AND EXISTS (SELECT 1 FROM isokron.memory_namespaces n WHERE n.root_id = r.root_id"
         " AND n.name = r.namespace AND (n.expires_at IS NULL OR n.expires_at > now()))")
_ALL = (f"SELECT {_COLUMNS} FROM isokron.memory_records r WHERE {_LIVE} "
        "ORDER BY r.created_at, r.id LIMIT $3")
_AFTER = (f"SELECT {_COLUMNS} FROM isokron.memory_records r WHERE {_LIVE} "
          "AND (r.created_at, r.id) > ($4, $5) ORDER BY r.created_at, r.id LIMIT $3")
_BY_IDS = (f"SELECT {_COLUMNS} FROM isokron.memory_records r WHERE {_LIVE} "
           "AND r.id = ANY($3) ORDER BY r.created_at, r.id LIMIT $4")
_ROOT = "SELECT root_id FROM isokron.namespace_access_v2()"


#: the fields of an adapter's item (the LangGraph store's ``{"namespace", "key", "value"}``)
ITEM_FIELDS = ("namespace", "key", "value")


def claims_item(content: str) -> bool:
    """Tell whether ``content`` is shaped like an adapter's item: a JSON object holding
    every one of :data:`ITEM_FIELDS` (extra fields or not). The memory tools refuse to
    write such content; the adapters themselves accept only records whose id they derived
    from the item's own namespace and key, which no tool can choose."""
    text = content.strip()
    if not text.startswith("{"):
        return False
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and all(field in doc for field in ITEM_FIELDS)


@attrs.frozen(kw_only=True)
class NamespaceItem:
    """One live record of a namespace, as stored (content after redaction)."""

    id: uuid.UUID
    content: str
    created_at: datetime
    updated_at: datetime


async def read_items(db: DB, workspace_id: str, namespace: str, *,
                     ids: Sequence[uuid.UUID | str] | None = None,
                     limit: int,
                     after: tuple[datetime, uuid.UUID] | None = None) -> list[NamespaceItem]:
    """Return up to ``limit`` live records of ``namespace`` (oldest first), or only those
    with ``ids``; ``workspace_id`` must be able to read the namespace (RLS decides).

    ``after`` (the ``created_at`` and ``id`` of the last record of the previous page) reads
    the next page: a walk over the namespace that never holds more than ``limit`` rows."""
    check_workspace(workspace_id)
    check_names([namespace], "namespace")
    check_limit(limit)
    wanted = None if ids is None else [check_uuid(i, "ids[]") for i in ids]
    async with workspace_scope(db, workspace_id, "reading namespace items") as conn:
        root = await conn.fetchval(_ROOT)
        if root is None:
            raise NotFoundError(f"unknown workspace {workspace_id!r} "
                                "(not in isokron.workspaces)")
        if wanted is None and after is not None:
            rows = await conn.fetch(_AFTER, root, namespace, limit, after[0],
                                    check_uuid(after[1], "after"))
        elif wanted is None:
            rows = await conn.fetch(_ALL, root, namespace, limit)
        else:
            rows = await conn.fetch(_BY_IDS, root, namespace, wanted, limit)
    return [NamespaceItem(id=r["id"], content=r["content"], created_at=r["created_at"],
                          updated_at=r["updated_at"]) for r in rows]
