"""One behaviour suite for each store, run against PostgreSQL and isokron.testing's fakes."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from isokron.errors import InvalidInputError, InvalidTransitionError, NotFoundError, NotOwnedError
from isokron.pool import create_pool
from isokron.stores import (
    AgentSessionStore,
    DelegationLedger,
    EpisodicEventStore,
    NamespaceMemory,
    RequestContext,
)
from isokron.testing import (
    InMemoryDelegationLedger,
    InMemoryEpisodicStore,
    InMemoryNamespaceMemory,
    InMemorySessionStore,
)
from isokron.testing.seed import seed_demo_workspace

TREE = [("org_root", None), ("team_a", "org_root"), ("ws_a1", "team_a"), ("ws_b1", "team_a")]


@pytest.fixture(params=["postgres", "memory"])
async def stores(request, db):
    """(memory, sessions, episodic, ledger, agent_a, agent_b) for one implementation."""
    if request.param == "memory":
        memory = InMemoryNamespaceMemory()
        for ws, parent in TREE:
            memory.add_workspace(ws, parent)
        episodic = InMemoryEpisodicStore()
        agent_a, agent_b = uuid.uuid4(), uuid.uuid4()
        episodic.register_agent("org_a", agent_a)
        episodic.register_agent("org_b", agent_b)
        yield (memory, InMemorySessionStore(), episodic, InMemoryDelegationLedger(),
               agent_a, agent_b)
        return
    owner = await asyncpg.connect(db.dsn)
    pool = await create_pool(db.runtime_dsn)
    try:
        for ws, parent in TREE:
            await owner.execute("INSERT INTO isokron.workspaces (workspace_id, parent_id) "
                                "VALUES ($1, $2)", ws, parent)
        a = await seed_demo_workspace(owner, "org_a")
        b = await seed_demo_workspace(owner, "org_b")
        yield (NamespaceMemory(pool), AgentSessionStore(pool), EpisodicEventStore(pool),
               DelegationLedger(pool), a.actors["kora"], b.actors["kora"])
    finally:
        await pool.close()
        await owner.close()


async def test_memory_contract(stores):
    memory = stores[0]
    plain = await memory.commit("ws_a1", "deploy rota is weekly")
    pinned = await memory.commit("ws_a1", "deploy freeze on fridays", pin=True)
    shared = await memory.commit("ws_b1", "team deploy channel", namespace="team:team_a")
    found = await memory.search("ws_a1", "deploy", limit=10)
    assert [r.id for r in found][:1] == [pinned.id]
    assert {r.id for r in found} == {plain.id, pinned.id, shared.id}
    assert {r.id for r in await memory.search("ws_a1", "deploy", namespaces=[])} == {
        r.id for r in found}
    only_team = await memory.search("ws_a1", "deploy", namespaces=["team:team_a"])
    assert [r.id for r in only_team] == [shared.id]
    assert await memory.search("ws_b1", "freeze") == []  # ws_a1's private namespace
    with pytest.raises(NotOwnedError):
        await memory.commit("ws_a1", "x", namespace="org:org_root")
    secret = await memory.commit("ws_a1", "key AKIAIOSFODNN7EXAMPLE here")
    assert "AKIA" not in secret.content and "[REDACTED:" in secret.content
    again = await memory.commit("ws_a1", "deploy rota is biweekly", id=plain.id)
    assert again.id == plain.id
    await memory.forget("ws_a1", plain.id)
    with pytest.raises(NotFoundError):
        await memory.forget("ws_a1", plain.id)
    with pytest.raises(InvalidInputError):
        await memory.commit("ws_a1", "   ")


async def test_session_contract(stores):
    sessions = stores[1]
    mine, other = RequestContext("org_a", "u1"), RequestContext("org_a", "u2")
    session = await sessions.create_session(mine, agent_name="kora", state={"a": 1})
    await sessions.append_messages(mine, session.id, [
        {"role": "user", "content": f"q{n}"} for n in range(5)])
    assert [m.content for m in await sessions.list_messages(mine, session.id, last=2)] == [
        "q3", "q4"]
    assert [m.seq for m in await sessions.list_messages(mine, session.id)] == [1, 2, 3, 4, 5]
    assert await sessions.get_session(other, session.id) is None
    merged = await sessions.update_session(mine, session.id, state={"b": 2})
    assert merged.state == {"a": 1, "b": 2}
    replaced = await sessions.update_session(mine, session.id, state={"c": 3},
                                             replace_state=True)
    assert replaced.state == {"c": 3}
    with pytest.raises(NotFoundError):
        await sessions.update_session(other, session.id, title="x")
    assert await sessions.delete_session(other, session.id) is False
    assert await sessions.delete_session(mine, session.id) is True
    with pytest.raises(NotFoundError):
        await sessions.list_messages(mine, session.id)


async def test_episodic_contract(stores):
    episodic, agent_a, agent_b = stores[2], stores[4], stores[5]
    await episodic.append_many("org_a", agent_a, [
        {"event_type": "step", "body": {"n": n}} for n in range(4)])
    listed = await episodic.list("org_a", agent_a, limit=10)
    assert [e.body["n"] for e in listed] == [3, 2, 1, 0]
    fixed = uuid.uuid4()
    first = await episodic.append("org_a", agent_a, event_type="turn", body={"v": 1}, id=fixed)
    replay = await episodic.append("org_a", agent_a, event_type="turn", body={"v": 2}, id=fixed)
    assert replay.body == first.body == {"v": 1}
    with pytest.raises(NotOwnedError):
        await episodic.append("org_a", agent_b, event_type="turn")
    with pytest.raises(InvalidInputError):
        await episodic.append("org_a", agent_a, event_type="")


async def test_ledger_contract(stores):
    ledger, agent = stores[3], stores[4]
    assert await ledger.insert("d1", workspace_id="org_a", caller_id=agent,
                               callee_id=uuid.uuid4(), task_preview="fix CI") is True
    assert await ledger.insert("d1", workspace_id="org_a", caller_id=agent,
                               callee_id=uuid.uuid4(), task_preview="fix CI") is False
    with pytest.raises(InvalidTransitionError):
        await ledger.set_status("org_a", "d1", "stuck")
    await ledger.set_status("org_a", "d1", "in_progress")
    assert await ledger.heartbeat("org_a", "d1") is True
    await ledger.set_status("org_a", "d1", "completed", result_preview="done")
    row = await ledger.get("org_a", "d1")
    assert row.status == "completed" and row.result_preview == "done"
    assert await ledger.heartbeat("org_a", "d1") is False
    assert await ledger.get("org_b", "d1") is None
    with pytest.raises(InvalidInputError):
        await ledger.insert("d2", workspace_id="org_a", caller_id=agent,
                            callee_id=uuid.uuid4(), task_preview=" ")
