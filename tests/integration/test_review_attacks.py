"""Hostile review of quotas (0028), chain v2 (0027) and the doctor's catalog drift check.

Every test here is an attack that currently SUCCEEDS: each asserts the behaviour a fix
must bring (a refusal, or the doctor failing), so each fails until the hole is closed.
Cluster-wide changes (role memberships) are undone in ``finally``.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest

from isokron.ops.cli import main
from isokron.stores import NamespaceMemory
from isokron.stores.quotas import apply_quotas
from isokron.testing.seed import seed_demo_workspace

A = "t_review_a"


@pytest.fixture
async def attacker(db):
    """A raw connection as the runtime login (a LOGIN member of isokron_runtime)."""
    conn = await asyncpg.connect(db.runtime_dsn)
    try:
        yield conn
    finally:
        await conn.close()


async def _as(conn, tenant: str, user: str = "u", workspace: str | None = None) -> None:
    await conn.execute("SELECT set_config('app.current_tenant_id', $1, true), "
                       "set_config('app.current_user_id', $2, true), "
                       "set_config('app.current_workspace_id', $3, true)",
                       tenant, user, workspace or tenant)


# -- quotas -------------------------------------------------------------------------------

async def test_quota_session_state_update_is_not_counted(owner, attacker):
    """quota_session_bytes 1000, yet one raw UPDATE stores 1 MB in agent_sessions.state (and
    title / agent_name): the runtime role holds UPDATE on every column of agent_sessions and
    no quota trigger looks at them. 1000 sessions x 255 MB of jsonb each is unbounded."""
    await apply_quotas(owner, {"quota_session_bytes": 1000, "quota_message_bytes": 1000}, A)
    session = uuid.uuid4()
    async with attacker.transaction():
        await _as(attacker, A)
        await attacker.execute("INSERT INTO isokron.agent_sessions (id, tenant_id, user_id, "
                               "agent_name) VALUES ($1, $2, 'u', 'x')", session, A)
    with pytest.raises(asyncpg.PostgresError) as refused:
        async with attacker.transaction():
            await _as(attacker, A)
            await attacker.execute(
                "UPDATE isokron.agent_sessions SET state = jsonb_build_object('blob', "
                "repeat('x', 1000000)), title = repeat('t', 1000000) WHERE id = $1", session)
    assert refused.value.sqlstate == "IKQ01"


async def test_quota_memory_embedding_bytes_are_not_counted(owner, attacker):
    """quota_memory_bytes 200 counts content + metadata only: a raw INSERT (or UPDATE) of a
    16000-dimension embedding stores 64 KB per one-byte memory. The runtime role holds
    table-level INSERT/UPDATE on memory_records, so every column is writable."""
    if not await owner.fetchval("SELECT EXISTS (SELECT 1 FROM pg_extension "
                                "WHERE extname = 'vector')"):
        pytest.skip("pgvector not installed")
    await owner.execute("INSERT INTO isokron.workspaces (workspace_id) VALUES ($1)", A)
    await apply_quotas(owner, {"quota_memory_bytes": 200}, A)
    vec = "[" + ",".join(["0.5"] * 16000) + "]"
    async with attacker.transaction():
        await _as(attacker, A)
        await attacker.execute("INSERT INTO isokron.memory_namespaces (root_id, name, kind) "
                               "VALUES ($1, $2, 'workspace')", A, f"workspace:{A}")
    with pytest.raises(asyncpg.PostgresError) as refused:
        async with attacker.transaction():
            await _as(attacker, A)
            await attacker.execute(
                "INSERT INTO isokron.memory_records (root_id, namespace, content, embedding, "
                "embedding_model) SELECT $1, $2, 'x' || g, $3::text::vector, 'm' "
                "FROM generate_series(1, 20) g", A, f"workspace:{A}", vec)
    assert refused.value.sqlstate == "IKQ01"


async def test_quota_sessions_have_no_tenant_cap_fresh_user_ids_bypass_it(owner, attacker):
    """quota_sessions_per_user 2 is the only session limit: the user is whatever the
    connection (or the app) names, so one tenant makes 50 sessions by naming 25 users in
    raw SQL. There is no per-tenant (per-workspace) total.

    Fixed by quota_sessions_per_tenant (0030, default 100000): set to 2 here, the second
    user's sessions are refused."""
    await apply_quotas(owner, {"quota_sessions_per_user": 2, "quota_sessions_per_tenant": 2}, A)
    made = 0
    with pytest.raises(asyncpg.PostgresError):
        for i in range(25):
            async with attacker.transaction():
                await _as(attacker, A, user=f"sock-puppet-{i}")
                await attacker.execute(
                    "INSERT INTO isokron.agent_sessions (id, tenant_id, user_id, agent_name) "
                    "SELECT gen_random_uuid(), $1, $2, 'x' FROM generate_series(1, 2)",
                    A, f"sock-puppet-{i}")
            made += 2
    assert made <= 2, made


