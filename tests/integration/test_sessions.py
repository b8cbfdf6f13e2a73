"""Pin agent sessions and messages under row-level security, as the runtime role."""

from __future__ import annotations

import asyncio
import itertools
import uuid

import pytest

from isokron.errors import InvalidInputError, NotFoundError
from isokron.stores import AgentSessionStore, RequestContext

CONTEXTS = [RequestContext(t, u) for t, u in itertools.product(("t1", "t2"), ("u1", "u2"))]


async def test_two_by_two_tenant_user_isolation(runtime_pool):
    """Each (tenant, user) sees only its own session and messages; the rest are not found."""
    store = AgentSessionStore(runtime_pool)
    sessions = {}
    for ctx in CONTEXTS:
        session = await store.create_session(ctx, agent_name="kora", title=f"{ctx}")
        await store.append_messages(ctx, session.id, [{"role": "user", "content": str(ctx)}])
        sessions[ctx] = session
    for ctx in CONTEXTS:
        listed = await store.list_sessions(ctx)
        assert [s.id for s in listed] == [sessions[ctx].id]
        for other in CONTEXTS:
            if other == ctx:
                continue
            foreign = sessions[other].id
            assert await store.get_session(ctx, foreign) is None
            with pytest.raises(NotFoundError):
                await store.list_messages(ctx, foreign)
            with pytest.raises(NotFoundError):
                await store.append_messages(ctx, foreign, [{"role": "user", "content": "hi"}])
        messages = await store.list_messages(ctx, sessions[ctx].id)
        assert [m.content for m in messages] == [str(ctx)]


async def test_raw_reads_without_the_context_see_nothing(runtime_pool):
    """RLS, not Python, filters: the runtime role sees no rows without the GUCs."""
    store = AgentSessionStore(runtime_pool)
    session = await store.create_session(CONTEXTS[0], agent_name="kora")
    await store.append_messages(CONTEXTS[0], session.id, [{"role": "user", "content": "x"}])
    assert await runtime_pool.fetchval("SELECT count(*) FROM isokron.agent_sessions") == 0
    assert await runtime_pool.fetchval("SELECT count(*) FROM isokron.agent_messages") == 0


async def test_payload_cannot_impersonate_another_tenant(runtime_pool, owner):
    """tenant_id/user_id inside messages are ignored: the request context wins."""
    store = AgentSessionStore(runtime_pool)
    ctx = RequestContext("t1", "u1")
    session = await store.create_session(ctx, agent_name="kora")
    stored = await store.append_messages(ctx, session.id, [
        {"role": "user", "content": "hi", "tenant_id": "t2", "user_id": "root"}])
    assert (stored[0].tenant_id, stored[0].user_id) == ("t1", "u1")
    row = await owner.fetchrow("SELECT tenant_id, user_id FROM isokron.agent_messages")
    assert tuple(row) == ("t1", "u1")


async def test_fifty_concurrent_appends_give_gap_free_seq(runtime_pool):
    """50 concurrent two-message appends to one session -> seq 1..100 with no gaps."""
    store = AgentSessionStore(runtime_pool)
    ctx = RequestContext("t1", "u1")
    session = await store.create_session(ctx, agent_name="kora")
    await asyncio.gather(*(
        store.append_messages(ctx, session.id, [{"role": "user", "content": f"q{i}"},
                                                {"role": "assistant", "content": f"a{i}"}])
        for i in range(50)))
    messages = await store.list_messages(ctx, session.id, limit=1000)
    assert [m.seq for m in messages] == list(range(1, 101))
    for first, second in zip(messages[::2], messages[1::2], strict=True):
        assert first.content[1:] == second.content[1:]  # each batch stays contiguous


async def test_append_is_atomic_and_validated(runtime_pool, owner):
    """One bad message rejects the whole batch before anything is written."""
    store = AgentSessionStore(runtime_pool)
    ctx = RequestContext("t1", "u1")
    session = await store.create_session(ctx, agent_name="kora")
    for bad in ({"role": "wizard", "content": "x"}, {"role": "user", "content": "a\x00b"},
                {"role": "user", "extra": 1}, {"role": "tool", "tool_calls": {1, 2}}):
        with pytest.raises(InvalidInputError):
            await store.append_messages(ctx, session.id, [{"role": "user", "content": "ok"}, bad])
    assert await owner.fetchval("SELECT count(*) FROM isokron.agent_messages") == 0


