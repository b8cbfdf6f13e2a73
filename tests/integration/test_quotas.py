"""Quotas, written as the attacks of issue 24 item 8: every finding refused in PostgreSQL.

Small limits are applied per workspace (as the owner, the only one who may); the N+1th
session, message, byte or memory is refused with QuotaExceededError naming the quota
and its limit, and nothing of the refused write is stored. Raw SQL as a LOGIN member of
isokron_runtime can neither exceed the limits nor change them or the counters.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from isokron import QuotaExceededError
from isokron.errors import NotOwnedError
from isokron.pool import create_pool
from isokron.stores import AgentSessionStore, NamespaceMemory, RequestContext
from isokron.stores.quotas import apply_quotas, quota_limits

A, B = "t_quota_a", "t_quota_b"


async def _count(owner, sql: str, *args: object) -> int:
    return int(await owner.fetchval(sql, *args))


async def _sessions(owner, tenant: str) -> int:
    return await _count(owner, "SELECT count(*) FROM isokron.agent_sessions WHERE tenant_id = $1",
                        tenant)


async def _messages(owner, session_id) -> int:
    return await _count(owner, "SELECT count(*) FROM isokron.agent_messages "
                               "WHERE session_id = $1", session_id)


async def _as_tenant(conn, tenant: str, user: str = "u") -> None:
    await conn.execute("SELECT set_config('app.current_tenant_id', $1, true), "
                       "set_config('app.current_user_id', $2, true), "
                       "set_config('app.current_workspace_id', $1, true)", tenant, user)


def _refused(exc: pytest.ExceptionInfo[QuotaExceededError], quota: str, limit: int) -> None:
    assert exc.value.quota == quota and exc.value.limit == limit
    assert f"{quota} exceeded: limit {limit}" in str(exc.value)


async def test_defaults_are_documented_and_the_config_defaults(owner):
    """The '*' row holds the config's defaults; a workspace without a row inherits them."""
    from isokron.guard.quotas import QUOTA_DEFAULTS

    assert await quota_limits(owner) == QUOTA_DEFAULTS
    assert await quota_limits(owner, "nobody") == QUOTA_DEFAULTS
    await apply_quotas(owner, {"quota_sessions_per_user": 2}, A)
    assert (await quota_limits(owner, A))["quota_sessions_per_user"] == 2
    assert (await quota_limits(owner, A))["quota_memory_rows"] == QUOTA_DEFAULTS[
        "quota_memory_rows"]


async def test_the_n_plus_first_session_is_refused_per_user_and_tenant(owner, runtime_pool):
    """Finding: 2,000 sessions in 0.9 s. With quota_sessions_per_user 3 the 4th is refused;
    a delete frees a place; a replayed id is no new session; tenant B is unaffected."""
    await apply_quotas(owner, {"quota_sessions_per_user": 3}, A)
    store = AgentSessionStore(runtime_pool)
    ctx = RequestContext(A, "u1")
    made = [await store.create_session(ctx, agent_name="kora") for _ in range(3)]
    with pytest.raises(QuotaExceededError) as exc:
        await store.create_session(ctx, agent_name="kora")
    _refused(exc, "quota_sessions_per_user", 3)
    assert await _sessions(owner, A) == 3
    # the same id again returns the existing session and counts nothing
    assert (await store.create_session(ctx, agent_name="kora", id=made[0].id)).id == made[0].id
    # another user of A has its own count; tenant B has the defaults
    await store.create_session(RequestContext(A, "u2"), agent_name="kora")
    for _ in range(5):
        await store.create_session(RequestContext(B, "u1"), agent_name="kora")
    assert await store.delete_session(ctx, made[1].id)
    await store.create_session(ctx, agent_name="kora")
    with pytest.raises(QuotaExceededError):
        await store.create_session(ctx, agent_name="kora")


