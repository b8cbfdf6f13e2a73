"""Faults and load against real PostgreSQL: ambiguous commits, concurrent turns, outages."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time

import asyncpg
import pytest

from isokron import AsyncIsoKron, IsoKronMemoryProvider
from isokron.embedded import EmbeddedPostgres, run_coro_sync
from isokron.engine import loop
from isokron.errors import SubstrateUnavailableError
from isokron.stores import EpisodicEventStore
from isokron.testing.seed import seed_demo_workspace


async def _seed(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await seed_demo_workspace(conn, "org_demo")
    finally:
        await conn.close()


class LosesTheFirstReply(EpisodicEventStore):
    """Commit the first append for real, then fail as if the connection dropped before the reply."""

    failed = False

    async def append_many(self, *args, **kwargs):
        events = await super().append_many(*args, **kwargs)
        if not LosesTheFirstReply.failed:
            LosesTheFirstReply.failed = True
            raise ConnectionResetError("connection lost after commit")
        return events


async def test_a_retry_after_an_ambiguous_commit_writes_once(db, owner):
    """The outbox retries a write whose commit was not acknowledged; the row exists once."""
    await seed_demo_workspace(owner, "org_demo")
    kron = AsyncIsoKron({"dsn": db.runtime_dsn})
    kron.outbox.base_backoff_s = 0.001

    async def flaky_store():
        return LosesTheFirstReply(await kron.pool())

    kron.episodic = flaky_store  # type: ignore[method-assign]
    await kron.sync_turn("org_demo", "hello", "hi", session_id="s1", turn_number=1)
    assert await kron.flush(5)
    await kron.close()
    assert LosesTheFirstReply.failed and kron.outbox.stats.retried >= 1
    assert await owner.fetchval(
        "SELECT count(*) FROM isokron.agent_episodic_events WHERE event_type = 'turn'") == 1
    assert await owner.fetchval("SELECT count(*) FROM isokron.agent_messages") == 2


def test_twenty_threads_starting_turns_share_one_fan_out(db):
    """20 agent threads hitting a cold workspace at once cause exactly one fan-out."""
    run_coro_sync(_seed(db.dsn))
    provider = IsoKronMemoryProvider({"dsn": db.runtime_dsn, "workspace_id": "org_demo"})
    provider.initialize("load")
    barrier = threading.Barrier(20)

    def turn(n: int) -> str:
        barrier.wait()
        provider.on_turn_start(n, "go")
        return provider.system_prompt_block()

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        blocks = list(pool.map(turn, range(20)))
    assert len(set(blocks)) == 1 and blocks[0].startswith("§1 Identity")
    assert provider.core.fan_outs == 1
    provider.shutdown()


def test_writes_while_the_database_is_down_never_block_and_overflow_is_logged(server_dir,
                                                                            caplog):
    """With the server stopped, hooks return at once; past capacity writes are dropped and logged."""
    with EmbeddedPostgres(server_dir / "pg", durable=False) as pg:
        run_coro_sync(_seed(pg.dsn))
        provider = IsoKronMemoryProvider({"dsn": pg.runtime_dsn, "workspace_id": "org_demo",
                                          "outbox_capacity": 5, "shutdown_timeout_s": 0.5})
        provider.initialize("s1")
        provider.on_turn_start(1, "warm")
        pg.stop()
        with caplog.at_level(logging.WARNING):
            started = time.monotonic()
            for n in range(20):
                provider.sync_turn(f"q{n}", f"a{n}")
            assert time.monotonic() - started < 0.5
            loop.submit_and_wait(_idle(), 1)
            stats = provider.core.outbox.stats
            assert stats.overflowed > 0
            provider.shutdown()
        assert "outbox full" in caplog.text
        assert "undelivered" in caplog.text


async def _idle() -> None:
    await asyncio.sleep(0.2)


async def test_a_hung_query_surfaces_as_unavailable_not_a_hang(db, owner):
    """A lock held elsewhere makes a read hit statement_timeout -> SubstrateUnavailableError."""
    await seed_demo_workspace(owner, "org_demo")
    kron = AsyncIsoKron({"dsn": db.runtime_dsn, "statement_timeout_ms": 50,
                         "prefetch_timeout_s": 2})
    blocker = await asyncpg.connect(db.dsn)
    try:
        await blocker.execute("BEGIN; LOCK TABLE public.kora_role_charter IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(SubstrateUnavailableError):
            await kron.warm("org_demo")
    finally:
        await blocker.close()
        await kron.close()


class CountsBatches(EpisodicEventStore):
    """Record the size of every append_many call."""

    sizes: list[int] = []

    async def append_many(self, workspace_id, agent_id, events):
        events = list(events)
        CountsBatches.sizes.append(len(events))
        return await super().append_many(workspace_id, agent_id, events)


async def test_queued_turns_are_delivered_in_batches_in_order(db, owner):
    """20 turns queued at once: the episodes go in one call, the 40 messages keep their order
    (each turn is one write: its messages and its episode share one fate)."""
    await seed_demo_workspace(owner, "org_demo")
    kron = AsyncIsoKron({"dsn": db.runtime_dsn})
    CountsBatches.sizes = []

    async def counting_store():
        return CountsBatches(await kron.pool())

    kron.episodic = counting_store  # type: ignore[method-assign]
    for n in range(20):
        await kron.sync_turn("org_demo", f"q{n}", f"a{n}", session_id="s1", turn_number=n)
    assert await kron.flush(10)
    await kron.close()
    assert CountsBatches.sizes == [20]
    assert kron.outbox.stats.delivered == 20 and kron.outbox.stats.failed == 0
    rows = await owner.fetch("SELECT seq, content FROM isokron.agent_messages ORDER BY seq")
    assert [r["content"] for r in rows] == [x for n in range(20) for x in (f"q{n}", f"a{n}")]
    assert [r["seq"] for r in rows] == list(range(1, 41))
    turns = await owner.fetch("SELECT body->>'turn_number' AS n FROM "
                              "isokron.agent_episodic_events ORDER BY created_at, id")
    assert sorted(int(r["n"]) for r in turns) == list(range(20))
