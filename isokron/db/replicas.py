"""Route reads to streaming replicas, with read-your-writes per workspace.

After a workspace writes, the primary's WAL position is remembered for it; its reads
go to a replica only once that replica has replayed past the position (until then, and
for a replica that is down or lagging past ``replica_max_lag_s``, the primary serves).
A replica's state is read at most every ``refresh_s`` seconds, so routing costs no
extra round trip on most reads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from ..guard.dsn import redact_dsn

__all__ = ["ReplicaRouter", "lsn_value"]

log = logging.getLogger("isokron.replicas")

_STATE = """
SELECT pg_last_wal_replay_lsn()::text AS replayed,
       CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)
       END AS lag
"""


def lsn_value(text: str | None) -> int:
    """A WAL position ``X/Y`` as a number (0 for None)."""
    if not text:
        return 0
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


class ReplicaRouter:
    """Pick the pool a workspace's read goes to."""

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
        self._state: dict[str, tuple[float, int, float]] = {}  # dsn -> (read at, lsn, lag)
        self._down_until: dict[str, float] = {}
        self._warned: set[str] = set()
        #: workspace -> the primary's WAL position after its last write
        self.written: dict[str, int] = {}
        self.reads = {"replica": 0, "primary": 0}

    async def note_write(self, workspace_id: str, primary: asyncpg.Pool) -> None:
        """After ``workspace_id`` wrote: remember the primary's WAL insert position.

        The insert position, not the write position: with synchronous_commit off the
        write position can still be before this commit's record.
        """
        lsn = await primary.fetchval("SELECT pg_current_wal_insert_lsn()::text")
        self.wrote(workspace_id, str(lsn))

    def wrote(self, workspace_id: str, lsn: str) -> None:
        """Remember the primary's position after ``workspace_id`` wrote."""
        self.written[workspace_id] = max(self.written.get(workspace_id, 0), lsn_value(lsn))

    async def _replica_state(self, dsn: str, *, fresh: bool) -> tuple[int, float]:
        cached = self._state.get(dsn)
        now = self.clock()
        if cached is not None and not fresh and now - cached[0] < self.refresh_s:
            return cached[1], cached[2]
        pool = self._pools.get(dsn)
        if pool is None:
            pool = self._pools[dsn] = await self._open_pool(dsn)
        row = await pool.fetchrow(_STATE)
        assert row is not None
        state = (now, lsn_value(row["replayed"]), float(row["lag"]))
        self._state[dsn] = state
        return state[1], state[2]

    async def pick(self, workspace_id: str, primary: asyncpg.Pool) -> asyncpg.Pool:
        """A replica that is up, not lagging and past the workspace's last write; else
        the primary."""
        needed = self.written.get(workspace_id, 0)
        for dsn in self.dsns:
            if self._down_until.get(dsn, 0.0) > self.clock():
                continue
            try:
                replayed, lag = await self._replica_state(dsn, fresh=False)
                if replayed < needed:
                    replayed, lag = await self._replica_state(dsn, fresh=True)
            except Exception as exc:  # down: the primary serves; try again later
                self._down_until[dsn] = self.clock() + self.retry_s
                self._state.pop(dsn, None)
                self._note(dsn, f"unreachable ({type(exc).__name__}: {exc})")
                continue
            if lag > self.max_lag_s:
                self._note(dsn, f"{lag:.1f}s behind (replica_max_lag_s {self.max_lag_s:g})")
                continue
            if replayed >= needed:
                self._warned.discard(dsn)
                self.reads["replica"] += 1
                return self._pools[dsn]
        self.reads["primary"] += 1
        return primary

    def _note(self, dsn: str, why: str) -> None:
        if dsn not in self._warned:
            self._warned.add(dsn)
            log.warning("isokron replica %s skipped: %s; the primary serves its reads",
                        redact_dsn(dsn), why)

    async def close(self) -> None:
        for pool in self._pools.values():
            await pool.close()
        self._pools.clear()

    def snapshot(self) -> dict[str, Any]:
        """For ``stats()``: reads per target and replicas marked down."""
        return {"reads": dict(self.reads),
                "down": sorted(redact_dsn(d) for d, t in self._down_until.items()
                               if t > self.clock())}