async def test_the_n_plus_first_message_is_refused_and_nothing_of_the_batch_stored(
        owner, runtime_pool):
    """quota_messages_per_session 5: a batch that would make 6 is refused whole; a pop or
    a clear frees places again."""
    await apply_quotas(owner, {"quota_messages_per_session": 5}, A)
    store = AgentSessionStore(runtime_pool)
    ctx = RequestContext(A, "u")
    session = await store.create_session(ctx, agent_name="kora")
    await store.append_messages(ctx, session.id, [{"role": "user", "content": f"m{i}"}
                                                  for i in range(4)])
    with pytest.raises(QuotaExceededError) as exc:
        await store.append_messages(ctx, session.id, [{"role": "user", "content": "x"},
                                                      {"role": "user", "content": "y"}])
    _refused(exc, "quota_messages_per_session", 5)
    assert [m.content for m in await store.list_messages(ctx, session.id)] == [
        "m0", "m1", "m2", "m3"]
    await store.append_messages(ctx, session.id, [{"role": "user", "content": "m4"}])
    await store.pop_message(ctx, session.id)
    await store.append_messages(ctx, session.id, [{"role": "user", "content": "again"}])
    assert await store.clear_messages(ctx, session.id) == 5
    await store.append_messages(ctx, session.id, [{"role": "user", "content": f"n{i}"}
                                                  for i in range(5)])


async def test_message_and_session_bytes_are_refused(owner, runtime_pool):
    """Finding: 100 x 1 MB messages into one session. Scaled: quota_message_bytes 1000 and
    quota_session_bytes 3006; tool calls count too, and so does the session's own agent
    name, title and state (0030: 'kora' + '{}', 6 bytes)."""
    await apply_quotas(owner, {"quota_message_bytes": 1000, "quota_session_bytes": 3006}, A)
    store = AgentSessionStore(runtime_pool)
    ctx = RequestContext(A, "u")
    session = await store.create_session(ctx, agent_name="kora")
    with pytest.raises(QuotaExceededError) as exc:
        await store.append_messages(ctx, session.id, [{"role": "user", "content": "é" * 501}])
    _refused(exc, "quota_message_bytes", 1000)  # 1002 bytes of UTF-8
    with pytest.raises(QuotaExceededError):
        await store.append_messages(ctx, session.id, [
            {"role": "assistant", "content": "a" * 10, "tool_calls": [{"x": "b" * 1000}]}])
    for _ in range(3):
        await store.append_messages(ctx, session.id, [{"role": "user", "content": "a" * 1000}])
    with pytest.raises(QuotaExceededError) as exc:
        await store.append_messages(ctx, session.id, [{"role": "user", "content": "z"}])
    _refused(exc, "quota_session_bytes", 3006)
    assert await _messages(owner, session.id) == 3
    other = await store.create_session(ctx, agent_name="kora")  # a session of its own
    await store.append_messages(ctx, other.id, [{"role": "user", "content": "a" * 1000}])


async def test_memory_rows_and_bytes_per_namespace(owner, runtime_pool):
    """quota_memory_rows 3 and quota_memory_bytes 200 per namespace (the tree root's
    limits); an upsert of the same id is no new row; growing past the bytes is refused,
    shrinking is not; concurrent commits in one tick land as far as they fit."""
    for ws, parent in (("org_q", None), ("ws_q", "org_q"), ("org_other", None)):
        await owner.execute("INSERT INTO isokron.workspaces (workspace_id, parent_id) "
                            "VALUES ($1, $2)", ws, parent)
    await apply_quotas(owner, {"quota_memory_rows": 3, "quota_memory_bytes": 200}, "org_q")
    memory = NamespaceMemory(runtime_pool)
    first = await memory.commit("ws_q", "fact one")
    await memory.commit("ws_q", "fact two")
    await memory.commit("ws_q", "fact one, updated", id=first.id)
    await memory.commit("ws_q", "fact three")
    with pytest.raises(QuotaExceededError) as exc:
        await memory.commit("ws_q", "fact four")
    _refused(exc, "quota_memory_rows", 3)
    await memory.commit("ws_q", "team fact", namespace="team:org_q")  # its own namespace
    with pytest.raises(QuotaExceededError) as exc:
        await memory.commit("ws_q", "x" * 300, id=first.id)
    _refused(exc, "quota_memory_bytes", 200)
    assert await owner.fetchval("SELECT content FROM isokron.memory_records WHERE id = $1",
                                uuid.UUID(first.id)) == "fact one, updated"
    await memory.commit("ws_q", "1", id=first.id)  # shrinking is always allowed
    await memory.forget("ws_q", first.id)
    results = await asyncio.gather(*(memory.commit("ws_q", f"burst {i}") for i in range(5)),
                                   return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, QuotaExceededError) for r in results if isinstance(r, Exception))
    # another root has the defaults
    for i in range(5):
        await memory.commit("org_other", f"other {i}")


