"""Attack every isokron table with raw SQL as a LOGIN member of isokron_runtime.

The tables come from the catalog, so a new table without ENABLE + FORCE row-level
security (or without an attack spec here) fails this file.
"""

from __future__ import annotations

import uuid

import asyncpg
import attrs
import pytest

from isokron.testing.seed import seed_demo_workspace

A, B = "org_a", "org_b"
SESSION_A, SESSION_B = uuid.uuid4(), uuid.uuid4()

#: Tables that hold no tenant data: the runtime role must have no privilege on them at all.
NO_TENANT_DATA = {"schema_migrations", "context_keys", "quota_limits"}


@attrs.frozen
class Spec:
    """How to recognise tenant ``{ws}``'s rows, change them, and forge one of them."""

    rows: str  # a predicate selecting {ws}'s rows
    change: str  # a SET clause
    forge: str  # an INSERT of a row labelled {ws}


#: tables with tenant data the runtime role may not touch at all, not even its own rows
#: (recall statistics: read only through recall_weights_v1, for the caller's corpora)
CLOSED: dict[str, Spec] = {
    "recall_lexicon": Spec(
        "key1 = '{ws}'", "df = 99",
        "INSERT INTO isokron.recall_lexicon (source, key1, key2, lexeme, df) "
        "VALUES ('s', '{ws}', 'u', 'forged', 1)"),
    "recall_corpora": Spec(
        "key1 = '{ws}'", "docs = 99",
        "INSERT INTO isokron.recall_corpora (source, key1, key2, docs, avg_len) "
        "VALUES ('s', '{ws}', 'forged', 1, 1)"),
    # quota counters: kept by the schema's triggers only (a reset would lift a quota)
    "quota_usage": Spec(
        "key1 = '{ws}'", "items = 0, bytes = 0",
        "INSERT INTO isokron.quota_usage (scope, key1, key2, items) "
        "VALUES ('user', '{ws}', 'forged', -1000)"),
    # erasure receipts: written by the erase functions only, a chain nobody may rewrite
    "erasure_receipts": Spec(
        "workspace_id = '{ws}'", "hash = 'forged'",
        "INSERT INTO isokron.erasure_receipts (seq, workspace_id, subject, salt, counts, "
        "session_ids, memory_ids, operator, erased_at, hash) VALUES (1, '{ws}', 's', 's', "
        "'{{}}', '{{}}', '{{}}', 'forged', now(), 'forged')"),
}

SPECS: dict[str, Spec] = {
    "agent_episodic_events": Spec(
        "workspace_id = '{ws}'", "event_type = 'tampered'",
        "INSERT INTO isokron.agent_episodic_events (workspace_id, agent_id, event_type) "
        "VALUES ('{ws}', '{agent}', 'forged')"),
    "delegations": Spec(
        "workspace_id = '{ws}'", "status = 'queued', result_preview = 'tampered'",
        "INSERT INTO isokron.delegations (delegation_id, workspace_id, caller_id, callee_id, "
        "task_preview) VALUES ('forged', '{ws}', gen_random_uuid(), gen_random_uuid(), 't')"),
    "workspaces": Spec(
        "workspace_id = '{ws}'", "display_name = 'tampered'",
        "INSERT INTO isokron.workspaces (workspace_id, parent_id) VALUES ('{ws}_x', '{ws}')"),
    "memory_namespaces": Spec(
        "name IN ('workspace:{ws}', 'team:{ws}', 'org:{ws}')", "expires_at = now()",
        "INSERT INTO isokron.memory_namespaces (name, kind) VALUES ('workspace:{ws}', "
        "'workspace')"),
    "memory_records": Spec(
        "namespace IN ('workspace:{ws}', 'team:{ws}', 'org:{ws}')", "content = 'tampered'",
        "INSERT INTO isokron.memory_records (namespace, content) VALUES ('org:{ws}', 'forged')"),
    "memory_audit": Spec(
        "workspace_id = '{ws}'", "action = 'tampered'",
        "INSERT INTO isokron.memory_audit (workspace_id, namespace, action) "
        "VALUES ('{ws}', 'org:{ws}', 'forged')"),
    "agent_sessions": Spec(
        "tenant_id = '{ws}'", "title = 'tampered'",
        "INSERT INTO isokron.agent_sessions (id, tenant_id, user_id, agent_name) "
        "VALUES (gen_random_uuid(), '{ws}', 'u', 'forged')"),
    "agent_messages": Spec(
        "tenant_id = '{ws}'", "content = 'tampered'",
        "INSERT INTO isokron.agent_messages (id, session_id, seq, role, content, tenant_id, "
        "user_id) VALUES (gen_random_uuid(), '{session}', 99, 'user', 'forged', '{ws}', 'u')"),
}


def _sql(template: str, ws: str, world: dict[str, str]) -> str:
    return template.format(ws=ws, agent=world[f"agent_{ws}"], session=world[f"session_{ws}"])


