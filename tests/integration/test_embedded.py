"""Pin EmbeddedPostgres: start, reuse of a data directory, clean stop."""

from __future__ import annotations

import asyncio

import asyncpg

from isokron.embedded import EmbeddedPostgres
from isokron.schema import available_migrations


async def _roundtrip(dsn: str, sql: str) -> object:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def test_embedded_starts_reuses_its_data_dir_and_stops(server_dir):
    """Data written in one run is there in the next; the server is down after exit."""
    data_dir = server_dir / "cluster"
    with EmbeddedPostgres(data_dir, durable=False) as pg:
        asyncio.run(_roundtrip(pg.dsn, "CREATE TABLE marker AS SELECT 'kept'::text AS v"))
        user = asyncio.run(_roundtrip(pg.runtime_dsn, "SELECT current_user"))
        assert user == "isokron_app"
        dsn = pg.dsn
    assert (data_dir / "pgdata" / "PG_VERSION").exists()  # a directory of its own inside
    assert not pg.running
    try:
        asyncio.run(_roundtrip(dsn, "SELECT 1"))
        raise AssertionError("server still answers after exit")
    except (OSError, asyncpg.PostgresError):
        pass
    with EmbeddedPostgres(data_dir, durable=False) as again:
        assert asyncio.run(_roundtrip(again.dsn, "SELECT v FROM marker")) == "kept"


async def test_embedded_works_as_an_async_context_manager():
    """`async with EmbeddedPostgres()` yields a migrated server and deletes its temp dir."""
    async with EmbeddedPostgres(durable=False) as pg:
        data_dir = pg.data_dir
        conn = await asyncpg.connect(pg.runtime_dsn)
        try:
            applied = await conn.fetchval("SELECT count(*) FROM isokron.applied_migrations_v1()")
            assert applied == len(available_migrations())
        finally:
            await conn.close()
    assert not data_dir.exists()


def test_stop_and_start_keep_the_same_dsn(server_dir):
    """stop() then start() brings the same cluster back at the same DSN."""
    with EmbeddedPostgres(server_dir / "c", durable=False) as pg:
        dsn = pg.dsn
        pg.stop()
        assert not pg.running
        pg.start()
        assert pg.dsn == dsn
        assert asyncio.run(_roundtrip(dsn, "SELECT 41 + 1")) == 42