async def test_quota_shared_team_namespace_lets_one_sibling_starve_the_others(owner,
                                                                               runtime_pool):
    """team:<parent> is writable by every child workspace and has one counter: ws_1 fills
    it and ws_2 (another workspace, maybe another customer team) can write no team memory
    at all. There is no per-writer share of a shared namespace.

    Not fixed (BUILD_DEVIATIONS.md, D-quota-shared-namespace): asserted is what is bounded.
    The refusal is IKQ01 naming the team namespace, it reaches only the shared namespace
    (ws_2's own namespace takes writes), and a delete of the filler's memories frees it."""
    from isokron.errors import QuotaExceededError
    for ws, parent in (("org_r", None), ("ws_1", "org_r"), ("ws_2", "org_r")):
        await owner.execute("INSERT INTO isokron.workspaces (workspace_id, parent_id) "
                            "VALUES ($1, $2)", ws, parent)
    await apply_quotas(owner, {"quota_memory_rows": 5}, "org_r")
    memory = NamespaceMemory(runtime_pool)
    for i in range(5):
        await memory.commit("ws_1", f"noise {i}", namespace="team:org_r")
    with pytest.raises(QuotaExceededError) as refused:
        await memory.commit("ws_2", "ws_2's one team fact", namespace="team:org_r")
    assert "quota_memory_rows" in str(refused.value) and "team:org_r" in str(refused.value)
    await memory.commit("ws_2", "ws_2's own fact")  # its own namespace: its own counter
    await owner.execute("DELETE FROM isokron.memory_records WHERE namespace = 'team:org_r' "
                        "AND content = 'noise 0'")
    await memory.commit("ws_2", "ws_2's one team fact", namespace="team:org_r")


# -- chain v2 -----------------------------------------------------------------------------

async def test_verify_chain_v2_outside_the_workspace_reports_a_tampered_chain_intact(
        owner, attacker):
    """verify_chain_v2 is SECURITY INVOKER: called by the runtime role for a workspace that
    is not the transaction's, RLS hides the tenant, events and anchor, and it returns no
    row -- the same answer as "intact" -- for a chain whose payload was rewritten (and for a
    workspace that does not exist). It should refuse (IKT01) rather than answer."""
    await seed_demo_workspace(owner, "org_demo")
    await owner.execute("ALTER TABLE hivex_foundation.event_log "
                        "DISABLE TRIGGER event_log_append_only")
    await owner.execute("UPDATE hivex_foundation.event_log SET payload = payload || "
                        "'{\"forged\": true}' WHERE seq = 1")
    await owner.execute("ALTER TABLE hivex_foundation.event_log "
                        "ENABLE TRIGGER event_log_append_only")
    async with attacker.transaction():
        await _as(attacker, "t", workspace="org_demo")
        assert await attacker.fetchval(
            "SELECT broken_seq FROM hivex_foundation.verify_chain_v2('org_demo')") == 1
    for workspace, target in (("somewhere_else", "org_demo"), ("nowhere", "nowhere")):
        with pytest.raises(asyncpg.PostgresError) as refused:
            async with attacker.transaction():
                await _as(attacker, "t", workspace=workspace)
                await attacker.fetchrow(
                    "SELECT * FROM hivex_foundation.verify_chain_v2($1)", target)
        assert refused.value.sqlstate == "IKT01", (workspace, target)  # not "intact"
    assert await owner.fetchval(  # the owner (RLS off: the doctor) verifies every chain
        "SELECT broken_seq FROM hivex_foundation.verify_chain_v2('org_demo')") == 1


