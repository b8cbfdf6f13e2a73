"""A LangGraph ``BaseStore`` over isokron memory, for one workspace.

``IsoKronStore(workspace_id, dsn)`` stores every LangGraph item as one isokron memory in
one isokron namespace the workspace may write (its own ``workspace:<id>`` unless
``namespace=`` names its ``team:`` or, at the root, ``org:`` namespace):

- the LangGraph namespace (a tuple of strings), the key and the value travel together as
  the memory's content, ``{"namespace": [...], "key": ..., "value": {...}}``, so values
  round-trip exactly as JSON and full-text search sees their text;
- the memory id is a UUID derived from the isokron namespace, the LangGraph namespace and
  the key, so a put of the same key is an update, never a second row;
- the store owns its items: a record is read as an item only when its content is exactly
  that JSON and its id is the one derived from that namespace and key. No memory tool can
  choose an id, and the tools refuse item-shaped content and the deletion of an item, so
  an agent's memory in the same isokron namespace can neither break the store nor forge
  an item; any other record there is skipped (logged once, counted in
  ``skipped_records``);
- ``ttl`` (minutes, LangGraph's unit) becomes the memory's ``expires_at``: a finite number
  in (0, MAX_TTL_MINUTES] (100 years), else InvalidInputError naming the value and, for the
  whole batch, nothing stored;
- ``search(query=…)`` is isokron's full-text search (or cosine search when the store was
  given ``embed=`` and the server has pgvector); without a query, items come oldest first,
  as LangGraph's ``InMemoryStore`` returns them, read in pages of PAGE_ITEMS rows (a
  listing holds one page and the items it returns, never the namespace; it walks at most
  MAX_ITEMS rows, like ``list_namespaces``).

isokron's guarantees hold: the ACL in SQL decides what the workspace may write, row-level
security what it may read, and secrets are redacted before storage (a value carrying one
comes back with it redacted). Reads never write, so ``refresh_ttl`` is not honoured.

The sync API runs on a background event loop owned by the store (LangGraph calls it from
worker threads); the async API uses a pool bound to the caller's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)

from ..errors import InvalidInputError, NotFoundError
from ..guard.redact import redact_secrets, scrub_json
from ..guard.validate import check_workspace, shown
from ..pool import create_pool
from ..stores import NamespaceItem, NamespaceMemory
from ..stores.memory_items import ITEM_FIELDS

log = logging.getLogger("isokron.langgraph")

__all__ = ["IsoKronStore"]

#: the most items of one isokron namespace a listing or a filtered search reads
MAX_ITEMS = 10_000
#: rows read per round trip when a listing walks the namespace (at most 32 KB each)
PAGE_ITEMS = 100
#: the longest ttl accepted, in minutes (100 years)
MAX_TTL_MINUTES = 100 * 365 * 24 * 60


def _expiry(ttl: Any) -> datetime | None:
    """The ``expires_at`` of a ``ttl`` in minutes; InvalidInputError naming a ttl that is
    not a finite number in (0, MAX_TTL_MINUTES] (NaN, infinity, negative, absurdly large)."""
    if ttl is None:
        return None
    if (isinstance(ttl, bool) or not isinstance(ttl, int | float)
            or not math.isfinite(ttl) or not 0 < ttl <= MAX_TTL_MINUTES):
        raise InvalidInputError(f"ttl must be a finite number of minutes in (0, "
                                f"{MAX_TTL_MINUTES:,}], got {shown(ttl)}")
    return datetime.now(UTC) + timedelta(minutes=float(ttl))


def _matches(value: Any, wanted: Any) -> bool:
    """LangGraph's filter semantics: equality, nested objects, lists element-wise, and the
    operators $eq, $ne, $gt, $gte, $lt, $lte."""
    if isinstance(wanted, dict):
        if any(str(k).startswith("$") for k in wanted):
            return all(_operator(value, op, arg) for op, arg in wanted.items())
        return isinstance(value, dict) and all(
            _matches(value.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list | tuple):
        return (isinstance(value, list | tuple) and len(value) == len(wanted)
                and all(_matches(a, b) for a, b in zip(value, wanted, strict=True)))
    return bool(value == wanted)


def _operator(value: Any, op: str, arg: Any) -> bool:
    if op == "$eq":
        return bool(value == arg)
    if op == "$ne":
        return bool(value != arg)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        try:
            left, right = float(value), float(arg)
        except (TypeError, ValueError):
            return False
        return {"$gt": left > right, "$gte": left >= right, "$lt": left < right,
                "$lte": left <= right}[op]
    raise InvalidInputError(f"unsupported filter operator {shown(op)} "
                            "(use $eq, $ne, $gt, $gte, $lt or $lte)")


def _condition_holds(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    part = namespace[:len(path)] if condition.match_type == "prefix" else (
        namespace[len(namespace) - len(path):])
    if condition.match_type not in ("prefix", "suffix"):
        raise InvalidInputError(f"unsupported match type {shown(condition.match_type)}")
    return all(p == "*" or p == n for p, n in zip(path, part, strict=True))


class _Row:
    """One stored item, decoded."""

    __slots__ = ("created_at", "key", "namespace", "updated_at", "value")

    def __init__(self, record: NamespaceItem, namespace: tuple[str, ...], key: str,
                 value: dict[str, Any]) -> None:
        self.namespace = namespace
        self.key = key
        self.value = value
        self.created_at: datetime = record.created_at
        self.updated_at: datetime = record.updated_at

    def item(self) -> Item:
        return Item(value=self.value, key=self.key, namespace=self.namespace,
                    created_at=self.created_at, updated_at=self.updated_at)

    def search_item(self, score: float | None = None) -> SearchItem:
        return SearchItem(namespace=self.namespace, key=self.key, value=self.value,
                          created_at=self.created_at, updated_at=self.updated_at, score=score)


def _fields(content: str) -> tuple[tuple[str, ...], str, dict[str, Any]] | None:
    """The namespace, key and value of an item's content; None when it is not one."""
    try:
        doc = json.loads(content)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or set(doc) != set(ITEM_FIELDS):
        return None
    namespace, key, value = doc["namespace"], doc["key"], doc["value"]
    if (not isinstance(namespace, list) or not namespace
            or not all(isinstance(p, str) and p for p in namespace)
            or not isinstance(key, str) or not isinstance(value, dict)):
        return None
    return tuple(namespace), key, value


