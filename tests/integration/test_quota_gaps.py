"""Migration 0030: what the review's quota attacks left open, counted exactly.

The attacks themselves are in ``test_review_attacks.py``; here the counters stay equal to
the data (a shrinking update frees room, a delete frees an embedding's bytes, a write that
leaves the counted columns alone takes no counter lock) and the new limits refuse with
their names.
"""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest

from isokron.stores.quotas import apply_quotas, quota_limits
from isokron.testing.seed import seed_demo_workspace

A = "t_gaps_a"


async def _as(conn, tenant: str, user: str = "u", workspace: str | None = None) -> None:
    await conn.execute("SELECT set_config('app.current_tenant_id', $1, true), "
                       "set_config('app.current_user_id', $2, true), "
                       "set_config('app.current_workspace_id', $3, true)",
                       tenant, user, workspace or tenant)


async def _bytes(owner, scope: str, key1: str, key3: str = "") -> int:
    return int(await owner.fetchval("SELECT bytes FROM isokron.quota_usage WHERE scope = $1 "
                                    "AND key1 = $2 AND key3 = $3", scope, key1, key3))


async def test_the_new_defaults_are_in_force(owner):
    limits = await quota_limits(owner)
    assert limits["quota_sessions_per_tenant"] == 100_000
    assert limits["quota_events_per_tenant"] == 1_000_000
    assert limits["quota_event_bytes"] == 1024 * 1024
    assert limits["quota_memory_bytes"] == 1024 * 1024 * 1024


async def test_session_columns_are_counted_and_a_shrink_frees_them(owner, attacker):
    await apply_quotas(owner, {"quota_session_bytes": 100}, A)
    session = uuid.uuid4()
    async with attacker.transaction():
        await _as(attacker, A)
        await attacker.execute("INSERT INTO isokron.agent_sessions (id, tenant_id, user_id, "
                               "agent_name, title) VALUES ($1, $2, 'u', 'kora', 'hi')",
                               session, A)
    assert await _bytes(owner, "session", A, str(session)) == 4 + 2 + 2  # + '{}'
    async with attacker.transaction():
        await _as(attacker, A)
        await attacker.execute("UPDATE isokron.agent_sessions SET title = repeat('t', 80) "
                               "WHERE id = $1", session)
    assert await _bytes(owner, "session", A, str(session)) == 4 + 80 + 2
    with pytest.raises(asyncpg.PostgresError, match="quota_session_bytes") as refused:
        async with attacker.transaction():
            await _as(attacker, A)
            await attacker.execute("UPDATE isokron.agent_sessions SET state = "
                                   "'{\"k\": \"0123456789abcdef\"}' WHERE id = $1", session)
    assert refused.value.sqlstate == "IKQ01"
    async with attacker.transaction():  # shrinking: always allowed, frees the room
        await _as(attacker, A)
        await attacker.execute("UPDATE isokron.agent_sessions SET title = NULL, "
                               "updated_at = now() WHERE id = $1", session)
    assert await _bytes(owner, "session", A, str(session)) == 4 + 2


async def test_an_updated_at_touch_takes_no_counter_lock(owner, db, attacker):
    session = uuid.uuid4()
    async with attacker.transaction():
        await _as(attacker, A)
        await attacker.execute("INSERT INTO isokron.agent_sessions (id, tenant_id, user_id, "
                               "agent_name) VALUES ($1, $2, 'u', 'kora')", session, A)
    other = await asyncpg.connect(db.runtime_dsn)
    try:
        tx = attacker.transaction()
        await tx.start()
        await _as(attacker, A)
        await attacker.execute("UPDATE isokron.agent_sessions SET updated_at = now() "
                               "WHERE id = $1", session)
        async with other.transaction():  # a message to the same session: no wait
            await _as(other, A)
            await other.execute("SET LOCAL lock_timeout = '300ms'")
            await other.execute("INSERT INTO isokron.agent_messages (session_id, seq, role, "
                                "content, tenant_id, user_id) VALUES ($1, 1, 'user', 'x', "
                                "$2, 'u')", session, A)
        await tx.rollback()
    finally:
        await other.close()


