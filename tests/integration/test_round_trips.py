"""Count round trips (asyncpg's query logger) on the hot store paths: one statement each."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from isokron.stores import AgentSessionStore, NamespaceMemory, RequestContext

CTX = RequestContext("org_demo", "u1")
SENT: list[str] = []


@pytest.fixture
async def conn(db, seeded):
    """A plain runtime connection with a query log, on a seeded database."""
    connection = await asyncpg.connect(db.runtime_dsn)
    SENT.clear()
    connection.add_query_logger(lambda record: SENT.append(record.query))
    try:
        yield connection
    finally:
        await connection.close()


async def _count(conn, call) -> int:
    await asyncio.sleep(0)
    before = len(SENT)
    await call
    await asyncio.sleep(0)  # query loggers run soon after each query
    return len(SENT) - before


async def test_memory_commit_and_search_are_one_round_trip_each(conn):
    """commit (ACL, namespace, upsert, audit) and every search mode: one statement."""
    memory = NamespaceMemory(conn)
    assert await _count(conn, memory.commit("org_demo", "deploys freeze on Fridays")) == 1
    assert await _count(conn, memory.commit("org_demo", "org rule", namespace="org:org_demo")) == 1
    for query in (None, "fridays deploys", "F"):
        assert await _count(conn, memory.search("org_demo", query)) == 1, query


async def test_session_appends_and_listings_are_one_round_trip_each(conn):
    """append_messages and list_messages (also last=N) send one statement each."""
    store = AgentSessionStore(conn)
    session = await store.create_session(CTX, agent_name="kora")
    # The first call on a connection also introspects the array types once (asyncpg caches
    # them per connection): count the steady state.
    await store.append_messages(CTX, session.id, [{"role": "system", "content": "warm-up"}])
    for n in range(3):
        assert await _count(conn, store.append_messages(CTX, session.id, [
            {"role": "user", "content": f"q{n}"}, {"role": "assistant", "content": f"a{n}"}])) == 1, SENT
    assert await _count(conn, store.list_messages(CTX, session.id)) == 1, SENT
    last = await store.list_messages(CTX, session.id, last=3)
    assert [m.content for m in last] == ["a1", "q2", "a2"]
    assert [m.seq for m in await store.list_messages(CTX, session.id, after_seq=5, last=10)] == [
        6, 7]
