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
def servers(tmp_path_factory):
    root = tmp_path_factory.mktemp("replication")
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
    target = await _sql(primary.dsn, "SELECT pg_current_wal_insert_lsn()::text")
    for _ in range(200):
        if await _sql(replica.dsn, f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("replica did not catch up")


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
