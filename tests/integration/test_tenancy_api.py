"""Tenant A calls every store API with B's ids: "not found", and B's data is unchanged."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from isokron.db.transports import SubstrateTransport
from isokron.errors import NotFoundError, NotOwnedError
from isokron.stores import (
    AgentSessionStore,
    DelegationLedger,
    EpisodicEventStore,
    NamespaceMemory,
    RequestContext,
)
from isokron.testing.seed import seed_demo_workspace

A, B = "org_a", "org_b"
CTX_A, CTX_B = RequestContext(A, "u"), RequestContext(B, "u")


@pytest.fixture
async def seeds(owner):
    """Two seeded workspaces (actors, chains, isokron.workspaces rows)."""
    return {A: await seed_demo_workspace(owner, A), B: await seed_demo_workspace(owner, B)}


async def test_the_same_delegation_id_in_two_workspaces_is_two_rows(runtime_pool, seeds):
    """B's "task-17" is inserted (not a replay) and B's lifecycle never touches A's row."""
    ledger = DelegationLedger(runtime_pool)
    kora_a, kora_b = seeds[A].actors["kora"], seeds[B].actors["kora"]
    assert await ledger.insert("task-17", workspace_id=A, caller_id=kora_a,
                               callee_id=uuid.uuid4(), task_preview="A's secret task")
    assert await ledger.insert("task-17", workspace_id=B, caller_id=kora_b,
                               callee_id=uuid.uuid4(), task_preview="B's task")
    assert (await ledger.get(B, "task-17")).task_preview == "B's task"
    assert await ledger.heartbeat(B, "task-17")
    await ledger.set_status(B, "task-17", "in_progress")
    await ledger.set_status(B, "task-17", "completed", result_preview="B's result")
    a_row = await ledger.get(A, "task-17")
    assert (a_row.status, a_row.result_preview, a_row.last_heartbeat) == ("queued", None, None)
    assert a_row.task_preview == "A's secret task"
    await ledger.set_status(A, "task-17", "failed", error_detail="A's own failure")
    assert (await ledger.get(B, "task-17")).status == "completed"


async def test_a_delegation_only_a_has_is_not_found_for_b(runtime_pool, seeds):
    """B cannot read, heartbeat or complete A's row; idempotency keys are per workspace."""
    ledger = DelegationLedger(runtime_pool)
    caller = seeds[A].actors["kora"]
    await ledger.insert("only-a", workspace_id=A, caller_id=caller, callee_id=uuid.uuid4(),
                        task_preview="t", idempotency_key="k")
    assert await ledger.get(B, "only-a") is None
    assert not await ledger.heartbeat(B, "only-a")
    await ledger.set_status(B, "only-a", "completed", result_preview="B's takeover")
    row = await ledger.get(A, "only-a")
    assert (row.status, row.result_preview) == ("queued", None)
    # Same caller id and key in another workspace is not a replay of A's row.
    assert await ledger.insert("other", workspace_id=B, caller_id=caller,
                               callee_id=uuid.uuid4(), task_preview="t", idempotency_key="k")


async def test_episodic_events_of_another_workspaces_agent_are_not_owned(runtime_pool, seeds):
    """B can neither append to nor list A's agent; A's events are unchanged."""
    store = EpisodicEventStore(runtime_pool)
    agent_a = seeds[A].actors["kora"]
    event = await store.append(A, agent_a, event_type="turn", body={"n": 1})
    with pytest.raises(NotOwnedError):
        await store.append(B, agent_a, event_type="forged", id=event.id)
    with pytest.raises(NotOwnedError):
        await store.list(B, agent_a)
    assert [e.id for e in await store.list(A, agent_a)] == [event.id]


async def test_memory_ids_of_another_tree_are_not_found(runtime_pool, seeds, owner):
    """B forgetting, overwriting or searching A's memory finds nothing and changes nothing."""
    memory = NamespaceMemory(runtime_pool)
    mine = await memory.commit(A, "A's private fact")
    with pytest.raises(NotFoundError, match=str(mine.id)):
        await memory.forget(B, mine.id)
    # The key is (namespace, id): B reusing A's id makes B's own memory, A's is untouched.
    theirs = await memory.commit(B, "B's fact", id=mine.id)
    assert (theirs.id, theirs.namespace) == (mine.id, f"workspace:{B}")
    assert await memory.search(B, "private", namespaces=[f"workspace:{A}"]) == []
    assert await memory.search(B, "private") == []
    await memory.forget(B, mine.id)
    stored = await owner.fetch("SELECT namespace, content FROM isokron.memory_records")
    assert [tuple(r) for r in stored] == [(f"workspace:{A}", "A's private fact")]


