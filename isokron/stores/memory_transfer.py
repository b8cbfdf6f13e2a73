"""Operator paths of namespaced memory: export, import and purge of a workspace tree
(run as a member of ``isokron_sweeper``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..errors import InvalidInputError
from ..guard.limits import MAX_MEMORY_CHARS, check_depth, check_free_text
from ..guard.redact import scrub_json, scrub_text
from ..guard.validate import check_items, check_workspace, json_object_text, shown
from ..pool import DB, acquire, translate_errors
from ._names import check_names

__all__ = ["export_memory", "import_memory", "purge_workspace"]


async def purge_workspace(db: DB, workspace_id: str) -> list[tuple[str, int]]:
    """Operator: remove a workspace's memory (run as a member of ``isokron_sweeper``).

    Its ``workspace:<id>`` namespace goes with its memories; a ``team:``/``org:``
    namespace goes only when no other workspace still reads it. Returns (namespace,
    memories deleted) per namespace removed.
    """
    check_workspace(workspace_id)
    async with translate_errors("purging a workspace"), acquire(db) as conn:
        rows = await conn.fetch("SELECT * FROM isokron.purge_workspace_v1($1)", workspace_id)
    return [(r["namespace"], int(r["memories"])) for r in rows]


async def export_memory(db: DB, workspace_id: str) -> list[dict[str, Any]]:
    """Operator: everything ``workspace_id``'s tree can read, as JSON-ready items.

    The tree's workspaces, then the namespaces any member reads (each member's private
    namespace, shared ones once), then their memories. Run as an ``isokron_sweeper``
    member.
    """
    check_workspace(workspace_id)
    async with translate_errors("exporting memory"), acquire(db) as conn:
        rows = await conn.fetch("SELECT x::text FROM isokron.export_memory_v1($1) x",
                                workspace_id)
    items = [json.loads(r[0]) for r in rows]
    order = {"workspace": 0, "namespace": 1, "memory": 2}
    return sorted(items, key=lambda i: order[i["type"]])


async def import_memory(db: DB, items: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Operator: write exported items back, idempotently (ids kept, existing rows left as
    they are); memory content and namespace metadata are redacted again first."""
    clean: list[dict[str, Any]] = []
    for n, item in enumerate(check_items(items, "items")):
        if not isinstance(item, dict) or item.get("type") not in (
                "workspace", "namespace", "memory"):
            raise InvalidInputError(f"item {n} is not an exported workspace, namespace or "
                                    f"memory: {shown(item)}")
        check_depth(item, f"item {n}")
        item = dict(item)
        if item["type"] == "memory":
            check_free_text(item.get("content"), f"item {n} content",
                            max_chars=MAX_MEMORY_CHARS)
            check_names([item.get("namespace")], f"item {n} namespace")
            item["content"] = scrub_text(item["content"], "an imported memory")
        elif item["type"] == "namespace":
            check_names([item.get("name")], f"item {n} name")
            json_object_text(item.get("metadata"), f"item {n} metadata", max_bytes=64 * 1024)
            item["metadata"] = scrub_json(item.get("metadata") or {}, "imported metadata")
        else:
            check_workspace(item.get("workspace_id"))
        clean.append(item)
    async with translate_errors("importing memory"), acquire(db) as conn:
        row = await conn.fetchrow("SELECT * FROM isokron.import_memory_v1($1::text::json)",
                                  json.dumps(clean, default=str))
    assert row is not None
    return {"workspaces": int(row["workspaces"]), "namespaces": int(row["namespaces"]),
            "memories": int(row["memories"])}
