"""The peers isokron is measured against: LangGraph's store, the OpenAI Agents SDK's
SQLAlchemy session (through its URL), and plain asyncpg statements doing the same work
(the bare statements below are the measured references, so they stay literal SQL)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg

__all__ = ["langgraph_store", "plain_episodic_append", "plain_episodic_pool",
           "plain_read_context", "plain_upsert_floor", "sqlalchemy_url"]


@contextlib.asynccontextmanager
async def langgraph_store(dsn: str, index: Any = None) -> AsyncIterator[Any]:
    """LangGraph's ``AsyncPostgresStore`` on a psycopg pool of 4 (no index unless ``index``,
    its ``PostgresIndexConfig``)."""
    from langgraph.store.postgres.aio import AsyncPostgresStore
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    # psycopg types a pool by its connections' row type, which a kwargs row_factory does not
    # carry: the store gets what its annotation asks for.
    pool: Any = AsyncConnectionPool(dsn, min_size=4, max_size=4, open=False,
                                    kwargs={"autocommit": True, "prepare_threshold": 0,
                                            "row_factory": dict_row})
    await pool.open()
    try:
        store = AsyncPostgresStore(pool, index=index)
        await store.setup()
        yield store
    finally:
        await pool.close()


def sqlalchemy_url(dsn: str) -> str:
    """The SQLAlchemy (asyncpg driver) URL of ``dsn``."""
    return "postgresql+asyncpg://" + dsn.split("://", 1)[1]


@contextlib.asynccontextmanager
async def plain_upsert_floor(runtime_dsn: str) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """A bare INSERT … ON CONFLICT into memory_records by the runtime role (RLS on, no ACL
    call, no redaction, no result), on a connection of its own: the floor any memory commit
    here stands on. Yields the call, to be interleaved with the commit it is compared to."""
    conn = await asyncpg.connect(runtime_dsn)
    try:
        await conn.execute(
            "SELECT set_config('app.current_workspace_id', 'org_bench', false)")
        n = 0

        async def upsert() -> None:
            nonlocal n
            n += 1
            await conn.execute(
                "INSERT INTO isokron.memory_records (id, namespace, content) "
                "VALUES ($1, 'workspace:org_bench', $2) ON CONFLICT (root_id, namespace, id) "
                "DO UPDATE SET content = EXCLUDED.content", uuid.uuid4(),
                f"floor {n} about the deploy rota")

        yield upsert
    finally:
        await conn.close()


async def plain_read_context(pool: asyncpg.Pool) -> None:
    """One SQL statement doing the cold warm-up's reads (one round trip)."""
    await pool.fetchval("SELECT isokron.read_context_v2('org_bench', 'kora', 100, 50)::text")


async def plain_episodic_pool(runtime_dsn: str, workspace: str) -> asyncpg.Pool:
    """A plain asyncpg pool of 4 whose connections stay scoped to ``workspace``."""

    async def scoped(conn: asyncpg.Connection) -> None:
        await conn.execute("SELECT set_config('app.current_workspace_id', $1, false)", workspace)

    async def keep(conn: asyncpg.Connection) -> None:  # the setting stays between checkouts
        return None

    return await asyncpg.create_pool(runtime_dsn, min_size=4, max_size=4, init=scoped,
                                     reset=keep)


async def plain_episodic_append(pool: asyncpg.Pool, workspace: str, agent: uuid.UUID,
                                body: dict[str, Any]) -> None:
    """A plain asyncpg INSERT of the row ``EpisodicEventStore.append`` writes."""
    await pool.execute(
        "INSERT INTO isokron.agent_episodic_events (id, workspace_id, agent_id, "
        "event_type, body, sender) VALUES ($1, $2, $3, $4, $5::jsonb, $6)",
        uuid.uuid4(), workspace, agent, "tool", json.dumps(body), "kora")