async def test_raw_sql_as_the_runtime_role_cannot_exceed_the_limits(owner, attacker):
    """Direct INSERTs (sessions, messages, memories), COPY and ON CONFLICT are counted as
    the functions' writes are: the N+1th row is refused, nothing stored."""
    await apply_quotas(owner, {"quota_sessions_per_user": 2, "quota_messages_per_session": 2,
                               "quota_memory_rows": 1}, A)
    await owner.execute("INSERT INTO isokron.workspaces (workspace_id) VALUES ($1)", A)
    session = uuid.uuid4()

    async def run(sql: str, *args: object) -> None:
        async with attacker.transaction():
            await _as_tenant(attacker, A)
            await attacker.execute(sql, *args)

    await run("INSERT INTO isokron.agent_sessions (id, tenant_id, user_id, agent_name) "
              "VALUES ($1, $2, 'u', 'x')", session, A)
    with pytest.raises(asyncpg.PostgresError) as raw:  # two at once: 3 > 2
        await run("INSERT INTO isokron.agent_sessions (id, tenant_id, user_id, agent_name) "
                  "SELECT gen_random_uuid(), $1, 'u', 'x' FROM generate_series(1, 2)", A)
    assert raw.value.sqlstate == "IKQ01"
    assert "quota_sessions_per_user exceeded: limit 2" in str(raw.value)
    with pytest.raises(asyncpg.PostgresError) as raw:
        await run("INSERT INTO isokron.agent_messages (id, session_id, seq, role, content, "
                  "tenant_id, user_id) SELECT gen_random_uuid(), $1, g, 'user', 'm', $2, 'u' "
                  "FROM generate_series(1, 3) g", session, A)
    assert raw.value.sqlstate == "IKQ01"
    assert "quota_messages_per_session exceeded: limit 2" in str(raw.value)
    with pytest.raises(asyncpg.PostgresError) as raw:
        async with attacker.transaction():
            await _as_tenant(attacker, A)
            await attacker.copy_records_to_table(
                "agent_messages", schema_name="isokron",
                columns=["id", "session_id", "seq", "role", "content", "tenant_id", "user_id"],
                records=[(uuid.uuid4(), session, i, "user", "c", A, "u") for i in range(1, 4)])
    # COPY FROM is refused outright under row-level security (0A000); counted if it ran
    assert raw.value.sqlstate in ("0A000", "IKQ01")
    await run("INSERT INTO isokron.memory_namespaces (root_id, name, kind) "
              "VALUES ($1, $2, 'workspace')", A, f"workspace:{A}")
    await run("INSERT INTO isokron.memory_records (root_id, namespace, content) "
              "VALUES ($1, $2, 'one')", A, f"workspace:{A}")
    with pytest.raises(asyncpg.PostgresError) as raw:
        await run("INSERT INTO isokron.memory_records (root_id, namespace, content) "
                  "VALUES ($1, $2, 'two')", A, f"workspace:{A}")
    assert "quota_memory_rows exceeded: limit 1" in str(raw.value)
    assert await _sessions(owner, A) == 1 and await _messages(owner, session) == 0
    assert await _count(owner, "SELECT count(*) FROM isokron.memory_records "
                               "WHERE root_id = $1", A) == 1