# -- doctor catalog drift -----------------------------------------------------------------

async def _plant_memory(owner) -> None:
    """One memory of a victim workspace, written as the owner."""
    await owner.execute("INSERT INTO isokron.workspaces (workspace_id) VALUES ('victim')")
    await owner.execute("INSERT INTO isokron.memory_namespaces (root_id, name, kind) "
                        "VALUES ('victim', 'workspace:victim', 'workspace')")
    await owner.execute("INSERT INTO isokron.memory_records (root_id, namespace, content) "
                        "VALUES ('victim', 'workspace:victim', 'the victim''s secret')")


async def _doctor_fails(db, capsys, *, dsns=None, naming: tuple[str, ...] = ()) -> None:
    """`isokron doctor` exits 1 on every DSN and a failed check names each of ``naming``."""
    for dsn in dsns or (db.dsn,):
        code = await asyncio.to_thread(main, ["doctor", "--dsn", dsn])
        out = capsys.readouterr().out
        assert code == 1, out
        failed = "\n".join(line for line in out.splitlines() if line.startswith("[FAIL]"))
        for needle in naming:
            assert needle in failed, (needle, failed)


async def test_doctor_misses_a_definer_function_outside_isokron_schemas(owner, db, capsys):
    """catalog.py says "Wherever it lives, a SECURITY DEFINER function the runtime role can
    call must pin its search_path", but the functions query only reads isokron, kronicle,
    hivex_foundation and public. A superuser-owned SECURITY DEFINER function in a new
    schema, executable by isokron_runtime and with no search_path, hands every tenant's
    memories to the runtime role; the doctor says ok."""
    await seed_demo_workspace(owner, "org_demo")
    await _plant_memory(owner)
    await owner.execute("""
        CREATE SCHEMA ops_helpers;
        GRANT USAGE ON SCHEMA ops_helpers TO isokron_runtime;
        CREATE FUNCTION ops_helpers.all_memories() RETURNS SETOF isokron.memory_records
        LANGUAGE sql SECURITY DEFINER AS 'SELECT * FROM isokron.memory_records';
        GRANT EXECUTE ON FUNCTION ops_helpers.all_memories() TO isokron_runtime;
    """)
    conn = await asyncpg.connect(db.runtime_dsn)
    try:  # the attack works: no context set, every tenant's rows
        assert await conn.fetchval("SELECT count(*) FROM ops_helpers.all_memories()") > 0
    finally:
        await conn.close()
    await _doctor_fails(db, capsys, naming=(
        "SECURITY DEFINER function ops_helpers.all_memories() was not installed",))


