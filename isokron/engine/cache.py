"""Cache each workspace's context and prompt block with a TTL, plus single-flight loads.

Fresh entries live in a ``cachetools.TLRUCache`` (injectable clock; a TTL of 0
disables caching) whose expiry is fixed by when the entry was first verified, so a
partial refresh after a write never extends the life of the parts it did not
re-read. The last verified entry of each workspace is also kept for stale-if-error
serving. ``peek`` is thread-safe and does no I/O, so the sync provider can serve a
warm block from any thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import attrs
from cachetools import LRUCache, TLRUCache

from ..models import SessionContext

__all__ = ["CachedContext", "Clock", "ContextCache"]

#: A monotonic clock in seconds (``time.monotonic`` unless a test injects one).
Clock = Callable[[], float]


@attrs.frozen(kw_only=True)
class CachedContext:
    """Hold one assembled context, its rendered block and when it was stored."""

    context: SessionContext
    block: str
    stored_at: float


class ContextCache:
    """Keep fresh and last-good contexts per workspace; deduplicate concurrent loads."""

    def __init__(self, ttl_seconds: float, *, clock: Clock = time.monotonic,
                 maxsize: int = 1024) -> None:
        self.maxsize = maxsize
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._fresh: TLRUCache[str, CachedContext] | None = (
            TLRUCache(maxsize=maxsize, ttu=self._expires_at, timer=clock)
            if ttl_seconds > 0 else None
        )
        self._last_good: LRUCache[str, CachedContext] = LRUCache(maxsize=maxsize)
        self._dirty: dict[str, set[str]] = {}
        self._inflight: dict[str, asyncio.Task[CachedContext]] = {}
        #: bumped by every change (put, mark_dirty, invalidate): a reader that saw an
        #: entry at generation g may serve it again without a lookup while g is current
        self.generation = 0

    def _expires_at(self, key: str, entry: CachedContext, now: float) -> float:
        return entry.stored_at + self.ttl_seconds

    def peek(self, workspace_id: str) -> CachedContext | None:
        """Return the fresh entry for ``workspace_id`` or None (thread-safe, no I/O)."""
        with self._lock:
            if self._fresh is None:
                return None
            return self._fresh.get(workspace_id)

    def last_good(self, workspace_id: str) -> CachedContext | None:
        """Return the last verified entry (possibly expired) or None."""
        with self._lock:
            return self._last_good.get(workspace_id)

    def put(
        self, workspace_id: str, context: SessionContext, block: str,
        *, stored_at: float | None = None,
    ) -> CachedContext:
        """Store a verified context and its block; clear the workspace's dirty parts.

        ``stored_at`` keeps an earlier verification time (a partial refresh), so the
        entry expires when the full read it came from would have.
        """
        entry = CachedContext(context=context, block=block,
                              stored_at=self.clock() if stored_at is None else stored_at)
        with self._lock:
            if self._fresh is not None:
                self._fresh[workspace_id] = entry
            self._last_good[workspace_id] = entry
            self._dirty.pop(workspace_id, None)
            self.generation += 1
        return entry

    def mark_dirty(self, workspace_id: str, part: str) -> None:
        """Record that one part (e.g. ``own_scratchpad``) of a cached context is out of date."""
        with self._lock:
            self._dirty.setdefault(workspace_id, set()).add(part)
            self.generation += 1

    def dirty_parts(self, workspace_id: str) -> frozenset[str]:
        """Return the parts of ``workspace_id``'s context that need re-reading."""
        with self._lock:
            return frozenset(self._dirty.get(workspace_id, ()))

    def invalidate(self, workspace_id: str | None = None, *, forget: bool = False) -> None:
        """Drop fresh entries (one workspace or all); ``forget`` drops last-good ones too."""
        with self._lock:
            self.generation += 1
            if workspace_id is None:
                if self._fresh is not None:
                    self._fresh.clear()
                self._dirty.clear()
                if forget:
                    self._last_good.clear()
                return
            if self._fresh is not None:
                self._fresh.pop(workspace_id, None)
            self._dirty.pop(workspace_id, None)
            if forget:
                self._last_good.pop(workspace_id, None)

    async def single_flight(
        self, workspace_id: str, load: Callable[[], Coroutine[Any, Any, CachedContext]]
    ) -> CachedContext:
        """Run ``load`` once for concurrent callers of the same workspace; share its result.

        The load runs as its own task: a caller that gives up (a timeout cancels it)
        does not cancel the load the others are waiting for.
        """
        task = self._inflight.get(workspace_id)
        if task is None:
            task = asyncio.get_running_loop().create_task(load())
            self._inflight[workspace_id] = task
            task.add_done_callback(lambda done: self._finish(workspace_id, done))
        return await asyncio.shield(task)

    def _finish(self, workspace_id: str, task: asyncio.Task[CachedContext]) -> None:
        if self._inflight.get(workspace_id) is task:
            del self._inflight[workspace_id]
        if not task.cancelled():
            task.exception()  # retrieved here, so an unobserved failure is not reported twice
