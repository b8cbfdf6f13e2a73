"""Route reads to streaming replicas that prove they are fresh, with read-your-writes.

A replica serves a read only when it is a standby (``pg_is_in_recovery()``) whose
replayed WAL position (``pg_last_wal_replay_lsn()``) is within ``replica_max_lag_s`` of
the primary, measured on the primary (:mod:`.freshness`: the primary's WAL position and
clock are sampled on the primary, never the replica's clock). A copy that is not a
standby, a stalled replay or receiver (the primary moves on, the replica does not), or
an unknown position is not fresh: the primary serves, logged once per state change.

After a workspace writes, the primary's WAL position is remembered for it; its reads go
to a replica only once that replica has replayed past it.

A connection failure of a replica, while probing it or while a read runs on it, marks it
down at once (:meth:`ReplicaRouter.run` runs the same read again on the primary); it is
probed again after ``retry_s``.

Round trips: a replica's state and the primary's position are each read at most every
``refresh_s`` seconds (0.2), shared by every workspace, and each write's
read-your-writes query is also a sample of the primary's position; a read with both
cached costs no extra round trip. The trade-off of caching: a replica may be up to
``max_lag_s + refresh_s`` behind when it serves, and one that stopped inside
``refresh_s`` is found out by the read that fails on it (then retried on the primary).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from ..config import IsoKronConfig
from ..guard.dsn import redact_dsn
from ..pool import create_pool, is_connection_failure
from .freshness import PrimaryHistory, lsn_value

__all__ = ["ReplicaRouter", "lsn_value", "replica_router"]

log = logging.getLogger("isokron.replicas")
T = TypeVar("T")

_REPLICA_STATE = ("SELECT pg_is_in_recovery() AS standby, "
                  "pg_last_wal_replay_lsn()::text AS replayed")
_PRIMARY_SAMPLE = ("SELECT pg_current_wal_lsn()::text AS lsn, "
                   "extract(epoch FROM clock_timestamp())::float8 AS at")
_AFTER_WRITE = ("SELECT pg_current_wal_insert_lsn()::text AS inserted, "
                "pg_current_wal_lsn()::text AS lsn, "
                "extract(epoch FROM clock_timestamp())::float8 AS at")


class ReplicaRouter:
    """Pick the pool a workspace's read goes to, and fall back when a replica fails."""

    def __init__(self, dsns: tuple[str, ...], *, max_lag_s: float,
                 open_pool: Callable[[str], Awaitable[asyncpg.Pool]],
                 refresh_s: float = 0.2, retry_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.dsns = dsns
        self.max_lag_s = max_lag_s
        self.refresh_s = refresh_s
        self.retry_s = retry_s
        self.clock = clock
        self._open_pool = open_pool
        self._pools: dict[str, asyncpg.Pool] = {}
        self._state: dict[str, tuple[float, bool, int | None]] = {}  # (read at, standby, lsn)
        self._down_until: dict[str, float] = {}
        self._status: dict[str, str] = {}  # dsn -> "fresh" or why it is skipped (logged)
        self.history = PrimaryHistory(keep_s=max_lag_s + 60.0)
        self._sampled_at: float | None = None
        #: workspace -> the primary's WAL position after its last write
        self.written: dict[str, int] = {}
        self.reads = {"replica": 0, "primary": 0}
        #: reads that failed on a replica's connection and ran again on the primary
        self.retried_on_primary = 0

    async def note_write(self, workspace_id: str, primary: asyncpg.Pool) -> None:
        """After ``workspace_id`` wrote: remember the primary's WAL insert position (and
        keep the same round trip as a sample of the primary's position).

        The insert position, not the write position: with synchronous_commit off the
        write position can still be before this commit's record.
        """
        row = await primary.fetchrow(_AFTER_WRITE)
        assert row is not None
        self.wrote(workspace_id, str(row["inserted"]))
        self.history.add(lsn_value(row["lsn"]), float(row["at"]))

    def wrote(self, workspace_id: str, lsn: str) -> None:
        """Remember the primary's position after ``workspace_id`` wrote."""
        self.written[workspace_id] = max(self.written.get(workspace_id, 0), lsn_value(lsn))

    async def _sample_primary(self, primary: asyncpg.Pool) -> None:
        now = self.clock()
        if self._sampled_at is not None and now - self._sampled_at < self.refresh_s:
            return
        self._sampled_at = now  # concurrent picks use the history as it is meanwhile
        row = await primary.fetchrow(_PRIMARY_SAMPLE)
        assert row is not None
        self.history.add(lsn_value(row["lsn"]), float(row["at"]))

    async def _replica_state(self, dsn: str, *, fresh: bool) -> tuple[bool, int | None]:
        cached = self._state.get(dsn)
        now = self.clock()
        if cached is not None and not fresh and now - cached[0] < self.refresh_s:
            return cached[1], cached[2]
        pool = self._pools.get(dsn)
        if pool is None:
            pool = self._pools[dsn] = await self._open_pool(dsn)
        row = await pool.fetchrow(_REPLICA_STATE)
        assert row is not None
        replayed = None if row["replayed"] is None else lsn_value(row["replayed"])
        self._state[dsn] = (now, bool(row["standby"]), replayed)
        return bool(row["standby"]), replayed

    def unfit(self, standby: bool, replayed: int | None) -> tuple[str, str] | None:
        """Why a replica in this state may not serve (a state, a detail); None if fresh."""
        if not standby:
            return "not a standby", "pg_is_in_recovery() is false (promoted or detached)"
        if replayed is None:
            return "position unknown", "pg_last_wal_replay_lsn() is NULL"
        lag = self.history.lag(replayed)
        if lag is None:
            return "behind", ("replayed position older than every primary position "
                              f"sampled (at least {self.history.span():.1f}s)")
        if lag > self.max_lag_s:
            return "behind", (f"up to {lag:.1f}s behind the primary "
                              f"(replica_max_lag_s {self.max_lag_s:g})")
        return None

    async def pick(self, workspace_id: str, primary: asyncpg.Pool) -> asyncpg.Pool:
        """A replica that is up, fresh and past the workspace's last write; else the
        primary."""
        needed = self.written.get(workspace_id, 0)
        candidates = [d for d in self.dsns if self._down_until.get(d, 0.0) <= self.clock()]
        if candidates:
            try:
                await self._sample_primary(primary)
            except Exception:  # the primary's own read will fail and say so
                candidates = []
        for dsn in candidates:
            try:
                standby, replayed = await self._replica_state(dsn, fresh=False)
                if standby and replayed is not None and replayed < needed:
                    standby, replayed = await self._replica_state(dsn, fresh=True)
            except Exception as exc:  # down: the primary serves; probed again later
                self.mark_down(dsn, exc)
                continue
            why = self.unfit(standby, replayed)
            if why is not None:
                self._note(dsn, *why)
                continue
            if replayed is not None and replayed >= needed:
                self._note(dsn, "fresh", "")
                self.reads["replica"] += 1
                return self._pools[dsn]
        self.reads["primary"] += 1
        return primary

    async def run(self, workspace_id: str, primary: asyncpg.Pool,
                  read: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
        """Run ``read`` on the pool :meth:`pick` chooses; when it fails on a replica's
        connection, mark that replica down and run the same read on the primary."""
        pool = await self.pick(workspace_id, primary)
        if pool is primary:
            return await read(primary)
        try:
            return await read(pool)
        except Exception as exc:
            if not is_connection_failure(exc):
                raise
            for dsn in [d for d, known in self._pools.items() if known is pool]:
                self.mark_down(dsn, exc)
            self.retried_on_primary += 1
            self.reads["primary"] += 1
            return await read(primary)

    def mark_down(self, dsn: str, exc: BaseException) -> None:
        """Skip ``dsn`` for ``retry_s``; its pooled connections are dropped."""
        self._down_until[dsn] = self.clock() + self.retry_s
        self._state.pop(dsn, None)
        pool = self._pools.get(dsn)
        if pool is not None:
            pool.terminate()  # dead connections: a later probe opens a new pool
            del self._pools[dsn]
        self._note(dsn, "unreachable", f"({type(exc).__name__}: {exc})")

    def _note(self, dsn: str, state: str, detail: str) -> None:
        previous = self._status.get(dsn)
        self._status[dsn] = state
        if state == previous:
            return
        if state == "fresh":
            if previous is not None:
                log.info("isokron replica %s fresh again: it serves reads", redact_dsn(dsn))
            return
        log.warning("isokron replica %s skipped: %s %s; the primary serves its reads",
                    redact_dsn(dsn), state, detail)

    async def close(self) -> None:
        for pool in self._pools.values():
            await pool.close()
        self._pools.clear()

    def snapshot(self) -> dict[str, Any]:
        """For ``stats()``: reads per target, reads retried on the primary, replicas marked
        down and each replica's last state (``fresh`` or why it was skipped)."""
        return {"reads": dict(self.reads), "retried_on_primary": self.retried_on_primary,
                "down": sorted(redact_dsn(d) for d, t in self._down_until.items()
                               if t > self.clock()),
                "state": {redact_dsn(d): s for d, s in self._status.items()}}


def replica_router(cfg: IsoKronConfig) -> ReplicaRouter | None:
    """The router for ``cfg.read_dsn`` (None without one)."""
    if not cfg.read_dsn:
        return None

    async def open_replica(dsn: str) -> asyncpg.Pool:
        return await create_pool(
            dsn, min_size=1, max_size=cfg.pool_max_size,
            statement_timeout_ms=cfg.statement_timeout_ms,
            prepared_statements=cfg.prepared_statements, context_signer=cfg.context_signer())

    return ReplicaRouter(cfg.read_dsn, max_lag_s=cfg.replica_max_lag_s, open_pool=open_replica)
