"""Embedding off the hot path: stored texts are queued here and embedded in batches.

A write never waits for the embedder. :meth:`EmbedQueue.submit` only appends to a bounded
queue; one background task embeds up to ``batch_size`` texts per ``embed_documents`` call
(waiting up to ``linger_s`` for a batch to fill) and stores each vector with the
embedder's ``model_id`` under the scope the row was written in. A failed call is counted
and logged once per outage; its rows keep no vector, and ``isokron embed --backfill``
embeds them (and whatever was written while no process ran an embedder).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Protocol

import attrs

from ..embeddings import Embedder, check_vectors
from ..models import AgentMessage, MemoryRecord
from ..pool import DB
from ..stores.vectors import DEFAULT_DEDUP_THRESHOLD, Vectors

__all__ = ["HYBRID_RETRY_S", "EmbedQueue", "Embeddings", "Pending", "VectorSink"]

#: seconds recall stays lexical after the database refused a hybrid recall
HYBRID_RETRY_S = 60.0

log = logging.getLogger("isokron.embeddings")


@attrs.frozen
class Pending:
    """One stored text waiting for its vector."""

    workspace_id: str
    user_id: str | None
    source: str
    id: str
    content: str


class VectorSink(Protocol):
    """Where vectors go: one call per scope and source."""

    async def store_vectors(self, workspace_id: str, user_id: str | None, source: str,
                            rows: Sequence[tuple[str, str, Sequence[float]]],
                            model_id: str) -> int: ...


class EmbedQueue:
    """Embed queued texts in batches, off the caller's path."""

    def __init__(self, embedder: Embedder, sink: VectorSink, *, batch_size: int = 32,
                 capacity: int = 10_000, linger_s: float = 0.05) -> None:
        self.embedder = embedder
        self._sink = sink
        self.batch_size = batch_size
        self.capacity = capacity
        self.linger_s = linger_s
        self._pending: collections.deque[Pending] = collections.deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self.embedded = 0
        self.stored = 0
        self.failed = 0
        self.dropped = 0
        self.calls = 0

    def stats(self) -> dict[str, int]:
        """Counters: texts embedded, vectors stored, texts failed or dropped, calls made."""
        return {"pending": len(self._pending), "embedded": self.embedded,
                "stored": self.stored, "failed": self.failed, "dropped": self.dropped,
                "calls": self.calls}

    def submit(self, items: Sequence[Pending]) -> None:
        """Queue texts for embedding; never blocks. Beyond ``capacity`` the oldest are
        dropped (counted; the backfill embeds them)."""
        if not items:
            return
        self._pending.extend(items)
        overflow = len(self._pending) - self.capacity
        if overflow > 0:
            for _ in range(overflow):
                self._pending.popleft()
            self.dropped += overflow
            log.warning("embedding queue full: %d text(s) dropped (isokron embed --backfill "
                        "embeds them)", overflow)
        self._idle.clear()
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(),
                                                                name="isokron-embed")

    async def _run(self) -> None:
        while True:
            if not self._pending:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            deadline = time.monotonic() + self.linger_s
            while len(self._pending) < self.batch_size and time.monotonic() < deadline:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(),
                                           max(0.0, deadline - time.monotonic()))
            batch = [self._pending.popleft()
                     for _ in range(min(self.batch_size, len(self._pending)))]
            await self._embed(batch)

    async def _embed(self, batch: list[Pending]) -> None:
        model = self.embedder.model_id
        try:
            self.calls += 1
            vectors = check_vectors(
                await self.embedder.embed_documents([p.content for p in batch]),
                len(batch), self.embedder.dims, model)
        except Exception as exc:  # the embedder's own errors: any type
            self.failed += len(batch)
            self._log_failure(f"embedder {model} failed: {type(exc).__name__}: {exc}")
            return
        self.embedded += len(batch)
        groups: dict[tuple[str, str | None, str], list[tuple[str, str, Sequence[float]]]] = {}
        for item, vector in zip(batch, vectors, strict=True):
            groups.setdefault((item.workspace_id, item.user_id, item.source), []).append(
                (item.id, item.content, vector))
        for (workspace, user, source), rows in groups.items():
            try:
                self.stored += await self._sink.store_vectors(workspace, user, source, rows,
                                                              model)
            except Exception as exc:
                self.failed += len(rows)
                self._log_failure(f"storing {len(rows)} vector(s) failed: "
                                  f"{type(exc).__name__}: {exc}")
                return
        if self._failing:
            log.info("embedding works again")
            self._failing = False

    def _log_failure(self, message: str) -> None:
        if not self._failing:
            log.warning("%s; the rows keep no vector until isokron embed --backfill", message)
            self._failing = True
        else:
            log.debug(message)

    async def drain(self, timeout: float) -> bool:
        """Wait until every queued text is embedded (or failed); False on timeout."""
        if self._task is None:
            return True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self, timeout: float) -> int:
        """Drain for up to ``timeout`` seconds, then stop; return the texts left unembedded."""
        await self.drain(timeout)
        left = len(self._pending)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self._pending.clear()
        return left