async def test_doctor_misses_a_definer_rights_view_in_another_schema(owner, db, capsys):
    """A view owned by the superuser (security_invoker off) over memory_records skips RLS;
    granted to isokron_runtime from public (or any schema but isokron's three) it is not in
    the table-privileges query, so the doctor does not see it."""
    await seed_demo_workspace(owner, "org_demo")
    await _plant_memory(owner)
    await owner.execute("CREATE VIEW public.memory_everything AS "
                        "SELECT * FROM isokron.memory_records; "
                        "GRANT SELECT ON public.memory_everything TO isokron_runtime")
    conn = await asyncpg.connect(db.runtime_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM public.memory_everything") > 0
    finally:
        await conn.close()
    await _doctor_fails(db, capsys, naming=(
        "relation public.memory_everything was not installed by isokron and "
        "isokron_runtime may use it",))


async def test_doctor_misses_isokron_definer_granted_to_the_runtime_login(owner, db, capsys):
    """The crossing-roles check asks only whether the role isokron_runtime is a member of
    isokron_definer. GRANT isokron_definer TO <the runtime login> gives that login every
    definer policy (memory_records USING (true), quota_usage write): the doctor says ok."""
    login = db.cluster.runtime_user
    await seed_demo_workspace(owner, "org_demo")
    await _plant_memory(owner)
    await owner.execute(f'GRANT isokron_definer TO "{login}"')
    try:
        conn = await asyncpg.connect(db.runtime_dsn)
        try:
            await conn.execute("SET ROLE isokron_definer")
            assert await conn.fetchval("SELECT count(*) FROM isokron.memory_records") > 0
        finally:
            await conn.close()
        await _doctor_fails(db, capsys, dsns=(db.dsn, db.runtime_dsn),
                            naming=(f"{login} (a member of isokron_definer)",))
    finally:
        await owner.execute(f'REVOKE isokron_definer FROM "{login}"')


async def test_doctor_misses_grants_made_to_the_login_itself(owner, db, capsys):
    """Privileges are read for isokron's four NOLOGIN roles only. EXECUTE on
    quota_memory_add_v1 granted to the runtime login itself lets it drive any namespace's
    counter negative (quotas off); SELECT on quota_limits likewise. Not reported."""
    login = db.cluster.runtime_user
    await owner.execute(
        f'GRANT EXECUTE ON FUNCTION isokron.quota_memory_add_v1(json) TO "{login}"')
    conn = await asyncpg.connect(db.runtime_dsn)
    try:
        await conn.execute("SELECT isokron.quota_memory_add_v1("
                           "'[{\"root_id\": \"victim\", \"namespace\": \"workspace:victim\", "
                           "\"n\": -1000000, \"b\": -1000000000}]')")
    finally:
        await conn.close()
    assert await owner.fetchval("SELECT items FROM isokron.quota_usage "
                                "WHERE key1 = 'victim'") == -1000000
    await _doctor_fails(db, capsys, naming=(
        f"{login} holds EXECUTE on function isokron.quota_memory_add_v1(json)",))


async def test_doctor_misses_column_level_grants(owner, db, capsys):
    """has_table_privilege() answers for table-level grants only: a column grant
    (UPDATE (content) on agent_messages, SELECT (items, bytes) on quota_usage) to
    isokron_runtime is no drift to the doctor."""
    await owner.execute("GRANT UPDATE (content, tool_calls) ON isokron.agent_messages "
                        "TO isokron_runtime; GRANT SELECT (key1, key2, items, bytes) "
                        "ON isokron.quota_usage TO isokron_runtime")
    await _doctor_fails(db, capsys, naming=(
        "isokron_runtime holds UPDATE on column isokron.agent_messages.content",
        "isokron_runtime holds SELECT on column isokron.quota_usage.items"))


async def test_doctor_misses_an_event_trigger(owner, db, capsys):
    """An event trigger runs its function (here in public) on every DDL command, the next
    migration's included, as whoever runs it. pg_event_trigger is not read."""
    await owner.execute("""
        CREATE FUNCTION public.on_ddl() RETURNS event_trigger LANGUAGE plpgsql
        AS $$ BEGIN PERFORM 1; END $$;
        CREATE EVENT TRIGGER watch_ddl ON ddl_command_end EXECUTE FUNCTION public.on_ddl();
    """)
    await _doctor_fails(db, capsys, naming=("event trigger watch_ddl",))


async def test_doctor_misses_default_privileges(owner, db, capsys):
    """ALTER DEFAULT PRIVILEGES in isokron's schema: every table and function the next
    migration creates is open to isokron_runtime (ALL) from birth. pg_default_acl is not
    read, so the doctor is ok today and the next migration silently inherits it."""
    await owner.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA isokron "
                        "GRANT ALL ON TABLES TO isokron_runtime; "
                        "ALTER DEFAULT PRIVILEGES IN SCHEMA isokron "
                        "GRANT EXECUTE ON FUNCTIONS TO isokron_runtime")
    await _doctor_fails(db, capsys, naming=("in isokron on tables", "in isokron on functions"))


async def test_doctor_misses_a_publication_of_every_table(owner, db, capsys):
    """CREATE PUBLICATION ... FOR ALL TABLES streams every tenant's rows (RLS does not
    apply to logical replication) to any subscriber with a replication login."""
    await owner.execute("CREATE PUBLICATION leak FOR ALL TABLES")
    await _doctor_fails(db, capsys, naming=("publication leak (FOR ALL TABLES)",))


