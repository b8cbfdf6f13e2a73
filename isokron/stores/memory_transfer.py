"""Operator paths of namespaced memory: export and purge of a workspace tree (run as a
member of ``isokron_sweeper``), and import into one (the schema owner: the only role that
may call ``import_memory_v2``, so every import goes through the redaction here)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from ..errors import InvalidInputError
from ..guard.limits import MAX_MEMORY_CHARS, check_depth, check_free_text
from ..guard.redact import scrub_json, scrub_text
from ..guard.validate import check_workspace, json_object_text, shown
from ..pool import DB, Conn, acquire, translate_errors
from ._names import check_names

__all__ = ["ImportLimits", "export_memory", "import_memory", "memory_duplicates",
           "purge_workspace", "read_import_file"]


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


async def memory_duplicates(db: DB, *, merge: bool = False) -> list[tuple[str, str, str, int]]:
    """Operator: the memories an upgrade found duplicating an older live memory of their
    namespace (kept and marked by migration 0031, never merged silently), as (root,
    namespace, the older memory's id, how many). ``merge=True`` folds them into the older
    memory (its ``seen_count`` grows by theirs) and deletes them; it returns what it merged.
    Run as an ``isokron_sweeper`` member."""
    async with translate_errors("listing duplicate memories"), acquire(db) as conn:
        rows = await conn.fetch("SELECT * FROM isokron.memory_duplicates_v1($1)", merge)
    return [(r["root_id"], r["namespace"], str(r["keeper"]), int(r["duplicates"]))
            for r in rows]


async def export_memory(db: DB, workspace_id: str) -> list[dict[str, Any]]:
    """Operator: everything ``workspace_id``'s tree can read, as JSON-ready items.

    The tree's workspaces, then the namespaces any member reads (each member's private
    namespace, shared ones once), then their memories. Run as an ``isokron_sweeper``
    member.
    """
    check_workspace(workspace_id)
    async with translate_errors("exporting memory"), acquire(db) as conn:
        rows = await conn.fetch("SELECT x::text FROM isokron.export_memory_v2($1) x",
                                workspace_id)
    items = [json.loads(r[0]) for r in rows]
    order = {"workspace": 0, "namespace": 1, "memory": 2}
    return sorted(items, key=lambda i: order[i["type"]])


@attrs.frozen
class ImportLimits:
    """Caps on one import (a file or an iterable of items): what it may cost at most.

    ``max_items`` items in all, ``max_item_bytes`` per item (one JSON line), and
    ``max_total_bytes`` for the whole import; items go to the database ``batch_items`` at a
    time (at most ``batch_bytes`` each), so Python holds one batch, whatever the file's size.
    """

    max_items: int = 1_000_000
    max_item_bytes: int = 256 * 1024
    max_total_bytes: int = 1024 * 1024 * 1024
    batch_items: int = 500
    batch_bytes: int = 4 * 1024 * 1024

    def __attrs_post_init__(self) -> None:
        for field in attrs.fields(type(self)):
            value = getattr(self, field.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInputError(f"ImportLimits.{field.name} must be a positive "
                                        f"integer, got {shown(value)}")


def read_import_file(path: str | Path, limits: ImportLimits = ImportLimits()
                     ) -> Iterator[dict[str, Any]]:
    """Yield the items of an export file (JSON lines), one line at a time, within ``limits``;
    InvalidInputError names the line that breaks one."""
    total = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            total += len(raw)
            if len(raw) > limits.max_item_bytes:
                raise InvalidInputError(f"{path}:{number}: the line has {len(raw)} bytes, more "
                                        f"than max_item_bytes ({limits.max_item_bytes})")
            if total > limits.max_total_bytes:
                raise InvalidInputError(f"{path}:{number}: the file passes max_total_bytes "
                                        f"({limits.max_total_bytes})")
            if not raw.strip():
                continue
            try:
                item = json.loads(raw)
            except ValueError:
                raise InvalidInputError(f"{path}:{number}: not a JSON line") from None
            yield item


def _clean(n: int, raw: Any) -> dict[str, Any]:
    """Check one exported item and redact its text (memory content, namespace metadata)."""
    if not isinstance(raw, dict) or raw.get("type") not in ("workspace", "namespace", "memory"):
        raise InvalidInputError(f"item {n} is not an exported workspace, namespace or "
                                f"memory: {shown(raw)}")
    check_depth(raw, f"item {n}")
    item: dict[str, Any] = dict(raw)
    if item["type"] == "memory":
        check_free_text(item.get("content"), f"item {n} content", max_chars=MAX_MEMORY_CHARS)
        check_names([item.get("namespace")], f"item {n} namespace")
        item["content"] = scrub_text(item["content"], "an imported memory")
    elif item["type"] == "namespace":
        check_names([item.get("name")], f"item {n} name")
        json_object_text(item.get("metadata"), f"item {n} metadata", max_bytes=64 * 1024)
        item["metadata"] = scrub_json(item.get("metadata") or {}, "imported metadata")
    else:
        check_workspace(item.get("workspace_id"))
    return item


async def import_memory(
    db: DB,
    items: Iterable[Any],
    *,
    workspace_id: str,
    limits: ImportLimits = ImportLimits(),
) -> dict[str, int]:
    """Operator (the schema owner): write exported items into ``workspace_id``'s tree,
    idempotently (ids kept, existing rows left as they are), all or nothing.

    Every item must belong to that tree (the root itself, its descendants, their
    namespaces and memories): one that names another workspace, tree or root, a memory
    dated in the future, or an unknown kind or source refuses the whole import before
    anything is committed. Memory content and metadata are redacted first; imported
    memories are marked (``imported_at``) and org ones audited (``import``). ``items`` is
    consumed as it goes (:func:`read_import_file` streams a file), ``limits`` caps it.
    """
    check_workspace(workspace_id)
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        raise InvalidInputError(f"items must be an iterable of exported items, got "
                                f"{shown(items)}")
    counts = {"workspaces": 0, "namespaces": 0, "memories": 0}
    total = 0
    async with translate_errors("importing memory"), acquire(db) as conn, \
            conn.transaction():
        batch: list[str] = []
        size = 0
        for n, item in enumerate(items):
            if n >= limits.max_items:
                raise InvalidInputError(f"the import has more than max_items "
                                        f"({limits.max_items}) items")
            text = json.dumps(_clean(n, item), default=str)
            if len(text) > limits.max_item_bytes:
                raise InvalidInputError(f"item {n} has {len(text)} bytes, more than "
                                        f"max_item_bytes ({limits.max_item_bytes})")
            total += len(text)
            if total > limits.max_total_bytes:
                raise InvalidInputError(f"the import passes max_total_bytes "
                                        f"({limits.max_total_bytes}) at item {n}")
            full = len(batch) >= limits.batch_items or size + len(text) > limits.batch_bytes
            if batch and full:
                await _send(conn, workspace_id, batch, counts)
                batch, size = [], 0
            batch.append(text)
            size += len(text)
        if batch:
            await _send(conn, workspace_id, batch, counts)
    return counts


async def _send(conn: Conn, root: str, batch: list[str], counts: dict[str, int]) -> None:
    row = await conn.fetchrow("SELECT * FROM isokron.import_memory_v2($1, $2::text::json)",
                              root, "[" + ",".join(batch) + "]")
    assert row is not None
    for name in counts:
        counts[name] += int(row[name])