async def test_raw_sql_as_the_runtime_role_cannot_raise_limits_or_reset_counters(
        owner, attacker, db):
    """The limits and the counters are out of the runtime role's reach: no privilege on
    either table, no way to turn the triggers off or move a session off its count."""
    await apply_quotas(owner, {"quota_sessions_per_user": 1}, A)
    session = uuid.uuid4()
    async with attacker.transaction():
        await _as_tenant(attacker, A)
        await attacker.execute("INSERT INTO isokron.agent_sessions (id, tenant_id, user_id, "
                               "agent_name) VALUES ($1, $2, 'u', 'x')", session, A)
    attacks = [
        "UPDATE isokron.quota_limits SET sessions_per_user = 1000000",
        "INSERT INTO isokron.quota_limits (workspace_id, sessions_per_user) VALUES ('t', 9)",
        "DELETE FROM isokron.quota_limits",
        "SELECT * FROM isokron.quota_limits",
        "UPDATE isokron.quota_usage SET items = 0",
        "DELETE FROM isokron.quota_usage",
        "SELECT * FROM isokron.quota_usage",
        "INSERT INTO isokron.quota_usage (scope, key1, key2, items) VALUES ('user', 'x', 'u', -5)",
        "TRUNCATE isokron.quota_usage",
        "ALTER TABLE isokron.agent_sessions DISABLE TRIGGER quota_sessions_added",
        "ALTER TABLE isokron.agent_sessions DISABLE TRIGGER ALL",
        "DROP TRIGGER quota_sessions_added ON isokron.agent_sessions",
        "SET session_replication_role = replica",
        "SELECT isokron.quota_memory_add_v1("
        "'[{\"root_id\": \"t_quota_a\", \"namespace\": \"w\", \"n\": -100, \"b\": 0}]')",
        "SELECT isokron.quota_sessions_removed_tg()",
        "CREATE OR REPLACE FUNCTION isokron.quota_limits_v1(text) RETURNS TABLE(a bigint) "
        "LANGUAGE sql AS 'SELECT 1::bigint'",
        f"UPDATE isokron.agent_sessions SET user_id = 'other' WHERE id = '{session}'",
        f"UPDATE isokron.agent_sessions SET id = gen_random_uuid() WHERE id = '{session}'",
    ]
    for sql in attacks:
        with pytest.raises(asyncpg.PostgresError) as refused:
            async with attacker.transaction():
                await _as_tenant(attacker, A)
                await attacker.execute(sql)
        assert refused.value.sqlstate in ("42501", "IKT01", "42809", "0A000"), (sql, refused)
    # the runtime store gets the typed error when it tries to set limits
    pool = await create_pool(db.runtime_dsn, min_size=1, max_size=1)
    try:
        with pytest.raises(NotOwnedError):
            await apply_quotas(pool, {"quota_sessions_per_user": 100}, A)
        assert (await quota_limits(pool, A))["quota_sessions_per_user"] == 1
    finally:
        await pool.close()
    with pytest.raises(asyncpg.PostgresError) as raw:
        async with attacker.transaction():
            await _as_tenant(attacker, A)
            await attacker.execute("INSERT INTO isokron.agent_sessions (id, tenant_id, user_id, "
                                   "agent_name) VALUES (gen_random_uuid(), $1, 'u', 'x')", A)
    assert raw.value.sqlstate == "IKQ01"
    assert await owner.fetchval("SELECT sessions_per_user FROM isokron.quota_limits "
                                "WHERE workspace_id = $1", A) == 1


async def test_tenant_b_use_does_not_affect_tenant_a(owner, runtime_pool):
    """B filling its quota leaves A's count and its limit alone (same user name too)."""
    await apply_quotas(owner, {"quota_sessions_per_user": 2, "quota_messages_per_session": 2},
                       None)
    store = AgentSessionStore(runtime_pool)
    for tenant in (B, A):
        ctx = RequestContext(tenant, "same-user")
        first = await store.create_session(ctx, agent_name="kora")
        await store.create_session(ctx, agent_name="kora")
        with pytest.raises(QuotaExceededError):
            await store.create_session(ctx, agent_name="kora")
        await store.append_messages(ctx, first.id, [{"role": "user", "content": "1"},
                                                    {"role": "user", "content": "2"}])
        with pytest.raises(QuotaExceededError):
            await store.append_messages(ctx, first.id, [{"role": "user", "content": "3"}])
    assert await _sessions(owner, A) == 2 and await _sessions(owner, B) == 2