async def test_on_conflict_cannot_read_or_lock_a_hidden_memory(runtime_pool, seeds, db, owner):
    """Raw SQL: an upsert with B's id into A's namespace never evaluates anything on B's row."""
    memory = NamespaceMemory(runtime_pool)
    hidden = await memory.commit(B, "B secret: the merger code is PINEAPPLE-42")
    attacker = await asyncpg.connect(db.runtime_dsn)
    try:
        async with attacker.transaction():
            await attacker.execute("SELECT set_config('app.current_workspace_id', $1, true)", A)
            await attacker.execute(
                "INSERT INTO isokron.memory_namespaces (name, kind) VALUES ($1, 'workspace') "
                "ON CONFLICT DO NOTHING", f"workspace:{A}")
            status = await attacker.execute(
                "INSERT INTO isokron.memory_records AS r (id, namespace, content) "
                "VALUES ($1, $2, 'x') ON CONFLICT (root_id, namespace, id) DO UPDATE "
                "SET content = excluded.content WHERE (r.content)::int > 0",
                uuid.UUID(hidden.id), f"workspace:{A}")
            assert status == "INSERT 0 1"  # a new row of A's: B's row was never the conflict
            with pytest.raises(asyncpg.InvalidColumnReferenceError):
                async with attacker.transaction():
                    await attacker.execute(
                        "INSERT INTO isokron.memory_records AS r (id, namespace, content) "
                        "VALUES ($1, $2, 'x') ON CONFLICT (id) DO NOTHING",
                        uuid.UUID(hidden.id), f"workspace:{A}")
    finally:
        await attacker.close()
    await memory.forget(B, hidden.id)  # B's row was never locked or changed


async def test_session_ids_of_another_tenant_are_not_found_and_cannot_be_squatted(runtime_pool):
    """A creating B's (predicted) id gets its own session; B's create and append still work."""
    store = AgentSessionStore(runtime_pool)
    predicted = uuid.uuid5(uuid.NAMESPACE_URL, f"isokron:agent-session:{B}:u:s1")
    squat = await store.create_session(CTX_A, agent_name="kora", id=predicted, title="squat")
    assert (squat.tenant_id, squat.title) == (A, "squat")
    theirs = await store.create_session(CTX_B, agent_name="kora", id=predicted, title="mine")
    assert (theirs.id, theirs.tenant_id, theirs.title) == (str(predicted), B, "mine")
    await store.append_messages(CTX_A, predicted, [{"role": "user", "content": "A"}])
    appended = await store.append_messages(CTX_B, predicted, [{"role": "user", "content": "B"}])
    assert [(m.seq, m.content) for m in appended] == [(1, "B")]
    other_user = RequestContext(B, "someone-else")
    assert await store.get_session(other_user, predicted) is None
    with pytest.raises(NotFoundError):
        await store.list_messages(other_user, predicted)
    assert [m.content for m in await store.list_messages(CTX_B, predicted)] == ["B"]


async def test_a_message_planted_in_another_tenants_session_is_refused(runtime_pool, db, owner):
    """Raw SQL: A's message aimed at B's session id fails the composite key; B keeps working."""
    store = AgentSessionStore(runtime_pool)
    session = await store.create_session(CTX_B, agent_name="kora")
    attacker = await asyncpg.connect(db.runtime_dsn)
    try:
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            async with attacker.transaction():
                await attacker.execute(
                    "SELECT set_config('app.current_tenant_id', $1, true), "
                    "set_config('app.current_user_id', 'u', true)", A)
                await attacker.execute(
                    "INSERT INTO isokron.agent_messages (id, session_id, seq, role, content, "
                    "tenant_id, user_id) VALUES (gen_random_uuid(), $1, 1, 'user', 'squat', "
                    "$2, 'u')", session.id, A)
    finally:
        await attacker.close()
    appended = await store.append_messages(CTX_B, session.id, [{"role": "user", "content": "ok"}])
    assert [m.seq for m in appended] == [1]
    assert await owner.fetchval("SELECT count(*) FROM isokron.agent_messages") == 1


async def _call_as(conn, ws, sql, *args):
    async with conn.transaction():
        await conn.execute("SELECT set_config('app.current_workspace_id', $1, true)", ws)
        return await conn.fetchval(sql, *args)


async def test_write_functions_refuse_a_foreign_workspace_and_a_foreign_actor(
        runtime_pool, seeds, owner):
    """append_event_v1 / write_agent_scratchpad_v1 refuse B's workspace and B's actor (IKT01)."""
    kora_b = seeds[B].actors["kora"]
    chain_b = await owner.fetchval(
        "SELECT count(*) FROM hivex_foundation.event_log e JOIN hivex_foundation.tenant t "
        "USING (tenant_id) WHERE t.clerk_org_id = $1", B)
    append = "SELECT hivex_foundation.append_event_v1($1, 'kora.forged.event', '{}', $2::uuid)"
    scratch = ("SELECT scratchpad_entry_id FROM kronicle.write_agent_scratchpad_v1($1, 'kora', "
               "'hypothesis', 'agent_private', 'forged')")
    async with runtime_pool.acquire() as conn:
        for ws, args in ((A, (B, None)), (A, (A, kora_b)), (None, (A, None))):
            with pytest.raises(asyncpg.PostgresError) as refused:
                await _call_as(conn, ws or "", append, *args)
            assert refused.value.sqlstate == "IKT01", refused.value
        with pytest.raises(asyncpg.PostgresError) as refused:
            await _call_as(conn, A, scratch, B)
        assert refused.value.sqlstate == "IKT01"
        assert await _call_as(conn, A, append, A, seeds[A].actors["kora"]) is not None
    transport = SubstrateTransport(runtime_pool)
    with pytest.raises(NotOwnedError, match="org_b"):
        await transport.emit_event(B, event_type="kora.forged.event", payload={},
                                   actor_id=seeds[A].actors["kora"])
    assert await owner.fetchval(
        "SELECT count(*) FROM hivex_foundation.event_log e JOIN hivex_foundation.tenant t "
        "USING (tenant_id) WHERE t.clerk_org_id = $1", B) == chain_b
    assert await owner.fetchval("SELECT hivex_foundation.verify_chain_v1($1)", B) is None