async def _seed_rows(owner: asyncpg.Connection, ws: str, session: uuid.UUID) -> str:
    """Give ``ws`` at least one row in every isokron table; return its kora actor id."""
    seed = await seed_demo_workspace(owner, ws)
    agent = seed.actors["kora"]
    await owner.execute(
        "INSERT INTO isokron.agent_episodic_events (workspace_id, agent_id, event_type) "
        "VALUES ($1, $2::uuid, 'turn')", ws, agent)
    await owner.execute(
        "INSERT INTO isokron.delegations (delegation_id, workspace_id, caller_id, callee_id, "
        "task_preview) VALUES ('task-17', $1, $2::uuid, gen_random_uuid(), 'secret task')",
        ws, agent)
    for kind in ("workspace", "team", "org"):
        name = f"{kind}:{ws}"
        await owner.execute(
            "INSERT INTO isokron.memory_namespaces (name, kind) VALUES ($1, $2)", name, kind)
        await owner.execute(
            "INSERT INTO isokron.memory_records (namespace, content) VALUES ($1, $2)",
            name, f"{ws} private fact")
    await owner.execute(
        "INSERT INTO isokron.memory_audit (workspace_id, namespace, action) "
        "VALUES ($1, $2, 'commit')", ws, f"org:{ws}")
    await owner.execute(
        "INSERT INTO isokron.agent_sessions (id, tenant_id, user_id, agent_name) "
        "VALUES ($1, $2, 'u', 'kora')", session, ws)
    await owner.execute(
        "INSERT INTO isokron.agent_messages (id, session_id, seq, role, content, tenant_id, "
        "user_id) VALUES (gen_random_uuid(), $1, 1, 'user', 'hello', $2, 'u')", session, ws)
    # recall statistics of the user's messages and the workspace's private namespace
    await owner.execute("SELECT isokron.refresh_recall_corpus_v1('s', $1, 'u')", ws)
    await owner.execute("SELECT isokron.refresh_recall_corpus_v1('m', $1, $2)", ws,
                        f"workspace:{ws}")
    await owner.execute(
        "INSERT INTO isokron.erasure_receipts (seq, workspace_id, subject, salt, counts, "
        "session_ids, memory_ids, operator, erased_at, hash) SELECT coalesce(max(seq), 0) + 1, "
        "$1, 's', 's', '{}', '{}', '{}', 'operator', now(), 'h' FROM isokron.erasure_receipts",
        ws)
    return agent


@pytest.fixture
async def world(owner):
    """Two tenants with rows in every isokron table."""
    return {
        f"agent_{A}": await _seed_rows(owner, A, SESSION_A),
        f"agent_{B}": await _seed_rows(owner, B, SESSION_B),
        f"session_{A}": str(SESSION_A),
        f"session_{B}": str(SESSION_B),
    }


async def _isokron_tables(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
        "WHERE relnamespace = 'isokron'::regnamespace AND relkind IN ('r', 'p') ORDER BY 1")


async def _fingerprint(owner: asyncpg.Connection, table: str) -> str:
    return await owner.fetchval(
        f"SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') "
        f"FROM isokron.{table} t")


async def _scope(conn: asyncpg.Connection, ws: str | None) -> None:
    if ws is not None:
        await conn.execute(
            "SELECT set_config('app.current_workspace_id', $1, true), "
            "set_config('app.current_tenant_id', $1, true), "
            "set_config('app.current_user_id', 'u', true)", ws)


async def _changed(conn: asyncpg.Connection, sql: str, ws: str | None) -> int:
    """Run ``sql`` in a transaction scoped to ``ws``; rows changed, 0 if refused outright."""
    try:
        async with conn.transaction():
            await _scope(conn, ws)
            status = await conn.execute(sql)
    except asyncpg.InsufficientPrivilegeError:
        return 0
    return int(status.rsplit(" ", 1)[-1])


async def _visible(conn: asyncpg.Connection, sql: str, ws: str | None) -> int:
    try:
        async with conn.transaction():
            await _scope(conn, ws)
            return int(await conn.fetchval(sql))
    except asyncpg.InsufficientPrivilegeError:
        return 0


async def test_every_isokron_table_has_rls_enabled_and_forced_and_an_attack_spec(owner):
    """From the catalog: each table forces RLS (or holds no tenant data) and is attacked here."""
    tables = await _isokron_tables(owner)
    assert len(tables) >= len(SPECS) + len(NO_TENANT_DATA)
    for t in tables:
        name = t["relname"]
        if name in NO_TENANT_DATA:
            continue
        assert t["relrowsecurity"] and t["relforcerowsecurity"], f"isokron.{name} lacks RLS"
        assert name in SPECS or name in CLOSED, f"isokron.{name} has no attack spec in this file"


async def test_tables_without_tenant_data_grant_the_runtime_role_nothing(owner):
    """schema_migrations: every verb is refused to the runtime role."""
    for name in NO_TENANT_DATA:
        privileges = await owner.fetch(
            "SELECT p FROM unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE',"
            "'REFERENCES','TRIGGER']) p WHERE has_table_privilege('isokron_runtime', "
            "$1::regclass, p)", f"isokron.{name}")
        assert privileges == [], name