async def test_concurrent_writers_cannot_overshoot_a_count_quota(owner, db, runtime_pool):
    """asyncio.gather on several connections: exactly the limit lands, whatever the race
    (sessions by raw INSERT, which takes no session lock; messages through the store)."""
    await apply_quotas(owner, {"quota_sessions_per_user": 3, "quota_messages_per_session": 7},
                       A)
    conns = [await asyncpg.connect(db.runtime_dsn) for _ in range(8)]
    try:
        gate = asyncio.Event()

        async def one(conn: asyncpg.Connection) -> bool:
            try:
                async with conn.transaction():
                    await _as_tenant(conn, A, "racer")
                    await gate.wait()
                    await conn.execute(
                        "INSERT INTO isokron.agent_sessions (id, tenant_id, user_id, "
                        "agent_name) VALUES (gen_random_uuid(), $1, 'racer', 'x')", A)
                    await asyncio.sleep(0.05)  # hold the transaction open a moment
                return True
            except asyncpg.PostgresError as exc:
                assert exc.sqlstate == "IKQ01"
                return False

        tasks = [asyncio.ensure_future(one(c)) for c in conns]
        await asyncio.sleep(0.1)
        gate.set()
        assert sum(await asyncio.gather(*tasks)) == 3
    finally:
        for conn in conns:
            await conn.close()
    assert await _count(owner, "SELECT count(*) FROM isokron.agent_sessions "
                               "WHERE user_id = 'racer'") == 3
    store = AgentSessionStore(runtime_pool)
    ctx = RequestContext(A, "u")
    session = await store.create_session(ctx, agent_name="kora")
    results = await asyncio.gather(*(
        store.append_messages(ctx, session.id, [{"role": "user", "content": f"{i}a"},
                                                {"role": "user", "content": f"{i}b"}])
        for i in range(8)), return_exceptions=True)
    landed = [r for r in results if not isinstance(r, BaseException)]
    assert all(isinstance(r, QuotaExceededError) for r in results if isinstance(r, Exception))
    assert len(landed) == 3 and await _messages(owner, session.id) == 6


async def test_counters_match_the_data_after_mixed_writes(owner, runtime_pool):
    """The counters equal a COUNT(*) of the data after creates, appends, pops, clears,
    deletes (cascading to messages) and memory upserts and forgets."""
    store = AgentSessionStore(runtime_pool)
    ctx = RequestContext(A, "u")
    sessions = [await store.create_session(ctx, agent_name="kora") for _ in range(3)]
    for s in sessions:
        await store.append_messages(ctx, s.id, [{"role": "user", "content": "héllo"}] * 1
                                    + [{"role": "tool", "content": None,
                                        "tool_calls": [{"a": 1}]}])
    await store.pop_message(ctx, sessions[0].id)
    await store.clear_messages(ctx, sessions[1].id)
    await store.delete_session(ctx, sessions[2].id)
    usage = {r["key3"]: (r["items"], r["bytes"]) for r in await owner.fetch(
        "SELECT key3, items, bytes FROM isokron.quota_usage WHERE scope = 'session' "
        "AND key1 = $1", A)}
    actual = {str(r["id"]): (r["n"], r["b"]) for r in await owner.fetch(  # 0030: + own bytes
        "SELECT s.id, count(m.seq) AS n, coalesce(sum(coalesce(octet_length(m.content), 0) "
        "+ coalesce(octet_length(m.tool_calls::text), 0)) FILTER (WHERE m.seq IS NOT NULL), 0) "
        "+ octet_length(s.agent_name) + coalesce(octet_length(s.title), 0) "
        "+ octet_length(s.state::text) AS b FROM isokron.agent_sessions s "
        "LEFT JOIN isokron.agent_messages m ON m.tenant_id = s.tenant_id "
        "AND m.user_id = s.user_id AND m.session_id = s.id "
        "WHERE s.tenant_id = $1 GROUP BY s.id, s.agent_name, s.title, s.state", A)}
    assert usage == actual
    assert str(sessions[2].id) not in usage
    assert await owner.fetchval("SELECT items FROM isokron.quota_usage WHERE scope = 'user' "
                                "AND key1 = $1 AND key2 = 'u'", A) == 2
    assert await owner.fetchval("SELECT items FROM isokron.quota_usage WHERE scope = 'tenant' "
                                "AND key1 = $1", A) == 2