async def test_doctor_misses_a_table_handed_to_the_runtime_login(owner, db, capsys):
    """Ownership is never read: ALTER TABLE isokron.memory_records OWNER TO <runtime login>
    changes no has_table_privilege('isokron_runtime', ...) answer, so the doctor is ok; the
    login, as the table's owner, then switches FORCE off, reads every tenant's memories (the
    owner skips RLS without FORCE), switches it back and commits: no trace (it could as
    well disable the quota triggers the same way)."""
    login = db.cluster.runtime_user
    await _plant_memory(owner)
    await owner.execute(f'ALTER TABLE isokron.memory_records OWNER TO "{login}"')
    conn = await asyncpg.connect(db.runtime_dsn)
    try:
        async with conn.transaction():
            await conn.execute("ALTER TABLE isokron.memory_records NO FORCE ROW LEVEL SECURITY")
            leaked = await conn.fetchval("SELECT count(*) FROM isokron.memory_records")
            await conn.execute("ALTER TABLE isokron.memory_records FORCE ROW LEVEL SECURITY")
        assert leaked == 1
    finally:
        await conn.close()
    await _doctor_fails(db, capsys, dsns=(db.dsn, db.runtime_dsn),
                        naming=(f"relation isokron.memory_records is owned by {login}",))


async def test_doctor_misses_a_schema_or_invoker_function_owned_by_the_login(owner, db,
                                                                            capsys):
    """The manifest records no owner for the (many) invoker functions, and schema owners
    are not read: isokron.context_tenant_v1() -- every policy's tenant -- and the schema
    kronicle handed to the runtime login pass the doctor. The login may then ALTER the
    function (SET a tenant, grant or revoke it) and drop or replace anything in kronicle."""
    login = db.cluster.runtime_user
    await owner.execute(f'ALTER FUNCTION isokron.context_tenant_v1() OWNER TO "{login}"; '
                        f'ALTER SCHEMA kronicle OWNER TO "{login}"')
    await _doctor_fails(db, capsys, naming=(
        f"function isokron.context_tenant_v1() is owned by {login}",
        f"schema kronicle is owned by {login}"))


async def test_doctor_misses_bypassrls_on_the_runtime_login(owner, db, capsys):
    """The roles check reads rolsuper / rolbypassrls of the role isokron_runtime only; the
    LOGIN that actually connects (a member of it) may have BYPASSRLS and read every tenant,
    and the doctor -- even run as that very login -- reports "subject to RLS"."""
    login = db.cluster.runtime_user
    await _plant_memory(owner)
    await owner.execute(f'ALTER ROLE "{login}" BYPASSRLS')
    try:
        conn = await asyncpg.connect(db.runtime_dsn)
        try:
            assert await conn.fetchval("SELECT count(*) FROM isokron.memory_records") == 1
        finally:
            await conn.close()
        await _doctor_fails(db, capsys, dsns=(db.dsn, db.runtime_dsn),
                            naming=(f"{login} (BYPASSRLS)",))
    finally:
        await owner.execute(f'ALTER ROLE "{login}" NOBYPASSRLS')


async def test_doctor_misses_a_dropped_foreign_key(owner, db, capsys):
    """Constraints are not in the manifest. Without agent_messages_session_fkey a message
    may name any session id: each phantom session gets its own quota counter, so
    quota_messages_per_session / quota_session_bytes hold per phantom, i.e. not at all,
    and deleting a session leaves its messages behind."""
    await apply_quotas(owner, {"quota_messages_per_session": 1}, A)
    await owner.execute("ALTER TABLE isokron.agent_messages "
                        "DROP CONSTRAINT agent_messages_session_fkey")
    conn = await asyncpg.connect(db.runtime_dsn)
    try:
        for _ in range(5):
            async with conn.transaction():
                await _as(conn, A)
                await conn.execute("INSERT INTO isokron.agent_messages (session_id, seq, role, "
                                   "content, tenant_id, user_id) VALUES (gen_random_uuid(), 1, "
                                   "'user', 'x', $1, 'u')", A)
    finally:
        await conn.close()
    await _doctor_fails(db, capsys, naming=(
        "constraint isokron.agent_messages.agent_messages_session_fkey is missing",))


