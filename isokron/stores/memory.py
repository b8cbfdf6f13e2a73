"""Namespaced long-term memory: workspace / team / org namespaces, search, TTL, audit.

The ACL lives in PostgreSQL: ``isokron.namespace_access_v1()`` walks the workspace tree
for the transaction's workspace, and the row-level security policies of
``memory_namespaces``, ``memory_records`` and ``memory_audit`` use the same function,
so what Python reports as readable or writable is exactly what the database allows.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .. import telemetry
from ..db.tenancy import WORKSPACE_SETTING, lean_token, signed_call, workspace_scope
from ..errors import InvalidInputError, NotFoundError
from ..guard.limits import (
    MAX_ID_CHARS,
    MAX_MEMORY_CHARS,
    MAX_QUERY_CHARS,
    check_clean_text,
    check_free_text,
)
from ..guard.redact import scrub_json, scrub_text
from ..guard.validate import (
    MAX_NAME_CHARS,
    MAX_SEARCH_NAMESPACES,
    check_aware,
    check_text,
    check_uuid,
    check_validity,
    check_workspace,
    escape_like,
    json_object_text,
    shown,
)
from ..models import MemoryRecord
from ..pool import DB, Conn, acquire, translate_errors
from ._batch import COMMIT_ONE, CommitBatcher
from ._json import timestamps
from ._names import KEEP, Keep, NamespaceAccess, check_names, namespace_kind, vector_text
from ._observe import WriteObserver
from ._spans import on_commit as _on_commit
from ._spans import on_search as _on_search
from .memory_items import NamespaceItem, read_items
from .memory_truth import SOURCES, Forgotten, MemoryLifecycle, Superseded

__all__ = ["KEEP", "KINDS", "MAX_DEPTH", "SOURCES", "Forgotten", "NamespaceAccess",
           "NamespaceItem", "NamespaceMemory", "Superseded"]

log = logging.getLogger("isokron.stores.memory")

KINDS = ("fact", "summary", "checkpoint")
MAX_DEPTH = 50
MAX_LIMIT = 100
_COLUMNS = ("r.id, r.namespace, r.content, r.kind, r.source, r.pin, r.expires_at, r.created_at, "
            "r.recorded_at, r.retracted_at, r.valid_from, r.valid_to, r.supersedes, "
            "r.superseded_by, r.seen_count, r.last_seen_at, r.duplicate_of, r.user_id")

# The tree walk (depth-capped at MAX_DEPTH) is the SQL function the RLS policies use.
_ACCESS = "SELECT readable, writable, root_id FROM isokron.namespace_access_v2()"

# pgvector's nearest neighbours among the current records (the validity rule of
# memory_visible_v1 at now(), or at the as_of / valid_at asked: $7, $8).
_SEARCH_VECTOR = f"""
SELECT {_COLUMNS} FROM isokron.memory_records r
  JOIN isokron.memory_namespaces n ON n.root_id = r.root_id AND n.name = r.namespace
 WHERE r.root_id = $6 AND r.namespace = ANY($1::text[])
   AND isokron.memory_visible_v1(r.recorded_at, r.retracted_at, r.valid_from, r.valid_to,
                                 r.prior_valid_to, r.superseded_at,
                                 coalesce($7::timestamptz, now()),
                                 coalesce($8::timestamptz, $7::timestamptz, now()))
   AND (r.expires_at IS NULL OR r.expires_at > coalesce($7::timestamptz, now()))
   AND (n.expires_at IS NULL OR n.expires_at > coalesce($7::timestamptz, now()))
   AND ($2::text[] IS NULL OR r.kind = ANY($2::text[]))
   AND r.embedding IS NOT NULL AND vector_dims(r.embedding) = $5
 ORDER BY r.pin DESC, r.embedding <=> $4::text::vector, r.created_at DESC
 LIMIT $3
"""

# memory_search_v2's usual branch (tests EXPLAIN it): one LIMITed, index-ordered lookup per
# namespace over its unretracted rows (memory_records_current_idx), then the merge.
_SEARCH_RECENT = """
SELECT r.*
  FROM unnest($1::text[]) AS ns(name)
  JOIN isokron.memory_namespaces n
    ON n.root_id = $4 AND n.name = ns.name
   AND (n.expires_at IS NULL OR n.expires_at > now())
 CROSS JOIN LATERAL (
    SELECT * FROM isokron.memory_records r
     WHERE r.root_id = $4 AND r.namespace = ns.name
       AND r.retracted_at IS NULL
       AND r.valid_from <= now() AND (r.valid_to IS NULL OR r.valid_to > now())
       AND (r.expires_at IS NULL OR r.expires_at > now())
       AND ($2::text[] IS NULL OR r.kind = ANY($2::text[]))
     ORDER BY r.pin DESC, r.created_at DESC
     LIMIT $3
 ) r
 ORDER BY r.pin DESC, r.created_at DESC
 LIMIT $3
