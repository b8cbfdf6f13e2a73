"""Replica routing with fakes: freshness measured on the primary, down on a failed read."""

from __future__ import annotations

import logging

import asyncpg
import pytest

from isokron.db.freshness import PrimaryHistory, lsn_value
from isokron.db.replicas import ReplicaRouter
from isokron.errors import DatabaseError, SubstrateUnavailableError


def lsn(n: int) -> str:
    return f"{n >> 32:X}/{n & 0xFFFFFFFF:X}"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Primary:
    """The primary: its WAL position and its own clock (epoch seconds)."""

    def __init__(self) -> None:
        self.lsn = 1000
        self.at = 1_700_000_000.0
        self.fetches = 0
        self.fail: BaseException | None = None

    async def fetchrow(self, sql: str) -> dict[str, object]:
        self.fetches += 1
        if self.fail is not None:
            raise self.fail
        assert "pg_current_wal_lsn()" in sql
        return {"lsn": lsn(self.lsn), "at": self.at, "inserted": lsn(self.lsn + 8)}


class Replica:
    def __init__(self, *, standby: bool = True, replayed: int | None = 1000) -> None:
        self.standby = standby
        self.replayed = replayed
        self.fetches = 0
        self.fail: BaseException | None = None
        self.terminated = False

    async def fetchrow(self, sql: str) -> dict[str, object]:
        self.fetches += 1
        if self.fail is not None:
            raise self.fail
        assert "pg_is_in_recovery()" in sql
        return {"standby": self.standby,
                "replayed": None if self.replayed is None else lsn(self.replayed)}

    def terminate(self) -> None:
        self.terminated = True

    async def close(self) -> None:
        pass


def router(replicas: dict[str, Replica], clock: Clock, *, max_lag_s: float = 5.0,
           ) -> ReplicaRouter:
    opened: list[str] = []

    async def open_pool(dsn: str) -> asyncpg.Pool:
        opened.append(dsn)
        return replicas[dsn]  # type: ignore[return-value]

    r = ReplicaRouter(tuple(replicas), max_lag_s=max_lag_s, open_pool=open_pool, clock=clock)
    r.opened = opened  # type: ignore[attr-defined]
    return r


def test_the_history_bounds_the_lag_in_primary_time():
    h = PrimaryHistory(keep_s=10.0)
    assert h.lag(5) is None  # nothing sampled: unknown
    h.add(100, 1.0)
    h.add(100, 2.0)  # same position: only its newest time counts
    h.add(200, 3.0)
    h.add(300, 7.0)
    assert h.lag(300) == 0.0 and h.lag(10_000) == 0.0
    assert h.lag(250) == 4.0  # last known at or before 250 at t=3, newest t=7
    assert h.lag(150) == 5.0  # the primary was at 100 until t=2
    assert h.lag(99) is None  # older than every sample: unknown, never "fresh"
    h.add(400, 30.0)  # the window is 10 s: one boundary sample older than it stays
    assert [s[0] for s in h.samples] == [300, 400]
    assert h.lag(350) == 23.0
    h.add(50, 31.0)  # a position that went back: another primary
    assert list(h.samples) == [(50, 31.0)]
    assert lsn_value("1/10") == (1 << 32) + 16 and lsn_value(None) == 0


async def test_a_copy_that_is_not_a_standby_is_never_used_and_logged_once(caplog):
    clock, primary = Clock(), Primary()
    copy = Replica(standby=False, replayed=5000)  # promoted: replay position still there
    r = router({"postgresql://u:secret@copy/db": copy}, clock)
    with caplog.at_level(logging.WARNING, logger="isokron.replicas"):
        for _ in range(3):
            assert await r.pick("w", primary) is primary  # type: ignore[arg-type]
            clock.now += 1
    assert r.reads == {"replica": 0, "primary": 3}
    assert caplog.text.count("skipped: not a standby") == 1
    assert "secret" not in caplog.text
    assert r.snapshot()["state"] == {"postgresql://u:***@copy/db": "not a standby"}


async def test_an_unknown_replay_position_is_not_fresh():
    clock, primary = Clock(), Primary()
    r = router({"postgresql://r/db": Replica(replayed=None)}, clock)
    assert await r.pick("w", primary) is primary  # type: ignore[arg-type]
    assert r.snapshot()["state"]["postgresql://r/db"] == "position unknown"