async def test_doctor_misses_a_database_default_tenant(owner, db, capsys):
    """ALTER DATABASE ... SET app.current_tenant_id / app.current_workspace_id makes every
    connection that forgets to set its context (a bug, a pooled connection reset) act as
    that tenant instead of seeing nothing. pg_db_role_setting is not read."""
    await owner.execute(f'ALTER DATABASE "{db.name}" SET app.current_tenant_id = \'{A}\'; '
                        f'ALTER DATABASE "{db.name}" SET app.current_user_id = \'u\'')
    await _doctor_fails(db, capsys, naming=(
        f"database {db.name}: app.current_tenant_id={A}",))


async def test_quota_counter_lock_lets_one_sibling_block_every_team_write(owner, db,
                                                                          runtime_pool):
    """The counter row of team:<parent> is locked from a writer's INSERT until its commit:
    ws_1 inserts one team memory and keeps its transaction open; every other workspace's
    write to the team namespace now waits (here: lock_timeout). Before 0028 these inserts
    did not conflict at all.

    Not fixed (BUILD_DEVIATIONS.md, D-quota-shared-namespace): asserted is what is bounded.
    The wait lasts only as long as the holder's transaction (which the deployment's
    idle_in_transaction_session_timeout cuts off, README), it touches only the shared
    namespace's counter (ws_2's own namespace is not blocked), and once the holder ends
    ws_2's team write goes through."""
    for ws, parent in (("org_l", None), ("ws_1", "org_l"), ("ws_2", "org_l")):
        await owner.execute("INSERT INTO isokron.workspaces (workspace_id, parent_id) "
                            "VALUES ($1, $2)", ws, parent)
    await NamespaceMemory(runtime_pool).commit("ws_1", "first", namespace="team:org_l")
    await NamespaceMemory(runtime_pool).commit("ws_2", "own", namespace="workspace:ws_2")
    holder = await asyncpg.connect(db.runtime_dsn)
    victim = await asyncpg.connect(db.runtime_dsn)
    team = ("INSERT INTO isokron.memory_records (root_id, namespace, content) "
            "VALUES ('org_l', 'team:org_l', $1)")
    try:
        tx = holder.transaction()
        await tx.start()
        await _as(holder, "x", workspace="ws_1")
        await holder.execute(team, "held open")
        with pytest.raises(asyncpg.LockNotAvailableError):  # the documented wait
            async with victim.transaction():
                await _as(victim, "y", workspace="ws_2")
                await victim.execute("SET LOCAL lock_timeout = '300ms'")
                await victim.execute(team, "ws_2 writes")
        async with victim.transaction():  # not the shared counter: no wait
            await _as(victim, "y", workspace="ws_2")
            await victim.execute("SET LOCAL lock_timeout = '300ms'")
            await victim.execute("INSERT INTO isokron.memory_records (root_id, namespace, "
                                 "content) VALUES ('org_l', 'workspace:ws_2', 'own write')")
        await tx.rollback()
        async with victim.transaction():  # the holder gone, the team write goes through
            await _as(victim, "y", workspace="ws_2")
            await victim.execute("SET LOCAL lock_timeout = '300ms'")
            await victim.execute(team, "ws_2 writes")
    finally:
        await holder.close()
        await victim.close()


async def test_quota_chain_events_are_unbounded_and_can_never_be_freed(owner, attacker):
    """No quota covers hivex_foundation.append_event_v1 (nor agent_episodic_events.body,
    memory_namespaces.metadata, memory_audit rows): with every quota of the workspace at
    its minimum, the runtime role appends 3 x 2 MB events. The log is append-only (DELETE
    and TRUNCATE refused to everyone but a superuser who disables the trigger), so the
    tenant cannot even free what it filled."""
    await seed_demo_workspace(owner, "org_demo")
    await apply_quotas(owner, {"quota_message_bytes": 1, "quota_session_bytes": 1,
                               "quota_memory_bytes": 1, "quota_memory_rows": 1}, "org_demo")
    blob = json.dumps({"blob": "x" * 2_000_000})
    with pytest.raises(asyncpg.PostgresError) as refused:
        for _ in range(3):
            async with attacker.transaction():
                await _as(attacker, "t", workspace="org_demo")
                await attacker.fetchval(
                    "SELECT hivex_foundation.append_event_v1($1, 'kora.junk.appended', "
                    "$2::text::jsonb, NULL)", "org_demo", blob)
    assert refused.value.sqlstate == "IKQ01"