class PoolSource(Protocol):
    """The primary pool (vectors are written there)."""

    async def pool(self) -> DB: ...


class Embeddings:
    """The configured embedder, wired in: stored texts queued for embedding (the stores'
    :class:`~isokron.stores.WriteObserver`), vectors written to the primary, and the query
    embedding recall asks for (with a timeout; None when it fails, logged once)."""

    def __init__(self, embedder: Embedder, source: PoolSource, *, batch_size: int = 32,
                 query_timeout_s: float = 2.0, dedup: str = "keep",
                 dedup_threshold: float = DEFAULT_DEDUP_THRESHOLD) -> None:
        self.embedder = embedder
        self._source = source
        #: near duplicates of a stored memory: reported (keep) or folded in (merge)
        self.dedup = dedup
        self.dedup_threshold = dedup_threshold
        self.query_timeout_s = query_timeout_s
        self.queue = EmbedQueue(embedder, self, batch_size=batch_size)
        self._query_failing = False
        self.query_failures = 0
        #: after the database refused a hybrid recall: lexical only until then (monotonic)
        self._hybrid_off_until = 0.0
        self._hybrid_failing = False

    @property
    def model_id(self) -> str:
        """The embedder's model id (stored with every vector)."""
        return self.embedder.model_id

    # -- WriteObserver ---------------------------------------------------------------
    def memories_written(self, workspace_id: str, records: Sequence[MemoryRecord]) -> None:
        """Queue committed memories."""
        self.queue.submit([Pending(workspace_id, None, "memory", r.id, r.content)
                           for r in records if r.content])

    def messages_written(self, tenant_id: str, user_id: str,
                         messages: Sequence[AgentMessage]) -> None:
        """Queue appended messages that have text."""
        self.queue.submit([Pending(tenant_id, user_id, "message", m.id, m.content)
                           for m in messages if m.content and m.content.strip()])

    # -- VectorSink ------------------------------------------------------------------
    async def store_vectors(self, workspace_id: str, user_id: str | None, source: str,
                            rows: Sequence[tuple[str, str, Sequence[float]]],
                            model_id: str) -> int:
        """Write vectors on the primary, under the scope the rows were written in (near
        duplicates among the memories marked or merged, as configured)."""
        return await Vectors(await self._source.pool()).store(
            workspace_id, user_id, source, rows, model_id, threshold=self.dedup_threshold,
            merge=self.dedup == "merge")

    # -- queries ---------------------------------------------------------------------
    async def query_vector(self, query: str) -> list[float] | None:
        """The query's vector, or None (recall then ranks lexically) when the embedder
        fails or takes longer than ``query_timeout_s``."""
        try:
            vector = await asyncio.wait_for(self.embedder.embed_query(query),
                                            self.query_timeout_s)
            checked = check_vectors([vector], 1, self.embedder.dims, self.model_id)[0]
            if not any(checked):
                raise ValueError("a vector of zeros (no direction)")
        except Exception as exc:  # the embedder's own errors (and the timeout): any type
            self.query_failures += 1
            self.lexical_fallback(f"the query embedding failed ({type(exc).__name__}: {exc})")
            return None
        if self._query_failing:
            log.info("query embeddings work again: recall is hybrid")
            self._query_failing = False
        return checked

    def lexical_fallback(self, why: str) -> None:
        """Log (once per outage) that the query embedding failed: recall ranks lexically."""
        if not self._query_failing:
            log.warning("%s; recall ranks lexically until it works again", why)
            self._query_failing = True
        else:
            log.debug("%s; lexical recall", why)

    def hybrid_ok(self) -> bool:
        """False for ``HYBRID_RETRY_S`` after the database refused a hybrid recall (no
        pgvector, vectors of another dimension): recall is then lexical, one statement."""
        if self._hybrid_off_until and time.monotonic() >= self._hybrid_off_until:
            self._hybrid_off_until = 0.0
        return not self._hybrid_off_until

    def hybrid_failed(self, why: str) -> None:
        """The database refused a hybrid recall: lexical for a while, logged once."""
        self._hybrid_off_until = time.monotonic() + HYBRID_RETRY_S
        if not self._hybrid_failing:
            log.warning("hybrid recall failed (%s); recall ranks lexically, trying again "
                        "every %.0f s", why, HYBRID_RETRY_S)
            self._hybrid_failing = True

    def hybrid_worked(self) -> None:
        """A hybrid recall went through."""
        if self._hybrid_failing:
            log.info("hybrid recall works again")
            self._hybrid_failing = False

    async def close(self, timeout: float) -> int:
        """Embed what is queued (up to ``timeout`` seconds); return the texts left."""
        return await self.queue.close(timeout)