async def test_a_stalled_replay_stops_being_fresh_once_the_primary_moves_on(caplog):
    """The replica's own view (no replay timestamp, receive = replay) is never asked: only
    the primary's position and clock."""
    clock, primary = Clock(), Primary()
    replica = Replica(replayed=1000)
    r = router({"postgresql://r/db": replica}, clock, max_lag_s=5.0)
    assert await r.pick("w", primary) is replica  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="isokron.replicas"):
        # stalled at 1000; the primary writes and keeps going, in its own time
        for step in range(1, 8):
            clock.now += 1
            primary.lsn, primary.at = 1000 + step * 100, primary.at + 1
            chosen = await r.pick("w", primary)  # type: ignore[arg-type]
            assert (chosen is replica) == (step <= 5), step
        assert caplog.text.count("skipped: behind") == 1
        replica.replayed = primary.lsn  # caught up again
        clock.now += 1
        assert await r.pick("w", primary) is replica  # type: ignore[arg-type]
    assert caplog.text.count("fresh again") == 1


async def test_a_replica_older_than_every_sample_is_not_fresh():
    clock, primary = Clock(), Primary()
    primary.lsn = 9000
    r = router({"postgresql://r/db": Replica(replayed=1000)}, clock, max_lag_s=60)
    assert await r.pick("w", primary) is primary  # type: ignore[arg-type]
    assert r.snapshot()["state"]["postgresql://r/db"] == "behind"


async def test_routing_costs_no_round_trip_while_the_state_is_cached():
    clock, primary = Clock(), Primary()
    replica = Replica()
    r = router({"postgresql://r/db": replica}, clock)
    for _ in range(50):
        assert await r.pick("w", primary) is replica  # type: ignore[arg-type]
    assert (primary.fetches, replica.fetches) == (1, 1)
    clock.now += r.refresh_s
    await r.pick("w", primary)  # type: ignore[arg-type]
    assert (primary.fetches, replica.fetches) == (2, 2)
    await r.note_write("w", primary)  # type: ignore[arg-type]
    assert r.written["w"] == 1008  # the insert position; the same row is a sample
    assert r.history.samples[-1][0] == 1000


async def test_a_primary_that_cannot_be_sampled_means_the_primary_serves():
    clock, primary = Clock(), Primary()
    primary.fail = OSError("refused")
    r = router({"postgresql://r/db": Replica()}, clock)
    assert await r.pick("w", primary) is primary  # type: ignore[arg-type]
    assert r.snapshot()["down"] == []


@pytest.mark.parametrize("failure", [
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
    OSError("no such socket"),
    asyncpg.InterfaceError("pool is closed"),
    SubstrateUnavailableError("reading: database unavailable"),
])
async def test_a_read_failing_on_a_replica_marks_it_down_and_runs_on_the_primary(failure):
    clock, primary = Clock(), Primary()
    replica = Replica()
    r = router({"postgresql://r/db": replica}, clock)
    assert await r.pick("w", primary) is replica  # type: ignore[arg-type]  # state cached
    ran_on: list[object] = []

    async def read(pool: object) -> str:
        ran_on.append(pool)
        if pool is replica:
            raise failure
        return "from the primary"

    assert await r.run("w", primary, read) == "from the primary"  # type: ignore[arg-type]
    assert ran_on == [replica, primary]
    assert replica.terminated
    snap = r.snapshot()
    assert snap["down"] == ["postgresql://r/db"] and snap["retried_on_primary"] == 1
    assert snap["state"]["postgresql://r/db"] == "unreachable"
    # down: not probed again before the back-off
    replica.fetches = 0
    clock.now += r.retry_s - 0.1
    assert await r.run("w", primary, read) == "from the primary"  # type: ignore[arg-type]
    assert replica.fetches == 0 and ran_on[-1] is primary
    # after it: probed through a new pool, and used again
    clock.now += 0.2
    replica.terminated = False
    assert await r.pick("w", primary) is replica  # type: ignore[arg-type]
    assert r.opened == ["postgresql://r/db", "postgresql://r/db"]  # type: ignore[attr-defined]


async def test_a_query_error_on_a_replica_is_not_an_outage():
    clock, primary = Clock(), Primary()
    replica = Replica()
    r = router({"postgresql://r/db": replica}, clock)

    async def read(pool: object) -> str:
        raise DatabaseError("syntax error")

    with pytest.raises(DatabaseError):
        await r.run("w", primary, read)  # type: ignore[arg-type]
    assert r.snapshot()["down"] == [] and not replica.terminated


async def test_a_probe_failure_marks_the_replica_down(caplog):
    clock, primary = Clock(), Primary()
    replica = Replica()
    replica.fail = OSError("refused")
    r = router({"postgresql://r/db": replica}, clock)
    with caplog.at_level(logging.WARNING, logger="isokron.replicas"):
        assert await r.pick("w", primary) is primary  # type: ignore[arg-type]
        assert await r.pick("w", primary) is primary  # type: ignore[arg-type]
    assert caplog.text.count("skipped: unreachable") == 1
    assert r.snapshot()["down"] == ["postgresql://r/db"]