async def test_sessions_per_tenant_is_freed_by_a_delete(owner, attacker):
    await apply_quotas(owner, {"quota_sessions_per_tenant": 2}, A)
    for user in ("u1", "u2"):
        async with attacker.transaction():
            await _as(attacker, A, user)
            await attacker.execute("INSERT INTO isokron.agent_sessions (tenant_id, user_id, "
                                   "agent_name) VALUES ($1, $2, 'k')", A, user)
    with pytest.raises(asyncpg.PostgresError, match="quota_sessions_per_tenant exceeded"):
        async with attacker.transaction():
            await _as(attacker, A, "u3")
            await attacker.execute("INSERT INTO isokron.agent_sessions (tenant_id, user_id, "
                                   "agent_name) VALUES ($1, 'u3', 'k')", A)
    async with attacker.transaction():
        await _as(attacker, A, "u1")
        await attacker.execute("DELETE FROM isokron.agent_sessions")
    async with attacker.transaction():
        await _as(attacker, A, "u3")
        await attacker.execute("INSERT INTO isokron.agent_sessions (tenant_id, user_id, "
                               "agent_name) VALUES ($1, 'u3', 'k')", A)


async def test_embedding_bytes_are_freed_by_a_delete(owner, attacker):
    if not await owner.fetchval("SELECT EXISTS (SELECT 1 FROM pg_extension "
                                "WHERE extname = 'vector')"):
        pytest.skip("pgvector not installed")
    await owner.execute("INSERT INTO isokron.workspaces (workspace_id) VALUES ($1)", A)
    ns = f"workspace:{A}"
    async with attacker.transaction():
        await _as(attacker, A)
        await attacker.execute("INSERT INTO isokron.memory_namespaces (root_id, name, kind) "
                               "VALUES ($1, $2, 'workspace')", A, ns)
        await attacker.execute("INSERT INTO isokron.memory_records (root_id, namespace, "
                               "content) VALUES ($1, $2, 'x')", A, ns)
    assert await _bytes(owner, "namespace", A) == 1 + 2
    vec = "[" + ",".join(["0.5"] * 1000) + "]"
    async with attacker.transaction():
        await _as(attacker, A)
        await attacker.execute("UPDATE isokron.memory_records SET embedding = $1::text::vector",
                               vec)
    stored = await owner.fetchval("SELECT 8 + 4 * vector_dims(embedding) FROM isokron.memory_records "
                                  "WHERE root_id = $1", A)
    assert stored == 4008 and await _bytes(owner, "namespace", A) == 3 + stored
    async with attacker.transaction():
        await _as(attacker, A)
        await attacker.execute("DELETE FROM isokron.memory_records")
    assert await _bytes(owner, "namespace", A) == 0


async def test_chain_event_size_and_count_are_limited(owner, attacker):
    await seed_demo_workspace(owner, "org_demo")
    held = await owner.fetchval("SELECT a.event_count FROM hivex_foundation.chain_anchor a "
                                "JOIN hivex_foundation.tenant t USING (tenant_id) "
                                "WHERE t.clerk_org_id = 'org_demo'")
    await apply_quotas(owner, {"quota_event_bytes": 100, "quota_events_per_tenant": held + 1},
                       "org_demo")
    append = "SELECT hivex_foundation.append_event_v1('org_demo', 'kora.note.added', $1, NULL)"
    for payload, quota in (({"x": "y" * 200}, "quota_event_bytes"), ({"n": 1}, None),
                           ({"n": 2}, "quota_events_per_tenant")):
        if quota is None:
            async with attacker.transaction():
                await _as(attacker, "t", workspace="org_demo")
                await attacker.fetchval(append, json.dumps(payload))
            continue
        with pytest.raises(asyncpg.PostgresError, match=quota) as refused:
            async with attacker.transaction():
                await _as(attacker, "t", workspace="org_demo")
                await attacker.fetchval(append, json.dumps(payload))
        assert refused.value.sqlstate == "IKQ01"
    assert await owner.fetchval(
        "SELECT broken_seq FROM hivex_foundation.verify_chain_v2('org_demo')") is None
