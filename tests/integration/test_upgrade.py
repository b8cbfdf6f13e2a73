"""An existing database upgrades to the tenancy schema with `migrate`, its rows kept."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from isokron.errors import InvalidInputError
from isokron.schema import available_migrations, migrate
from isokron.stores import AgentSessionStore, DelegationLedger, RequestContext
from isokron.testing.seed import seed_demo_workspace

BEFORE_TENANCY = "0003_memory_embeddings"


async def test_migrate_stops_at_a_target_and_names_an_unknown_one(empty_db):
    """target= applies up to that migration; an unknown name is refused before any change."""
    with pytest.raises(InvalidInputError, match="0099_nope"):
        await migrate(empty_db.dsn, target="0099_nope")
    applied = await migrate(empty_db.dsn, target=BEFORE_TENANCY)
    assert applied[-1] == BEFORE_TENANCY
    rest = await migrate(empty_db.dsn)
    assert applied + rest == [name for name, _ in available_migrations()]


async def test_upgrade_keeps_rows_backfills_workspace_and_drops_planted_messages(empty_db):
    """Rows written before 0004 survive it; episodes get workspace_id; planted messages go."""
    await migrate(empty_db.dsn, target=BEFORE_TENANCY)
    owner = await asyncpg.connect(empty_db.dsn)
    session_a, session_b = uuid.uuid4(), uuid.uuid4()
    try:
        seed = await seed_demo_workspace(owner, "org_a")
        kora = uuid.UUID(seed.actors["kora"])
        await owner.execute(
            "INSERT INTO isokron.agent_episodic_events (agent_id, event_type) "
            "VALUES ($1, 'turn'), ($1, 'tool')", kora)
        await owner.execute(
            "INSERT INTO isokron.delegations (delegation_id, workspace_id, caller_id, "
            "callee_id, task_preview, idempotency_key) "
            "VALUES ('task-17', 'org_a', $1, gen_random_uuid(), 'old task', 'k')", kora)
        await owner.execute(
            "INSERT INTO isokron.agent_sessions (id, tenant_id, user_id, agent_name) "
            "VALUES ($1, 'org_a', 'u', 'kora'), ($2, 'org_b', 'u', 'kora')",
            session_a, session_b)
        await owner.execute(
            "INSERT INTO isokron.agent_messages (session_id, seq, role, content, tenant_id, "
            "user_id) VALUES ($1, 1, 'user', 'kept', 'org_a', 'u'), "
            "($2, 1, 'user', 'planted by A', 'org_a', 'u')", session_a, session_b)
        assert await migrate(empty_db.dsn) == [
            name for name, _ in available_migrations() if name > BEFORE_TENANCY]
        rows = await owner.fetch(
            "SELECT DISTINCT workspace_id FROM isokron.agent_episodic_events")
        assert [r["workspace_id"] for r in rows] == ["org_a"]
        assert await owner.fetchval("SELECT count(*) FROM isokron.agent_episodic_events") == 2
        messages = await owner.fetch("SELECT content FROM isokron.agent_messages")
        assert [m["content"] for m in messages] == ["kept"]
    finally:
        await owner.close()
    pool = await asyncpg.create_pool(empty_db.dsn, min_size=1, max_size=2)
    try:
        ledger = DelegationLedger(pool)
        assert (await ledger.get("org_a", "task-17")).task_preview == "old task"
        sessions = AgentSessionStore(pool)
        appended = await sessions.append_messages(
            RequestContext("org_b", "u"), session_b, [{"role": "user", "content": "B again"}])
        assert [m.seq for m in appended] == [1]
    finally:
        await pool.close()
