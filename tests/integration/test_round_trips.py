"""Count round trips (asyncpg's query logger) on the hot store paths: one statement each."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from isokron.errors import NotOwnedError
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


async def test_gathered_commits_are_one_statement_with_per_item_results(conn, owner):
    """200 gathered commits: one memory_commit_many_v1 call; a refused item fails alone."""
    memory = NamespaceMemory(conn)
    # The first batch on a connection also introspects the array types once.
    await asyncio.gather(memory.commit("org_demo", "warm-up"), memory.commit("org_demo", "w2"))
    await asyncio.sleep(0)
    before = len(SENT)
    results = await asyncio.gather(
        *(memory.commit("org_demo", f"note {n}") for n in range(200)),
        memory.commit("org_demo", "not mine", namespace="workspace:org_other"),
        return_exceptions=True)
    await asyncio.sleep(0)
    assert len(SENT) - before == 1 and "memory_commit_many_v3" in SENT[-1]
    assert [r.content for r in results[:200]] == [f"note {n}" for n in range(200)]
    assert isinstance(results[200], NotOwnedError) and "may not write" in str(results[200])
    assert await owner.fetchval("SELECT count(*) FROM isokron.memory_records") == 202


async def test_a_batch_keeps_the_last_write_of_a_repeated_id_and_audits_org(conn, owner):
    """Same id twice in one tick: the later content wins; org commits are audited."""
    memory = NamespaceMemory(conn)
    first = await memory.commit("org_demo", "v0")
    again = await asyncio.gather(memory.commit("org_demo", "v1", id=first.id),
                                 memory.commit("org_demo", "v2", id=first.id),
                                 memory.commit("org_demo", "rule", namespace="org:org_demo"))
    assert {r.id for r in again[:2]} == {first.id}
    assert await owner.fetchval("SELECT content FROM isokron.memory_records WHERE id = $1",
                                uuid.UUID(first.id)) == "v2"
    assert await owner.fetchval("SELECT count(*) FROM isokron.memory_audit") == 1


async def test_a_burst_beyond_max_batch_is_split_by_id_and_keeps_the_last_write(db, seeded,
                                                                                 owner):
    """1,200 gathered commits on a pool: ceil(1200/500) statements; a repeated id's last
    write wins even though the statements run side by side."""
    from isokron.pool import create_pool
    from isokron.stores._batch import MAX_BATCH

    pool = await create_pool(db.runtime_dsn, min_size=1, max_size=4)
    try:
        memory = NamespaceMemory(pool)
        fixed = uuid.uuid4()
        writes = [memory.commit("org_demo", f"note {n}") for n in range(1200)]
        writes[100:100] = [memory.commit("org_demo", "first", id=fixed)]
        writes[1100:1100] = [memory.commit("org_demo", "last", id=fixed)]
        results = await asyncio.gather(*writes)
        assert memory._batcher.batches == -(-1202 // MAX_BATCH)
        assert len({r.id for r in results}) == 1201
    finally:
        await pool.close()
    assert await owner.fetchval("SELECT content FROM isokron.memory_records WHERE id = $1",
                                fixed) == "last"
    assert await owner.fetchval("SELECT count(*) FROM isokron.memory_records") == 1201


async def test_a_cancelled_first_commit_of_a_tick_still_writes_the_batch(db, seeded, owner):
    """The first commit of a tick opens the batch and yields; cancelled right then, the
    commits that joined it are written and answered all the same. A commit alone is
    written by its own task, as one statement of the single form."""
    from isokron.pool import create_pool

    pool = await create_pool(db.runtime_dsn, min_size=1, max_size=2)
    try:
        memory = NamespaceMemory(pool)
        leader = asyncio.ensure_future(memory.commit("org_demo", "leader note"))
        follower = asyncio.ensure_future(memory.commit("org_demo", "follower note"))
        await asyncio.sleep(0)  # both started: the leader yields, the follower has joined
        leader.cancel()
        assert (await follower).content == "follower note"
        with pytest.raises(asyncio.CancelledError):
            await leader
        await memory.commit("org_demo", "alone")
        assert memory._batcher.batches == 1  # the pair; "alone" went by the single form
    finally:
        await pool.close()
    assert sorted(r["content"] for r in await owner.fetch(
        "SELECT content FROM isokron.memory_records")) == ["alone", "follower note",
                                                             "leader note"]