async def test_memory_counters_match_the_data_after_upserts_that_change_nothing(owner,
                                                                               runtime_pool):
    """0041's early return skips only statements that changed no row: after fresh commits,
    dedup hits (the UPDATE branch of the upsert), a commit by id that grows the content, a
    raw upsert whose conflict updates nothing (WHERE false) and a forget, the namespace's
    counter equals a COUNT(*) and the bytes of its rows."""
    await owner.execute("INSERT INTO isokron.workspaces (workspace_id) VALUES ($1)", A)
    memory = NamespaceMemory(runtime_pool)
    first = await memory.commit(A, "a fact about the rota")
    await memory.commit(A, "another fact")
    assert (await memory.commit(A, "A fact about the rota.")).deduplicated
    await memory.commit(A, "a fact about the rota, now longer than before", id=first.id)
    gone = await memory.commit(A, "a fact to forget")
    await memory.forget(A, gone.id)
    async with runtime_pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.current_workspace_id', $1, true)", A)
        await conn.execute(
            "INSERT INTO isokron.memory_records (id, namespace, content) VALUES ($1, $2, "
            "'another fact') ON CONFLICT (root_id, namespace, content_key) WHERE "
            "retracted_at IS NULL AND superseded_by IS NULL AND unmerged_duplicate_of "
            "IS NULL DO UPDATE SET pin = true WHERE false", uuid.uuid4(), f"workspace:{A}")
    usage = await owner.fetchrow(
        "SELECT items, bytes FROM isokron.quota_usage WHERE scope = 'namespace' "
        "AND key1 = $1 AND key2 = $2", A, f"workspace:{A}")
    actual = await owner.fetchrow(
        "SELECT count(*) AS items, sum(octet_length(content) + octet_length(metadata::text)) "
        "AS bytes FROM isokron.memory_records WHERE root_id = $1 AND namespace = $2",
        A, f"workspace:{A}")
    assert (usage["items"], usage["bytes"]) == (actual["items"], actual["bytes"]) and \
        actual["items"] == 2