"""

# One round trip each (migration 0006): the tenant setting, the ACL check, the work.
_SEARCH = signed_call(
    "SELECT isokron.memory_search_v2($1, $2, $3, $4, $5, $6, $7, $8)::text")


class NamespaceMemory(MemoryLifecycle):
    """Commit, search, forget and supersede memories in the namespaces a workspace may use."""

    def __init__(self, pool: DB, *, observer: WriteObserver | None = None) -> None:
        self.pool = pool
        self._vectors: bool | None = None
        self._batcher = CommitBatcher(pool)
        #: told of every committed memory (the engine embeds them off the hot path)
        self.observer = observer

    async def supports_vectors(self) -> bool:
        """Tell whether cosine search over embeddings is available (pgvector installed)."""
        if self._vectors is None:
            async with translate_errors("checking for pgvector"), acquire(self.pool) as conn:
                self._vectors = bool(await conn.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = "
                    "'isokron.memory_records'::regclass AND attname = 'embedding' "
                    "AND NOT attisdropped)"))
        return self._vectors

    async def _require_vectors(self) -> None:
        if not await self.supports_vectors():
            raise InvalidInputError(
                "embeddings need pgvector on the server (see isokron.enable_vectors_v1())")

    async def _access(self, conn: Conn, workspace_id: str) -> NamespaceAccess:
        """Ask the database's ACL function (``conn`` is scoped to ``workspace_id``)."""
        row = await conn.fetchrow(_ACCESS)
        if row is None:
            raise NotFoundError(f"unknown workspace {workspace_id!r} (not in isokron.workspaces)")
        readable, writable = tuple(row["readable"]), tuple(row["writable"])
        check_names(readable, f"workspace {workspace_id!r}")
        return NamespaceAccess(workspace_id=workspace_id, readable=readable, writable=writable,
                               root_id=row["root_id"])

    @telemetry.traced("isokron.memory.access")
    async def access(self, workspace_id: str) -> NamespaceAccess:
        """Resolve the workspace's namespaces from the tree (nothing cached)."""
        check_workspace(workspace_id)
        async with workspace_scope(self.pool, workspace_id, "resolving namespaces") as conn:
            return await self._access(conn, workspace_id)

    async def readable_namespaces(self, workspace_id: str) -> list[str]:
        """Return workspace:<id>, team:<parent or self>, org:<root>."""
        return list((await self.access(workspace_id)).readable)

    async def writable_namespaces(self, workspace_id: str) -> list[str]:
        """Return workspace and team namespaces, plus org:<root> for the root itself."""
        return list((await self.access(workspace_id)).writable)

    @telemetry.traced("isokron.memory.commit", operation="upsert_memory", annotate=_on_commit)
    async def commit(
        self,
        workspace_id: str,
        content: str,
        *,
        namespace: str | None = None,
        kind: str = "fact",
        source: str = "agent",
        expires_at: datetime | None = None,
        id: str | uuid.UUID | None = None,
        pin: bool = False,
        embedding: Sequence[float] | None = None,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
        user_id: str | None = None,
    ) -> MemoryRecord:
        """Store a memory (secrets redacted first); ``id=`` makes it an idempotent upsert.

        Content equal to a live memory of the namespace after normalisation (case, white
        space, Unicode NFKC, trailing punctuation) returns that memory instead, its
        ``seen_count`` and ``last_seen_at`` updated (``deduplicated`` is True), in the same
        round trip and race-free. ``valid_from`` / ``valid_to`` say when it is true in the
        world (default: from now, open-ended); ``user_id`` records the user on whose behalf
        it is written (what :meth:`~isokron.AsyncIsoKron.erase_user` finds).
        ``embedding`` (with pgvector) makes the memory findable by cosine search.
        """
        check_workspace(workspace_id)
        if not isinstance(content, str) or not content.strip():
            raise InvalidInputError("content must be a non-blank string")
        check_free_text(content, "content", max_chars=MAX_MEMORY_CHARS)
        if kind not in KINDS:
            raise InvalidInputError(f"kind must be one of {', '.join(KINDS)}; got {shown(kind)}")
        if source not in SOURCES:
            raise InvalidInputError(
                f"source must be one of {', '.join(SOURCES)}; got {shown(source)}")
        check_aware(expires_at, "expires_at")
        if not isinstance(pin, bool):
            raise InvalidInputError(f"pin must be a bool, got {shown(pin)}")
        check_validity(valid_from, valid_to)
        if user_id is not None:
            check_text(user_id, "user_id", max_len=MAX_ID_CHARS)
        record_id = check_uuid(id, "id") if id is not None else uuid.uuid4()
        vector = vector_text(embedding) if embedding is not None else None
        if vector is not None:
            await self._require_vectors()
        target = namespace if namespace is not None else f"workspace:{workspace_id}"
        check_names([target], "namespace")
        stored = scrub_text(content, "a memory")
        item = (record_id, target, namespace_kind(target), stored, kind, source, pin, expires_at,
                valid_from, valid_to, user_id)
        if vector is None:  # the usual case: one round trip, shared with the tick's others
            record = MemoryRecord.from_row(await self._batcher.commit(workspace_id, item))
            if self.observer is not None:
                self.observer.memories_written(workspace_id, [record])
            return record
        async with workspace_scope(self.pool, workspace_id, "committing a memory") as conn:
            text = await conn.fetchval(COMMIT_ONE, workspace_id, *item,
                                       lean_token(conn, {WORKSPACE_SETTING: workspace_id}))
            record = MemoryRecord.from_row(timestamps(json.loads(text)))
            root = (await self._access(conn, workspace_id)).root_id
            await conn.execute("UPDATE isokron.memory_records SET embedding = $2::text::vector "
                               "WHERE root_id = $4 AND namespace = $3 AND id = $1",
                               uuid.UUID(record.id), vector, target, root)
        return record

    @telemetry.traced("isokron.memory.search", operation="search_memory", annotate=_on_search)
    async def search(
        self,
        workspace_id: str,
        query: str | None = None,
        *,
        namespaces: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        limit: int = 20,
        embedding: Sequence[float] | None = None,
        as_of: datetime | None = None,
        valid_at: datetime | None = None,
    ) -> list[MemoryRecord]:
        """Search readable namespaces, pinned first: the current records (unretracted, valid
        now) unless ``as_of`` (what the workspace believed at that transaction time: records
        recorded by then and not yet retracted, as they were known then) and/or
        ``valid_at`` (what was true in the world then, as known now or at ``as_of``).

        With ``embedding`` (pgvector): nearest by cosine distance among memories of the
        same dimension. Otherwise a query of 2+ characters uses full-text search (web
        search syntax; a slash or backslash separates words, in the text and the query:
        "Oslo" finds "Europe/Oslo"), a 1-character query a literal LIKE match, and no
        query the most recent.
        """
        check_workspace(workspace_id)
        for name, value in (("kinds", kinds), ("namespaces", namespaces)):
            if value is not None and (not isinstance(value, list | tuple) or not all(
                    isinstance(v, str) for v in value)):
                raise InvalidInputError(f"{name} must be a list of strings, got {shown(value)}")
        if kinds is not None:
            bad = [shown(k) for k in kinds if k not in KINDS]
            if bad:
                raise InvalidInputError(
                    f"kinds must be among {', '.join(KINDS)}; got {', '.join(bad[:5])}")
        if namespaces is not None:
            if len(namespaces) > MAX_SEARCH_NAMESPACES:
                raise InvalidInputError(f"namespaces has {len(namespaces):,} names; the limit "
                                        f"is {MAX_SEARCH_NAMESPACES}")
            for index, name in enumerate(namespaces):
                if len(name) > MAX_NAME_CHARS:
                    raise InvalidInputError(f"namespaces[{index}] is {len(name):,} characters; "
                                            f"the limit is {MAX_NAME_CHARS}")
                check_clean_text(name, f"namespaces[{index}]")
        check_aware(as_of, "as_of")
        check_aware(valid_at, "valid_at")
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise InvalidInputError(f"limit must be an integer, got {shown(limit)}")
        limit = max(1, min(MAX_LIMIT, limit))
        if query is not None:
            check_free_text(query, "query", max_chars=MAX_QUERY_CHARS, blank_ok=True)
        text = query.strip() if isinstance(query, str) else None
        vector = vector_text(embedding) if embedding is not None else None
        if vector is not None:
            await self._require_vectors()
        kind_list = list(kinds) if kinds is not None else None
        # None or [] = every readable namespace (the original's intersect rule: an empty
        # request is all of them). Otherwise exact names only (never a prefix); anything
        # that is not a readable name matches none.
        wanted_names = None if not namespaces else list(namespaces)
        if vector is not None:
            return await self._vector_search(workspace_id, wanted_names, kind_list, limit,
                                             vector, len(embedding or ()), as_of, valid_at)
        mode, needle = ("fts", text) if text and len(text) >= 2 else (
            ("like", escape_like(text)) if text else ("recent", None))
        async with translate_errors("searching memory"), acquire(self.pool) as conn:
            found = await conn.fetchval(_SEARCH, workspace_id, wanted_names, kind_list, limit,
                                        mode, needle, as_of, valid_at,
                                        lean_token(conn, {WORKSPACE_SETTING: workspace_id}))
        if found is None:
            raise NotFoundError(f"unknown workspace {workspace_id!r} (not in isokron.workspaces)")
        rows = [timestamps(r) for r in json.loads(found)["rows"]]
        return [MemoryRecord.from_row(r) for r in rows]

    async def _vector_search(
        self, workspace_id: str, namespaces: list[str] | None, kinds: list[str] | None,
        limit: int, vector: str, dims: int, as_of: datetime | None, valid_at: datetime | None,
    ) -> list[MemoryRecord]:
        async with workspace_scope(self.pool, workspace_id, "searching memory") as conn:
            access = await self._access(conn, workspace_id)
            wanted = access.readable if namespaces is None else [
                n for n in namespaces if n in access.readable]  # exact names: no prefix leaks
            if not wanted:
                return []
            rows = await conn.fetch(_SEARCH_VECTOR, list(wanted), kinds, limit, vector, dims,
                                    access.root_id, as_of, valid_at)
        return [MemoryRecord.from_row(r) for r in rows]

    @telemetry.traced("isokron.memory.patch_namespace", operation="update_memory")
    async def items(self, workspace_id: str, namespace: str, *,
                    ids: Sequence[uuid.UUID | str] | None = None,
                    limit: int = MAX_LIMIT,
                    after: tuple[datetime, uuid.UUID] | None = None) -> list[NamespaceItem]:
        """Return the live records of one namespace whole, oldest first (or those with
        ``ids``; ``after``: the next page): see :func:`~isokron.stores.memory_items.read_items`."""
        return await read_items(self.pool, workspace_id, namespace, ids=ids, limit=limit,
                                after=after)

    async def patch_namespace(
        self,
        workspace_id: str,
        name: str,
        *,
        expires_at: datetime | None | Keep = KEEP,
        metadata: dict[str, Any] | Keep = KEEP,
    ) -> dict[str, Any]:
        """Change an owned namespace's expiry and/or metadata (its own, ``team:<self>``, and
        ``org:<root>`` for the root; team and org changes audited); return the row.
        Leaving an argument out keeps that field; ``expires_at=None`` clears the expiry."""
        check_workspace(workspace_id)
        check_names([name], "namespace")
        if not isinstance(expires_at, Keep):
            check_aware(expires_at, "expires_at")
        meta_text = None
        if not isinstance(metadata, Keep):
            json_object_text(metadata, "metadata", max_bytes=64 * 1024)  # before the scrub
            meta_text = json_object_text(scrub_json(metadata, "namespace metadata"),
                                         "metadata", max_bytes=64 * 1024)
        async with workspace_scope(self.pool, workspace_id, "patching a namespace") as conn:
            row = await conn.fetchval(
                "SELECT isokron.patch_namespace_v1($1, $2, $3, $4, $5::text::jsonb)::text",
                workspace_id, name, not isinstance(expires_at, Keep),
                None if isinstance(expires_at, Keep) else expires_at, meta_text)
        if row is None:
            raise NotFoundError(f"namespace {name!r} does not exist")
        out: dict[str, Any] = json.loads(row)
        if out["expires_at"] is not None:
            out["expires_at"] = datetime.fromisoformat(out["expires_at"])
        out["created_at"] = datetime.fromisoformat(out["created_at"])
        return out

    @telemetry.traced("isokron.memory.delete_namespace", operation="delete_memory_store")
    async def delete_namespace(self, workspace_id: str, name: str) -> int:
        """Delete an owned namespace and its memories (as :meth:`patch_namespace`; team and
        org deletions audited); return how many memories went. NotFoundError if it does
        not exist."""
        check_workspace(workspace_id)
        check_names([name], "namespace")
        async with workspace_scope(self.pool, workspace_id, "deleting a namespace") as conn:
            count = await conn.fetchval("SELECT isokron.delete_namespace_v1($1, $2)",
                                        workspace_id, name)
        if count is None:
            raise NotFoundError(f"namespace {name!r} does not exist")
        return int(count)
