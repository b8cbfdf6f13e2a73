"""Queue hook writes: bounded, in order, retried on transient errors, drained on shutdown.

Delivery is batched: the worker takes up to ``batch_max`` queued jobs at a time. Jobs of
one *lane* keep their submission order; different lanes (say, one session's messages
and one workspace's episodic events) are independent and are delivered side by side.
Consecutive jobs of a lane that share a ``merge`` function are written by one call of
it (one statement for many queued writes).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from ..errors import DeferredWriteError, QuotaExceededError
from ..pool import is_connection_failure, is_transient_refusal
from .breaker import CircuitBreaker

__all__ = ["DeadLetter", "Outbox", "OutboxStats", "WriteJob", "surface_of"]

log = logging.getLogger("isokron.outbox")


@attrs.frozen(kw_only=True, eq=False)
class WriteJob:
    """Describe one write: a name for logs and the coroutine factory that performs it.

    The factory is called again on every retry, so it must be idempotent (own
    tables use a client-generated id with ON CONFLICT DO NOTHING).
    """

    name: str
    run: Callable[[], Awaitable[object]]
    #: bytes the job holds while queued (its payload); counted against ``max_bytes``
    size: int = 0
    #: jobs of one lane are delivered in submission order; lanes are independent
    lane: str = ""
    #: this job's part of a merged write (see ``merge``)
    item: Any = None
    #: writes the items of consecutive jobs of the lane that share this function in one
    #: call; must be idempotent like ``run`` (it is retried as a whole)
    merge: Callable[[list[Any]], Awaitable[object]] | None = None
    #: the workspace the write belongs to (read-your-writes waits on it)
    workspace: str | None = None


@attrs.define
class OutboxStats:
    """Count what happened to submitted writes (totals; ``Outbox.by_surface`` splits them)."""

    queued: int = 0
    delivered: int = 0
    deferred: int = 0
    retried: int = 0
    overflowed: int = 0
    dead_lettered: int = 0
    lost: int = 0
    over_quota: int = 0  # of the dead-lettered: refused by a workspace quota (no outage)

    @property
    def failed(self) -> int:  # = dead_lettered: given up on after an error
        return self.dead_lettered

    @property
    def dropped(self) -> int:
        """Jobs that never ran: refused when full, or still queued at shutdown."""
        return self.overflowed + self.lost

    @property
    def undelivered(self) -> int:
        """Every write that did not land: dead-lettered, refused when full, or still queued
        at shutdown (what ``close()`` reports as lost)."""
        return self.dead_lettered + self.overflowed + self.lost


@attrs.frozen(kw_only=True)
class DeadLetter:
    """A write that was given up on, kept (bounded) for inspection through ``stats()``."""

    name: str
    lane: str
    reason: str
    error: str
    at: float
    writes: int = 1


def surface_of(name: str) -> str:
    """The surface a job belongs to: the first dotted part of its name (``session``, …)."""
    return name.split(".", 1)[0].split(" ", 1)[0]


class Outbox:
    """Run writes one at a time, in submission order, on the loop it was started on."""

    def __init__(
        self,
        *,
        capacity: int = 1000,
        max_bytes: int = 64 * 1024 * 1024,
        batch_max: int = 256,
        base_backoff_s: float = 0.05,
        max_backoff_s: float = 2.0,
        max_attempts: int = 10,
        dead_letter_max: int = 100,
        breaker: CircuitBreaker | None = None,
        deferred_log_interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        if batch_max < 1:
            raise ValueError(f"batch_max must be >= 1, got {batch_max!r}")
        self.batch_max = batch_max
        self.queued_bytes = 0
        self.base_backoff_s = base_backoff_s
        self.max_backoff_s = max_backoff_s
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts!r}")
        self.max_attempts = max_attempts
        self.breaker = breaker
        self.dead_letters: deque[DeadLetter] = deque(maxlen=dead_letter_max)
        #: per surface (``session``, ``episodic``, ``scratchpad``, ``event``, ``delegation``):
        #: the same counters as ``stats``
        self.by_surface: dict[str, OutboxStats] = {}
        self.deferred_log_interval_s = deferred_log_interval_s
        self.clock = clock
        self.stats = OutboxStats()
        #: overflow WARNINGs are rate-limited: the first, then every 100th per surface
        self._queue: deque[WriteJob] = deque()
        self._wake: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._room: asyncio.Event | None = None
        #: a delivery is waiting out a connection failure (the database is unreachable)
        self.retrying = False
        self._worker: asyncio.Task[None] | None = None
        self._closing = False
        self._deferred_seen: dict[str, tuple[float, int]] = {}

    def snapshot(self) -> dict[str, Any]:
        """Totals, the same per surface, what is queued now and the last dead letters."""
        def counters(stats: OutboxStats) -> dict[str, int]:
            return {**attrs.asdict(stats), "dropped": stats.dropped}

        return {**counters(self.stats), "queued_now": len(self),
                "queued_bytes": self.queued_bytes,
                "by_surface": {k: counters(v) for k, v in sorted(self.by_surface.items())},
                "dead_letters": [attrs.asdict(d) for d in self.dead_letters]}

    def __len__(self) -> int:
        return len(self._queue)

    def pressure(self) -> float:
        """How full the queue is: the larger of jobs / capacity and bytes / max_bytes.

        Plain reads of two counters, safe from any thread (a snapshot).
        """
        return max(len(self._queue) / self.capacity, self.queued_bytes / self.max_bytes)

    async def _wait_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Wait (woken whenever jobs are handled) until ``done()``; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done():
            if self._room is None:
                self._room = asyncio.Event()
            self._room.clear()
            left = deadline - loop.time()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._room.wait(), min(left, 0.05))
        return True

    async def wait_for_workspace(self, workspace: str, timeout: float) -> bool:
        """Wait until no queued write of ``workspace`` is left; False on timeout."""
        return await self._wait_until(
            lambda: not any(job.workspace == workspace for job in self._queue), timeout)

    async def wait_for_room(self, below: float, timeout: float) -> bool:
        """Wait until ``pressure()`` is under ``below``; False on timeout (call on its loop).

        Returns at once (False) while the database is unreachable: waiting would only
        stall the caller for the length of the outage.
        """
        await self._wait_until(lambda: self.pressure() < below or self.retrying, timeout)
        return self.pressure() < below

    def _count(self, name: str, field: str, n: int = 1) -> int:
        """Add ``n`` to a counter, in total and for the job's surface; return the surface's."""
        setattr(self.stats, field, getattr(self.stats, field) + n)
        per = self.by_surface.setdefault(surface_of(name), OutboxStats())
        setattr(per, field, getattr(per, field) + n)
        return int(getattr(per, field))

    def submit(self, job: WriteJob) -> bool:
        """Queue ``job`` (call on the outbox's loop); return False and log when full.

        Full means ``capacity`` jobs or ``max_bytes`` of queued payload, whichever comes first.
        """
        if len(self._queue) >= self.capacity or self.queued_bytes + job.size > self.max_bytes:
            dropped = self._count(job.name, "overflowed")
            if dropped == 1 or dropped % 100 == 0:
                log.warning("isokron outbox full (%d queued, %d bytes): dropped write %s "
                            "(%d %s write(s) dropped so far)", len(self._queue),
                            self.queued_bytes, job.name, dropped, surface_of(job.name))
            return False
        self._count(job.name, "queued")
        self.queued_bytes += job.size
        self._queue.append(job)
        self._ensure_worker()
        assert self._wake is not None and self._idle is not None
        self._idle.clear()
        self._wake.set()
        return True

    def _ensure_worker(self) -> None:
        if self._worker is None or self._worker.done():
            self._wake = asyncio.Event()
            self._idle = asyncio.Event()
            self._idle.set()
            loop = asyncio.get_running_loop()
            self._worker = loop.create_task(self._run(), name="isokron-outbox")

    async def _run(self) -> None:
        assert self._wake is not None and self._idle is not None
        while True:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            # A job stays queued (and counted) until it is handled: a shutdown meanwhile
            # reports it as lost.
            lanes: dict[str, list[WriteJob]] = {}
            for job in itertools.islice(self._queue, self.batch_max):
                lanes.setdefault(job.lane, []).append(job)
            await asyncio.gather(*(self._deliver_lane(lane) for lane in lanes.values()))

    def _handled(self, jobs: list[WriteJob]) -> None:
        for job in jobs:  # near the front of the queue: cheap (identity, eq=False)
            self._queue.remove(job)
            self.queued_bytes -= job.size
        if self._room is not None:
            self._room.set()

    async def _deliver_lane(self, jobs: list[WriteJob]) -> None:
        """Deliver one lane's jobs in order, merging runs that share a ``merge`` function."""
        start = 0
        while start < len(jobs):
            first = jobs[start]
            end = start + 1
            if first.merge is not None:
                while end < len(jobs) and jobs[end].merge == first.merge:
                    end += 1
            if end - start == 1:
                await self._deliver(first.name, first.run, 1)
                self._handled([first])
            else:
                merge, items = first.merge, [job.item for job in jobs[start:end]]
                assert merge is not None

                def run(merge: Callable[[list[Any]], Awaitable[object]] = merge,
                        items: list[Any] = items) -> Awaitable[object]:
                    return merge(items)

                await self._deliver(f"{first.name} (x{end - start})", run, end - start)
                self._handled(jobs[start:end])
            start = end

    async def _deliver(self, name: str, run: Callable[[], Awaitable[object]],
                       count: int) -> None:
        """Run one write (or one merged run of ``count``): deliver it, or dead-letter it.

        Connection-level failures and transient refusals (a lock or statement timeout, a
        lock not available, a serialization failure or deadlock: the database answered)
        are retried: up to ``max_attempts`` attempts with exponential backoff. Only
        connection failures count against the circuit breaker, and while it is open the
        worker waits instead of burning attempts. Anything else (bad data, a constraint,
        a permission) is final: the job goes to the dead-letter list (counted as lost by
        ``close()``) and the queue moves on.
        """
        attempt = 0
        while True:
            await self._wait_for_breaker()
            try:
                await run()
            except DeferredWriteError as exc:
                self._count(name, "deferred", count)
                self._log_deferred(exc)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                connection = is_connection_failure(exc)
                transient = not connection and is_transient_refusal(exc)
                if connection and self.breaker is not None:
                    self.breaker.record_failure()
                elif self.breaker is not None:
                    self.breaker.release_probe()  # the database answered: no outage
                attempt += 1
                retry = connection or transient
                if retry and not self._closing and attempt < self.max_attempts:
                    self._count(name, "retried")
                    self.retrying = True
                    if self._room is not None:
                        self._room.set()
                    delay = min(self.max_backoff_s, self.base_backoff_s * 2 ** (attempt - 1))
                    if attempt == 1 or attempt % 5 == 0:
                        log.warning("isokron write %s: %s (%s); retrying (attempt %d of %d)",
                                    name, "database unavailable" if connection else
                                    "refused for now (a lock or a timeout)",
                                    type(exc).__name__, attempt, self.max_attempts)
                    await asyncio.sleep(delay)
                    continue
                self.retrying = False
                if quota := isinstance(exc, QuotaExceededError):  # final, and no outage
                    self._count(name, "over_quota", count)
                reason = (f"database unreachable after {attempt} attempt(s)" if connection
                          else f"still refused after {attempt} attempt(s)" if transient
                          else "over a workspace quota (not retryable)" if quota
                          else "not retryable (the database answered with an error)")
                self._dead_letter(name, reason, exc, count)
                return
            if self.breaker is not None:
                self.breaker.record_success()
            self.retrying = False
            self._count(name, "delivered", count)
            return

    async def _wait_for_breaker(self) -> None:
        """While the breaker is open, wait (the next caller after it is the probe)."""
        breaker = self.breaker
        if breaker is None:
            return
        while not breaker.allow():
            self.retrying = True
            if self._room is not None:
                self._room.set()
            await asyncio.sleep(min(max(breaker.retry_in(), 0.01), self.max_backoff_s))

    def _dead_letter(self, name: str, reason: str, exc: BaseException, count: int) -> None:
        lane = next((job.lane for job in self._queue if job.name == name), "")
        notes = "".join(f" ({note})" for note in getattr(exc, "__notes__", ()))
        self.dead_letters.append(DeadLetter(
            name=name, lane=lane, reason=reason, error=f"{type(exc).__name__}: {exc}{notes}",
            at=time.time(), writes=count))
        total = self._count(name, "dead_lettered", count)
        log.warning("isokron write %s dead-lettered: %s: %s: %s%s (%d %s write(s) "
                    "dead-lettered so far)", name, reason, type(exc).__name__, exc, notes,
                    total, surface_of(name))

    def _log_deferred(self, exc: DeferredWriteError) -> None:
        """Log one WARNING per surface per interval, with how many were dropped meanwhile."""
        now = self.clock()
        first, count = self._deferred_seen.get(exc.deviation_id, (float("-inf"), 0))
        count += 1
        if now - first >= self.deferred_log_interval_s:
            log.warning("%s (%d write(s) dropped on this surface so far)", exc, count)
            self._deferred_seen[exc.deviation_id] = (now, count)
        else:
            self._deferred_seen[exc.deviation_id] = (first, count)

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued write has been handled; return False on timeout."""
        if not self._queue or self._idle is None:
            return True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def drain(self, timeout: float) -> int:
        """Wait up to ``timeout`` for queued writes; stop the worker; return how many were lost."""
        await self.wait_idle(timeout)
        self._closing = True
        lost = len(self._queue)
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        if lost:
            for job in self._queue:
                self._count(job.name, "lost")
            log.warning("isokron outbox shut down with %d undelivered write(s)", lost)
            self._queue.clear()
            self.queued_bytes = 0
        self._closing = False
        return lost