async def test_replayed_message_ids_are_not_added_twice(runtime_pool):
    """Appending the same message ids again returns them without new rows or seq gaps."""
    store = AgentSessionStore(runtime_pool)
    ctx = RequestContext("t1", "u1")
    session = await store.create_session(ctx, agent_name="kora")
    batch = [{"role": "user", "content": "q", "id": uuid.uuid4()},
             {"role": "assistant", "content": "a", "id": uuid.uuid4(),
              "tool_calls": [{"name": "isokron_memory_search"}]}]
    first = await store.append_messages(ctx, session.id, batch)
    again = await store.append_messages(ctx, session.id, batch)
    assert [m.id for m in first] == [m.id for m in again]
    more = await store.append_messages(ctx, session.id, [{"role": "user", "content": "next"}])
    assert more[0].seq == 3
    assert first[1].tool_calls == [{"name": "isokron_memory_search"}]


async def test_list_messages_pages_by_seq(runtime_pool):
    """after_seq and limit page through a session in order."""
    store = AgentSessionStore(runtime_pool)
    ctx = RequestContext("t1", "u1")
    session = await store.create_session(ctx, agent_name="kora")
    await store.append_messages(ctx, session.id, [{"role": "user", "content": str(i)}
                                                  for i in range(10)])
    page = await store.list_messages(ctx, session.id, after_seq=3, limit=4)
    assert [m.seq for m in page] == [4, 5, 6, 7]
    with pytest.raises(InvalidInputError):
        await store.list_messages(ctx, session.id, after_seq=-1)


def test_request_context_is_validated():
    """Empty or NUL-bearing ids are rejected."""
    with pytest.raises(InvalidInputError):
        RequestContext("", "u")
    with pytest.raises(InvalidInputError):
        RequestContext("t", "u\x00")


async def test_update_merges_or_replaces_state_and_delete_takes_the_messages(runtime_pool,
                                                                            owner):
    """Under RLS: the owner updates (state merges by default) and deletes (messages go with
    the session); another user of the same tenant can do neither."""
    from isokron.errors import NotFoundError
    from isokron.stores import AgentSessionStore, RequestContext

    store = AgentSessionStore(runtime_pool)
    mine, other = RequestContext("org_a", "u1"), RequestContext("org_a", "u2")
    session = await store.create_session(mine, agent_name="kora", title="t0",
                                         state={"a": 1, "b": 1})
    await store.append_messages(mine, session.id, [{"role": "user", "content": "hi"}])
    merged = await store.update_session(mine, session.id, state={"b": 2, "c": 3})
    assert merged.state == {"a": 1, "b": 2, "c": 3} and merged.title == "t0"
    replaced = await store.update_session(mine, session.id, state={"z": 0},
                                          replace_state=True, title=None)
    assert replaced.state == {"z": 0} and replaced.title is None
    with pytest.raises(NotFoundError):
        await store.update_session(other, session.id, title="hijacked")
    assert await store.delete_session(other, session.id) is False
    assert await store.delete_session(mine, session.id) is True
    assert await store.get_session(mine, session.id) is None
    assert await owner.fetchval("SELECT count(*) FROM isokron.agent_messages") == 0
    assert await store.delete_session(mine, session.id) is False


async def test_pop_and_clear_take_back_only_the_owners_messages(runtime_pool, db, owner):
    """pop_message removes the latest message, clear_messages all of them; another tenant's
    session is not found by either, and raw DELETE as that tenant removes nothing."""
    import asyncpg

    store = AgentSessionStore(runtime_pool)
    a, b = RequestContext("t_a", "u"), RequestContext("t_b", "u")
    session = await store.create_session(a, agent_name="kora")
    await store.append_messages(a, session.id, [{"role": "user", "content": f"m{i}"}
                                                for i in range(3)])
    for ctx_b_call in (store.pop_message(b, session.id), store.clear_messages(b, session.id)):
        with pytest.raises(NotFoundError):
            await ctx_b_call
    raw = await asyncpg.connect(db.runtime_dsn)
    try:
        async with raw.transaction():
            await raw.execute("SELECT set_config('app.current_tenant_id', 't_b', true), "
                              "set_config('app.current_user_id', 'u', true)")
            assert await raw.execute("DELETE FROM isokron.agent_messages") == "DELETE 0"
    finally:
        await raw.close()
    popped = await store.pop_message(a, session.id)
    assert popped is not None and (popped.content, popped.seq) == ("m2", 3)
    await store.append_messages(a, session.id, [{"role": "user", "content": "again"}])
    assert [(m.seq, m.content) for m in await store.list_messages(a, session.id)] == [
        (1, "m0"), (2, "m1"), (3, "again")]  # seq stays gap-free after a pop
    assert await store.clear_messages(a, session.id) == 3
    assert await store.pop_message(a, session.id) is None
    assert await store.list_messages(a, session.id) == []
    assert await store.get_session(a, session.id) is not None  # the session stays
    with pytest.raises(InvalidInputError):
        await store.pop_message(a, "not-a-uuid")
