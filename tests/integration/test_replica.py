"""Reads from a real streaming replica (a second embedded server, pg_basebackup -R)."""

from __future__ import annotations

import asyncio
import json
import logging

import asyncpg
import pytest

from isokron import AsyncIsoKron
from isokron.embedded import EmbeddedPostgres
from isokron.testing.seed import seed_demo_workspace


@pytest.fixture(scope="module")
def servers(server_dir_factory):
    root = server_dir_factory("replication")
    with EmbeddedPostgres(root / "primary", durable=False) as primary:
        async def seed() -> None:
            conn = await asyncpg.connect(primary.dsn)
            try:
                await seed_demo_workspace(conn, "org_a")
                await seed_demo_workspace(conn, "org_b")
            finally:
                await conn.close()

        asyncio.run(seed())
        with EmbeddedPostgres(root / "replica", durable=False, standby_of=primary) as replica:
            yield primary, replica


async def _sql(dsn: str, sql: str) -> object:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def _caught_up(primary, replica) -> None:
    # a commit record first: right after a WAL switch (pg_basebackup's) the insert position
    # points past the new segment's page header, where no replay ever ends
    await _sql(primary.dsn, "SELECT txid_current()")
    target = await _sql(primary.dsn, "SELECT pg_current_wal_insert_lsn()::text")
    for _ in range(200):
        if await _sql(replica.dsn, f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"):
            return
        await asyncio.sleep(0.02)
    state = await _sql(replica.dsn, "SELECT concat_ws(' ', pg_is_in_recovery(), "
                       "pg_last_wal_replay_lsn(), pg_last_wal_receive_lsn(), "
                       "(SELECT status FROM pg_stat_wal_receiver))")
    raise AssertionError(f"replica did not catch up to {target}: {state}")


async def _search(kron, workspace: str, query: str) -> list[str]:
    out = json.loads(await kron.handle_tool(workspace, "isokron_memory_search",
                                            {"query": query, "limit": 50}))
    assert out["ok"], out
    return [m["content"] for m in out["memories"]]


async def test_reads_come_from_the_replica_and_a_workspace_reads_its_own_writes(servers):
    primary, replica = servers
    kron = AsyncIsoKron({"dsn": primary.runtime_dsn, "read_dsn": replica.runtime_dsn})
    try:
        assert (await kron.warm("org_a")).workspace_id == "org_a"
        await _caught_up(primary, replica)
        await _sql(replica.dsn, "SELECT pg_wal_replay_pause()")
        try:
            # written behind isokron's back: the paused replica cannot have it
            conn = await asyncpg.connect(primary.dsn)
            try:
                await conn.execute("INSERT INTO isokron.memory_namespaces (name, kind) VALUES "
                                   "('workspace:org_b', 'workspace') ON CONFLICT DO NOTHING")
                await conn.execute("INSERT INTO isokron.memory_records (namespace, content) "
                                   "VALUES ('workspace:org_b', 'unreplayed quarry')")
            finally:
                await conn.close()
            assert await _search(kron, "org_b", "quarry") == []  # served by the replica
            # org_a writes through isokron: its own reads go to the primary until replayed
            out = json.loads(await kron.handle_tool("org_a", "isokron_memory_commit",
                                                    {"content": "own write quarry"}))
            assert out["ok"]
            assert await _search(kron, "org_a", "quarry") == ["own write quarry"]
            assert await _search(kron, "org_b", "quarry") == []  # org_b still on the replica
        finally:
            await _sql(replica.dsn, "SELECT pg_wal_replay_resume()")
        await _caught_up(primary, replica)
        assert await _search(kron, "org_b", "quarry") == ["unreplayed quarry"]
        reads = kron.stats()["replicas"]["reads"]
        assert reads["replica"] >= 3 and reads["primary"] >= 1
    finally:
        await kron.close()


async def test_a_stopped_replica_is_skipped_and_the_primary_serves(servers, caplog):
    primary, replica = servers
    kron = AsyncIsoKron({"dsn": primary.runtime_dsn, "read_dsn": replica.runtime_dsn})
    try:
        await asyncio.to_thread(replica.stop)
        with caplog.at_level(logging.WARNING, logger="isokron.replicas"):
            assert (await kron.warm("org_a")).workspace_id == "org_a"
            await _search(kron, "org_a", "anything")
        assert "skipped: unreachable" in caplog.text
        assert caplog.text.count("skipped") == 1  # logged once
        assert kron.stats()["replicas"]["reads"]["primary"] >= 2
    finally:
        await kron.close()
        await asyncio.to_thread(replica.start)


# -- freshness is proven against the primary; a replica that fails mid-read is left -------

POLICY = ("UPDATE public.kora_policy_registry SET policy_value = '{value}'::jsonb "
          "WHERE workspace_id = 'org_a' AND policy_path = 'policy.kora_rate_limit_per_minute'")


async def _execute(dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _remember(primary, workspace: str, content: str) -> None:
    """A memory written behind isokron's back (no read-your-writes for it)."""
    await _execute(primary.dsn,
                   "INSERT INTO isokron.memory_namespaces (name, kind) VALUES "
                   f"('workspace:{workspace}', 'workspace') ON CONFLICT DO NOTHING",
                   "INSERT INTO isokron.memory_records (namespace, content) "
                   f"VALUES ('workspace:{workspace}', '{content}')")


async def _served_by_the_replica(kron, workspace: str) -> None:
    """Warm until the replica serves (its first sample may race a WAL record)."""
    for _ in range(100):
        before = kron.stats()["replicas"]["reads"]["replica"]
        kron.invalidate(workspace)
        await kron.system_prompt_block(workspace)
        if kron.stats()["replicas"]["reads"]["replica"] > before:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the replica never served: {kron.stats()['replicas']}")


def _state(kron) -> str:
    return next(iter(kron.stats()["replicas"]["state"].values()))


@pytest.fixture
def spare(servers, server_dir):
    """A second standby of the primary, for tests that break it."""
    primary, _ = servers
    with EmbeddedPostgres(server_dir / "spare", durable=False, standby_of=primary) as standby:
        yield standby


async def test_a_paused_replay_is_not_fresh_and_the_prompt_shows_the_new_policy(servers):
    primary, replica = servers
    kron = AsyncIsoKron({"dsn": primary.runtime_dsn, "read_dsn": replica.runtime_dsn,
                         "replica_max_lag_s": 0.5})
    try:
        await _caught_up(primary, replica)
        await _served_by_the_replica(kron, "org_a")
        assert "4242" not in await kron.system_prompt_block("org_a")
        await _sql(replica.dsn, "SELECT pg_wal_replay_pause()")
        try:
            await _execute(primary.dsn, POLICY.format(value="4242"))
            await asyncio.sleep(1.5)  # generous: past replica_max_lag_s in the primary's time
            kron.invalidate("org_a")
            assert "4242" in await kron.system_prompt_block("org_a")  # the primary served
            assert _state(kron) == "behind"
            assert kron.stats()["replicas"]["down"] == []
        finally:
            await _sql(replica.dsn, "SELECT pg_wal_replay_resume()")
            await _execute(primary.dsn, POLICY.format(value="30"))
        await _caught_up(primary, replica)
        await _served_by_the_replica(kron, "org_a")  # fresh again once replayed
        assert _state(kron) == "fresh"
    finally:
        await kron.close()


async def test_a_stopped_receiver_is_not_fresh_and_a_promoted_copy_is_never_used(
        servers, spare, caplog):
    primary, _ = servers
    await _caught_up(primary, spare)
    kron = AsyncIsoKron({"dsn": primary.runtime_dsn, "read_dsn": spare.runtime_dsn,
                         "replica_max_lag_s": 0.5})
    try:
        await _served_by_the_replica(kron, "org_b")
        # (b) the standby's WAL receiver stops: it stays in recovery and its replay stalls
        await _execute(spare.dsn, "ALTER SYSTEM SET primary_conninfo = ''",
                       "SELECT pg_reload_conf()")
        for _ in range(500):
            if not await _sql(spare.dsn, "SELECT count(*) FROM pg_stat_wal_receiver"):
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the WAL receiver did not stop")
        assert await _sql(spare.dsn, "SELECT pg_is_in_recovery()")
        await _remember(primary, "org_b", "stranded cargo")
        await asyncio.sleep(1.5)  # generous: past replica_max_lag_s in the primary's time
        with caplog.at_level(logging.WARNING, logger="isokron.replicas"):
            assert await _search(kron, "org_b", "stranded") == ["stranded cargo"]
            assert await _search(kron, "org_b", "stranded") == ["stranded cargo"]
        assert _state(kron) == "behind"
        assert caplog.text.count("skipped: behind") == 1  # once per state change
    finally:
        await kron.close()
    # (c) promoted: no longer a standby, it never serves, whatever its lag
    assert await _sql(spare.dsn, "SELECT pg_promote()")
    kron = AsyncIsoKron({"dsn": primary.runtime_dsn, "read_dsn": spare.runtime_dsn,
                         "replica_max_lag_s": 3600})
    try:
        assert await _sql(spare.dsn, "SELECT count(*) FROM isokron.memory_records "
                                     "WHERE content = 'stranded cargo'") == 0
        assert await _search(kron, "org_b", "stranded") == ["stranded cargo"]
        kron.invalidate("org_b")
        await kron.system_prompt_block("org_b")
        assert kron.stats()["replicas"]["reads"] == {"replica": 0, "primary": 2}
        assert _state(kron) == "not a standby"
    finally:
        await kron.close()


async def test_a_replica_stopped_after_serving_a_read_leaves_the_primary_serving(servers):
    """Its state is still cached (pick() does not contact it): the read that fails on it
    marks it down and runs again on the primary — the prompt, a memory search, recall."""
    primary, replica = servers
    krons = [AsyncIsoKron({"dsn": primary.runtime_dsn, "read_dsn": replica.runtime_dsn})
             for _ in range(3)]
    try:
        await _caught_up(primary, replica)
        for kron in krons:
            await _served_by_the_replica(kron, "org_a")
            kron.replicas.refresh_s = 3600.0  # the state stays cached from here on
        await _execute(primary.dsn, POLICY.format(value="4343"))
        await _remember(primary, "org_a", "fallback beacon")
        await asyncio.to_thread(replica.stop)
        prompt_first, search_first, recall_first = krons
        for kron in krons:
            kron.invalidate("org_a")
        assert "4343" in await prompt_first.system_prompt_block("org_a")  # not stale-if-error
        assert await _search(prompt_first, "org_a", "beacon") == ["fallback beacon"]
        assert await _search(search_first, "org_a", "beacon") == ["fallback beacon"]
        assert "4343" in await search_first.system_prompt_block("org_a")
        found = await recall_first.recall_items("org_a", "fallback beacon")
        assert [i.content for i in found if i.source == "memory"] == ["fallback beacon"]
        for kron in krons:
            snap = kron.stats()["replicas"]
            assert len(snap["down"]) == 1 and snap["retried_on_primary"] == 1, snap
            assert _state(kron) == "unreachable"
    finally:
        for kron in krons:
            await kron.close()
        await asyncio.to_thread(replica.start)
        await _execute(primary.dsn, POLICY.format(value="30"))