async def test_without_a_setting_the_runtime_role_sees_and_changes_nothing(owner, attacker, world):
    """No setting: SELECT finds 0 rows; UPDATE, DELETE and INSERT change nothing anywhere."""
    for t in await _isokron_tables(owner):
        table = t["relname"]
        if table in NO_TENANT_DATA:
            continue  # no privilege at all (test_tables_without_tenant_data_…)
        before = await _fingerprint(owner, table)
        assert await owner.fetchval(f"SELECT count(*) FROM isokron.{table}") > 0, table
        assert await _visible(attacker, f"SELECT count(*) FROM isokron.{table}", None) == 0, table
        spec = SPECS.get(table) or CLOSED.get(table)
        if spec is not None:
            assert await _changed(attacker, f"UPDATE isokron.{table} SET {spec.change}", None) == 0
            assert await _changed(attacker, f"DELETE FROM isokron.{table}", None) == 0, table
            for ws in (A, B):
                assert await _changed(attacker, _sql(spec.forge, ws, world), None) == 0, table
        assert await _fingerprint(owner, table) == before, table


async def test_workspace_a_cannot_see_change_delete_or_forge_b_rows(owner, attacker, world):
    """With A's setting: A sees its own rows, none of B's, and cannot touch or forge B's."""
    for table, spec in SPECS.items():
        mine, theirs = _sql(spec.rows, A, world), _sql(spec.rows, B, world)
        before = await _fingerprint(owner, table)
        assert await owner.fetchval(f"SELECT count(*) FROM isokron.{table} WHERE {theirs}") > 0
        assert await _visible(
            attacker, f"SELECT count(*) FROM isokron.{table} WHERE {mine}", A) > 0, table
        assert await _visible(
            attacker, f"SELECT count(*) FROM isokron.{table} WHERE {theirs}", A) == 0, table
        assert await _changed(
            attacker, f"UPDATE isokron.{table} SET {spec.change} WHERE {theirs}", A) == 0, table
        assert await _changed(
            attacker, f"DELETE FROM isokron.{table} WHERE {theirs}", A) == 0, table
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with attacker.transaction():
                await _scope(attacker, A)
                await attacker.execute(_sql(spec.forge, B, world))
        assert await _fingerprint(owner, table) == before, table


async def test_closed_tables_refuse_every_verb_even_for_own_rows(owner, attacker, world):
    """Recall statistics: with A's settings the runtime role reads, changes and forges none
    of A's rows or B's."""
    for table, spec in CLOSED.items():
        before = await _fingerprint(owner, table)
        for ws in (A, B):
            rows = _sql(spec.rows, ws, world)
            assert await owner.fetchval(f"SELECT count(*) FROM isokron.{table} WHERE {rows}") > 0
            assert await _visible(
                attacker, f"SELECT count(*) FROM isokron.{table} WHERE {rows}", A) == 0, table
            assert await _changed(
                attacker, f"UPDATE isokron.{table} SET {spec.change} WHERE {rows}", A) == 0
            assert await _changed(attacker, f"DELETE FROM isokron.{table} WHERE {rows}", A) == 0
            assert await _changed(attacker, _sql(spec.forge, ws, world), A) == 0, table
        privileges = await owner.fetch(
            "SELECT p FROM unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE',"
            "'REFERENCES','TRIGGER']) p WHERE has_table_privilege('isokron_runtime', "
            "$1::regclass, p)", f"isokron.{table}")
        assert privileges == [], table
        assert await _fingerprint(owner, table) == before, table


async def test_the_runtime_role_cannot_switch_rls_off(attacker, world):
    """row_security=off, DISABLE/NO FORCE and SET ROLE to the definer role are all refused."""
    await attacker.execute("SET row_security = off")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        await attacker.fetchval("SELECT count(*) FROM isokron.delegations")
    await attacker.execute("RESET row_security")
    for verb in ("DISABLE ROW LEVEL SECURITY", "NO FORCE ROW LEVEL SECURITY"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="owner"):
            await attacker.execute(f"ALTER TABLE isokron.delegations {verb}")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await attacker.execute("SET ROLE isokron_definer")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await attacker.execute("DROP POLICY delegations_select ON isokron.delegations")


async def test_a_forged_event_for_another_workspaces_agent_is_rejected_by_the_schema(
        owner, attacker, world):
    """A labels an event with its own workspace but B's agent: the composite FK refuses it."""
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        async with attacker.transaction():
            await _scope(attacker, A)
            await attacker.execute(
                "INSERT INTO isokron.agent_episodic_events (workspace_id, agent_id, event_type) "
                "VALUES ($1, $2::uuid, 'forged')", A, world[f"agent_{B}"])
    assert await owner.fetchval(
        "SELECT count(*) FROM isokron.agent_episodic_events WHERE event_type = 'forged'") == 0