async def test_an_upgrade_counts_the_rows_already_stored(empty_db):
    """0028 on a database with data: the counters start at what is stored, so an existing
    tenant over a (small) limit is refused at once, and deleting brings it back under."""
    from isokron.schema import migrate

    await migrate(empty_db.dsn, target="0026_context_lifetime")
    conn = await asyncpg.connect(empty_db.dsn)
    try:
        session, other = uuid.uuid4(), uuid.uuid4()
        await conn.execute("INSERT INTO isokron.agent_sessions (id, tenant_id, user_id, "
                           "agent_name) VALUES ($1, $2, 'u', 'k'), ($3, $2, "
                           "'u', 'k')", session, A, other)
        await conn.execute("INSERT INTO isokron.agent_messages (session_id, seq, role, content, "
                           "tenant_id, user_id) SELECT $1, g, 'user', 'héllo', $2, 'u' "
                           "FROM generate_series(1, 4) g", session, A)
        await conn.execute("INSERT INTO isokron.workspaces (workspace_id) VALUES ($1)", A)
        await conn.execute("INSERT INTO isokron.memory_namespaces (root_id, name, kind) "
                           "VALUES ($1, $2, 'workspace')", A, f"workspace:{A}")
        await conn.execute("INSERT INTO isokron.memory_records (root_id, namespace, content) "
                           "VALUES ($1, $2, 'one'), ($1, $2, 'two')", A, f"workspace:{A}")
        applied = await migrate(empty_db.dsn)
        assert applied[:2] == ["0027_chain_v2", "0028_quotas"]
        assert "0030_quota_gaps" in applied
        usage = {(r["scope"], r["key2"], r["key3"]): (r["items"], r["bytes"])
                 for r in await conn.fetch("SELECT scope, key2, key3, items, bytes "
                                           "FROM isokron.quota_usage WHERE key1 = $1", A)}
        assert usage == {("user", "u", ""): (2, 0), ("tenant", "", ""): (2, 0),
                         ("session", "u", str(session)): (4, 24 + 3),  # + 'k' + '{}' (0030)
                         ("session", "u", str(other)): (0, 3),
                         ("namespace", f"workspace:{A}", ""): (2, 10)}  # 'one' + '{}', 'two' + '{}'
        await apply_quotas(conn, {"quota_messages_per_session": 4}, A)
        with pytest.raises(asyncpg.PostgresError, match="quota_messages_per_session"):
            await conn.execute("INSERT INTO isokron.agent_messages (session_id, seq, role, "
                               "content, tenant_id, user_id) VALUES ($1, 5, 'user', 'x', $2, "
                               "'u')", session, A)
        await conn.execute("DELETE FROM isokron.agent_messages WHERE seq = 4")
        await conn.execute("INSERT INTO isokron.agent_messages (session_id, seq, role, "
                           "content, tenant_id, user_id) VALUES ($1, 5, 'user', 'x', $2, 'u')",
                           session, A)
    finally:
        await conn.close()


async def test_doctor_fails_when_a_quota_trigger_is_off(owner, db):
    """isokron doctor reports the quotas (defaults) and fails once an owner disables one of
    their triggers; the runtime login sees the same."""
    from isokron.ops.doctor import run_doctor

    def quota_check(report):
        return next(c for c in report.checks if c.name == "quotas")

    check = quota_check(await run_doctor(owner))
    assert check.status == "ok" and "quota_sessions_per_user=1000" in check.detail
    await owner.execute("ALTER TABLE isokron.agent_messages DISABLE TRIGGER quota_messages_added")
    runtime = await asyncpg.connect(db.runtime_dsn)
    try:
        for conn in (owner, runtime):
            check = quota_check(await run_doctor(conn))
            assert check.status == "fail" and "quota_messages_added" in check.detail
    finally:
        await runtime.close()


async def test_the_cli_applies_the_configured_quotas_as_the_owner_only(db, owner, tmp_path,
                                                                      capsys):
    """`isokron quota apply --config FILE --workspace W` writes the file's quota_* keys (the
    rest at their defaults) as W's limits; `show` prints them; a runtime login is refused
    in one line and changes nothing."""
    from isokron.ops.cli import main

    config = tmp_path / "config.yaml"
    config.write_text("isokron:\n  dsn: postgresql://runtime@nowhere/db\n"
                      "  quota_sessions_per_user: 7\n  quota_memory_rows: 70\n")
    argv = ["quota", "apply", "--config", str(config), "--workspace", A]
    assert await asyncio.to_thread(main, [*argv, "--dsn", db.dsn]) == 0
    out = capsys.readouterr().out
    assert f"workspace {A}" in out and "quota_sessions_per_user: 7" in out
    assert (await quota_limits(owner, A))["quota_memory_rows"] == 70
    assert await asyncio.to_thread(main, [*argv[:-1], B, "--dsn", db.runtime_dsn]) == 1
    err = capsys.readouterr().err
    assert err.startswith("isokron quota: setting quotas: permission denied") and err.count(
        "\n") == 1
    assert await owner.fetchval("SELECT count(*) FROM isokron.quota_limits "
                                "WHERE workspace_id = $1", B) == 0
    assert await asyncio.to_thread(main, ["quota", "show", "--dsn", db.runtime_dsn,
                                          "--workspace", A]) == 0
    assert "quota_memory_rows: 70" in capsys.readouterr().out