class IsoKronStore(BaseStore):
    """LangGraph's long-term memory store on isokron, for one workspace.

    ``dsn`` is a runtime login (a member of ``isokron_runtime``). ``namespace`` is the
    isokron namespace every item goes to (default ``workspace:<workspace_id>``).
    ``embed``, a function from text to a vector, turns on cosine search (pgvector).
    """

    supports_ttl = True

    def __init__(self, workspace_id: str, dsn: str, *, namespace: str | None = None,
                 embed: Callable[[str], Sequence[float]] | None = None,
                 pool_max_size: int = 4) -> None:
        check_workspace(workspace_id)
        if not isinstance(dsn, str) or not dsn:
            raise InvalidInputError(f"dsn must be a non-empty string, got {shown(dsn)}")
        self.workspace_id = workspace_id
        self.dsn = dsn
        self.namespace = namespace if namespace is not None else f"workspace:{workspace_id}"
        self.embed = embed
        self.pool_max_size = pool_max_size
        self._pools: dict[asyncio.AbstractEventLoop, asyncpg.Pool] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        #: records of the namespace read and skipped as not this store's items (each once)
        self.skipped_records = 0
        self._skipped: set[uuid.UUID] = set()

    # -- pools and loops -------------------------------------------------------------------

    async def _pool(self) -> asyncpg.Pool:
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            pool = await create_pool(self.dsn, min_size=1, max_size=self.pool_max_size)
            self._pools[loop] = pool
        return pool

    def _background(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=loop.run_forever, daemon=True,
                                                name="isokron-langgraph-store")
                self._thread.start()
                self._loop = loop
            return self._loop

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run the operations in order (from any thread, inside a running loop or not)."""
        ops = list(ops)
        future = asyncio.run_coroutine_threadsafe(self.abatch(ops), self._background())
        return future.result()

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run the operations in order; each sees the writes of the ones before it. A bad
        ttl anywhere in the batch is refused before any operation runs."""
        ops = list(ops)
        for op in ops:
            if isinstance(op, PutOp) and op.value is not None:
                _expiry(op.ttl)
        pool = await self._pool()
        memory = NamespaceMemory(pool)
        results: list[Result] = []
        for op in ops:
            if isinstance(op, GetOp):
                results.append(await self._get(memory, op))
            elif isinstance(op, PutOp):
                await self._put(memory, op)
                results.append(None)
            elif isinstance(op, SearchOp):
                results.append(await self._search(memory, op))
            elif isinstance(op, ListNamespacesOp):
                results.append(await self._list_namespaces(memory, op))
            else:
                raise InvalidInputError(f"unknown store operation {shown(op)}")
        return results

    async def aclose(self) -> None:
        """Close the pool of the calling loop (and the background loop's)."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.close()
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Close the background loop's pool and stop its thread."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is None:
            return
        pool = self._pools.pop(loop, None)
        if pool is not None:
            asyncio.run_coroutine_threadsafe(pool.close(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join()
        loop.close()

    # -- operations ------------------------------------------------------------------------

    def _id(self, namespace: tuple[str, ...], key: str) -> uuid.UUID:
        return uuid.uuid5(uuid.NAMESPACE_URL, "isokron:langgraph:" + json.dumps(
            [self.namespace, list(namespace), key], ensure_ascii=False))

    def _decode(self, record: NamespaceItem) -> _Row | None:
        """The record as an item of this store, or None (skipped, counted and logged once
        per record) when it is not one: not the item JSON, or an id other than the one
        the store derives from the item's own namespace and key. No memory tool can choose
        an id, so a record an agent wrote (or planted with another item's text) is never
        an item."""
        fields = _fields(record.content)
        if fields is not None and record.id == self._id(fields[0], fields[1]):
            return _Row(record, *fields)
        if record.id not in self._skipped and len(self._skipped) < MAX_ITEMS:
            self._skipped.add(record.id)
            self.skipped_records += 1
            log.warning("LangGraph store of %s: skipped record %s in namespace %s (not an "
                        "item of this store: %s)", self.workspace_id, record.id, self.namespace,
                        "not the item JSON" if fields is None else "its id is not the item's")
        return None

    def _decoded(self, records: Iterable[NamespaceItem]) -> list[_Row]:
        return [row for row in map(self._decode, records) if row is not None]

    async def _get(self, memory: NamespaceMemory, op: GetOp) -> Item | None:
        found = await memory.items(self.workspace_id, self.namespace,
                                   ids=[self._id(tuple(op.namespace), op.key)], limit=1)
        rows = self._decoded(found)
        return rows[0].item() if rows else None

    async def _put(self, memory: NamespaceMemory, op: PutOp) -> None:
        namespace = tuple(op.namespace)
        if not namespace or not all(isinstance(p, str) and p for p in namespace):
            raise InvalidInputError(f"namespace must be a non-empty tuple of non-empty "
                                    f"strings, got {shown(op.namespace)}")
        if not isinstance(op.key, str):
            raise InvalidInputError(f"key must be a string, got {shown(op.key)}")
        record_id = self._id(namespace, op.key)
        if op.value is None:
            with contextlib.suppress(NotFoundError):  # deleting a missing key is a no-op
                await memory.forget(self.workspace_id, record_id, namespace=self.namespace)
            return
        if not isinstance(op.value, dict):
            raise InvalidInputError(f"value must be a dict, got {shown(op.value)}")
        try:
            content = json.dumps({"namespace": list(namespace), "key": op.key,
                                  "value": scrub_json(op.value, "a LangGraph store value")},
                                 ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"value is not JSON: {exc}") from None
        # The memory store redacts its content as text once more: the strings were redacted
        # above, so that must leave valid JSON; refuse the value rather than store a broken one.
        # The id binds the item to its namespace and key: a redaction there would orphan it.
        stored = _fields(redact_secrets(content)[0])
        if stored is None:
            raise InvalidInputError(f"the value of key {op.key!r} cannot be stored with its "
                                    "secrets redacted") from None
        if stored[:2] != (namespace, op.key):
            raise InvalidInputError("a namespace or key that looks like a secret cannot be "
                                    f"stored (key {shown(op.key)})")
        expires = _expiry(op.ttl)
        embedding = None
        if self.embed is not None and op.index is not False:
            embedding = self.embed(json.dumps(op.value, ensure_ascii=False))
        await memory.commit(self.workspace_id, content, namespace=self.namespace,
                            id=record_id, expires_at=expires, embedding=embedding)

    async def _rows(self, memory: NamespaceMemory) -> AsyncIterator[_Row]:
        """The namespace's items, oldest first, read PAGE_ITEMS records at a time (at most
        MAX_ITEMS records in all): only one page is held at once."""
        after: tuple[datetime, uuid.UUID] | None = None
        for _ in range(-(-MAX_ITEMS // PAGE_ITEMS)):
            page = await memory.items(self.workspace_id, self.namespace, limit=PAGE_ITEMS,
                                      after=after)
            for row in self._decoded(page):
                yield row
            if len(page) < PAGE_ITEMS:
                return
            after = (page[-1].created_at, page[-1].id)

    async def _search(self, memory: NamespaceMemory, op: SearchOp) -> list[SearchItem]:
        prefix = tuple(op.namespace_prefix)

        def wanted(row: _Row) -> bool:
            return row.namespace[:len(prefix)] == prefix and all(
                _matches(row.value.get(k), v) for k, v in (op.filter or {}).items())

        if not op.query:  # a walk that keeps only the page of items it returns
            kept: list[SearchItem] = []
            seen = 0
            async for each in self._rows(memory):
                if not wanted(each):
                    continue
                seen += 1
                if seen > op.offset:
                    kept.append(each.search_item())
                    if len(kept) >= op.limit:
                        break
            return kept
        embedding = self.embed(op.query) if self.embed is not None else None
        found = await memory.search(self.workspace_id, op.query, namespaces=[self.namespace],
                                    limit=100, embedding=embedding)
        ranked = [uuid.UUID(m.id) for m in found]
        records = await memory.items(self.workspace_id, self.namespace, ids=ranked,
                                     limit=max(1, len(ranked)))
        by_id = {r.id: row for r in records if (row := self._decode(r)) is not None}
        rows = [by_id[i] for i in ranked if i in by_id and wanted(by_id[i])]
        count = len(rows)
        return [r.search_item(score=(count - n) / count)
                for n, r in enumerate(rows)][op.offset:op.offset + op.limit]

    async def _list_namespaces(self, memory: NamespaceMemory,
                               op: ListNamespacesOp) -> list[tuple[str, ...]]:
        namespaces = {r.namespace async for r in self._rows(memory)}
        kept = [ns for ns in namespaces
                if all(_condition_holds(c, ns) for c in op.match_conditions or ())]
        if op.max_depth is not None:
            kept = list({ns[:op.max_depth] for ns in kept})
        return sorted(kept)[op.offset:op.offset + op.limit]
