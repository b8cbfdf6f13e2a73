"""Pin the substrate's schema contract (isokron/schema/0001_substrate.sql) against a real
PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from isokron.ops.doctor import RLS_TABLES
from isokron.schema import available_migrations, migrate
from isokron.testing.seed import seed_demo_workspace

EXPECTED_COLUMNS: dict[str, dict[str, str]] = {
    "public.actor_registry": {
        "actor_id": "uuid", "workspace_id": "text", "actor_kind": "text",
        "display_name": "text", "created_at": "timestamp with time zone",
    },
    "public.kora_role_charter": {
        "id": "uuid", "workspace_id": "text", "schema_version": "text", "content_md": "text",
        "content_jsonb": "jsonb", "content_hash": "text",
        "created_at": "timestamp with time zone", "superseded_at": "timestamp with time zone",
    },
    "public.kora_policy_registry": {
        "workspace_id": "text", "policy_path": "text", "policy_value": "jsonb",
        "updated_at": "timestamp with time zone",
    },
    "public.actor_capability_matrix": {
        "cap_name": "text", "actor_kind": "text", "granted": "boolean",
    },
    "kronicle.agent_scratchpad_entries": {
        "scratchpad_entry_id": "uuid", "workspace_id": "text", "actor_id": "uuid",
        "scratchpad_kind": "kronicle.scratchpad_kind",
        "visibility_scope": "kronicle.scratchpad_visibility_scope",
        "content_inline": "text", "content_uri": "text", "content_hash": "text",
        "status": "text", "approved_event_id": "uuid", "created_at": "timestamp with time zone",
    },
    "hivex_foundation.tenant": {
        "tenant_id": "uuid", "clerk_org_id": "text", "display_name": "text",
        "created_at": "timestamp with time zone",
    },
    "hivex_foundation.event_log": {
        "event_id": "uuid", "tenant_id": "uuid", "seq": "bigint", "event_type": "text",
        "payload": "jsonb", "actor_id": "uuid", "occurred_at": "timestamp with time zone",
        "prev_event_hash": "text", "this_event_hash": "text",
    },
    "kronicle.workspace_constitution_revisions": {
        "revision_id": "uuid", "workspace_id": "text", "revision_number": "integer",
        "rules_jsonb": "jsonb", "rules_hash": "bytea", "created_at": "timestamp with time zone",
    },
    "isokron.agent_episodic_events": {
        "id": "uuid", "workspace_id": "text", "agent_id": "uuid", "created_at": "timestamp with time zone",
        "event_type": "character varying(64)", "sender": "character varying(128)",
        "recipient": "character varying(128)", "body": "jsonb",
        "inference_receipt_id": "character varying(64)",
        "audit_event_hash": "character varying(64)",
    },
    "isokron.delegations": {
        "delegation_id": "text", "workspace_id": "text", "caller_id": "uuid",
        "callee_id": "uuid", "task_preview": "text", "status": "text",
        "last_heartbeat": "timestamp with time zone", "deadline": "timestamp with time zone",
        "result_preview": "text", "error_detail": "text", "retry_count": "integer",
        "idempotency_key": "text", "created_at": "timestamp with time zone",
        "updated_at": "timestamp with time zone",
    },
    "isokron.workspaces": {
        "workspace_id": "text", "parent_id": "text", "display_name": "text", "status": "text",
    },
    "isokron.memory_namespaces": {
        "name": "text", "kind": "text", "expires_at": "timestamp with time zone",
        "metadata": "jsonb", "created_at": "timestamp with time zone",
    },
    "isokron.memory_records": {
        "id": "uuid", "namespace": "text", "content": "text", "kind": "text", "source": "text",
        "pin": "boolean", "expires_at": "timestamp with time zone", "metadata": "jsonb",
        "search_tsv": "tsvector", "created_at": "timestamp with time zone",
        "updated_at": "timestamp with time zone",
    },
    "isokron.memory_audit": {
        "id": "bigint", "memory_id": "uuid", "namespace": "text", "workspace_id": "text",
        "action": "text", "content_sha256": "text", "created_at": "timestamp with time zone",
    },
    "isokron.agent_sessions": {
        "id": "uuid", "tenant_id": "text", "user_id": "text", "agent_name": "text",
        "title": "text", "state": "jsonb", "created_at": "timestamp with time zone",
        "updated_at": "timestamp with time zone",
    },
    "isokron.agent_messages": {
        "id": "uuid", "session_id": "uuid", "seq": "integer", "role": "text",
        "content": "text", "tool_calls": "jsonb", "tenant_id": "text", "user_id": "text",
        "created_at": "timestamp with time zone",
    },
}

# (table, a fragment of the index definition that must exist)
EXPECTED_INDEXES: list[tuple[str, str]] = [
    ("public.kora_role_charter", "UNIQUE INDEX"),
    ("public.kora_role_charter", "WHERE (superseded_at IS NULL)"),
    ("hivex_foundation.event_log", "(tenant_id, seq)"),
    ("isokron.agent_episodic_events", "(agent_id, created_at DESC, seq DESC)"),
    ("isokron.agent_episodic_events", "(agent_id, event_type, created_at DESC, seq DESC)"),
    ("isokron.delegations", "(last_heartbeat NULLS FIRST) WHERE"),
    ("isokron.delegations", "(workspace_id, delegation_id)"),
    ("isokron.delegations",
     "(workspace_id, caller_id, idempotency_key) WHERE (idempotency_key IS NOT NULL)"),
    ("isokron.delegations", "(caller_id, created_at DESC)"),
    ("isokron.delegations", "(callee_id, created_at DESC)"),
    ("isokron.memory_records", "USING gin (search_tsv)"),
    ("isokron.agent_sessions", "(tenant_id, user_id, id)"),
    ("isokron.agent_messages", "(tenant_id, user_id, id)"),
    ("isokron.agent_messages", "(tenant_id, user_id, session_id, seq)"),
    ("kronicle.workspace_constitution_revisions", "(workspace_id, revision_number)"),
    ("public.actor_registry", "(workspace_id, actor_kind, display_name)"),
]


async def test_migrate_twice_applies_nothing_the_second_time(empty_db):
    """A second migrate is a no-op that returns no names."""
    first = await migrate(empty_db.dsn)
    second = await migrate(empty_db.dsn)
    assert first == [name for name, _ in available_migrations()]
    assert second == []


async def test_concurrent_migrates_apply_the_schema_once(empty_db):
    """Two migrates at once both succeed and each migration is recorded once."""
    a, b = await asyncio.gather(migrate(empty_db.dsn), migrate(empty_db.dsn))
    names = [name for name, _ in available_migrations()]
    assert sorted(a + b) == sorted(names)
    conn = await asyncpg.connect(empty_db.dsn)
    try:
        rows = await conn.fetch("SELECT name FROM isokron.schema_migrations ORDER BY name")
    finally:
        await conn.close()
    assert [r["name"] for r in rows] == names


async def test_catalog_has_every_table_and_column_with_its_type(owner):
    """Every table and column of the substrate's contract exists with the documented type."""
    for table, columns in EXPECTED_COLUMNS.items():
        rows = await owner.fetch(
            "SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute "
            "WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
            table,
        )
        actual = {r["attname"]: r["type"] for r in rows}
        for column, expected_type in columns.items():
            assert actual.get(column) == expected_type, f"{table}.{column}"


async def test_catalog_has_the_listed_indexes(owner):
    """The minimum indexes of the substrate's contract exist."""
    for table, fragment in EXPECTED_INDEXES:
        defs = await owner.fetch(
            "SELECT indexdef FROM pg_indexes WHERE schemaname || '.' || tablename = $1", table
        )
        assert any(fragment in r["indexdef"] for r in defs), (table, fragment)


async def test_rls_enabled_and_forced_on_every_rls_table(owner):
    """Each RLS table has row-level security both enabled and forced."""
    for table in RLS_TABLES:
        row = await owner.fetchrow(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = to_regclass($1)",
            table,
        )
        assert row is not None and row["relrowsecurity"] and row["relforcerowsecurity"], table


async def test_runtime_role_exists_and_cannot_log_in(owner):
    """isokron_runtime is a NOLOGIN group role that does not bypass RLS."""
    row = await owner.fetchrow(
        "SELECT rolcanlogin, rolbypassrls, rolsuper FROM pg_roles WHERE rolname='isokron_runtime'"
    )
    assert row is not None
    assert (row["rolcanlogin"], row["rolbypassrls"], row["rolsuper"]) == (False, False, False)


async def test_policy_read_needs_the_workspace_guc(owner, db):
    """As the runtime role: no GUC -> 0 rows; with it -> only that workspace's rows."""
    await seed_demo_workspace(owner, "org_a")
    await seed_demo_workspace(owner, "org_b")
    conn = await asyncpg.connect(db.runtime_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM public.kora_policy_registry") == 0
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.current_workspace_id', 'org_a', true)")
            rows = await conn.fetch("SELECT DISTINCT workspace_id FROM public.kora_policy_registry")
            count = await conn.fetchval("SELECT count(*) FROM public.kora_policy_registry")
        assert [r["workspace_id"] for r in rows] == ["org_a"]
        assert count == 31
    finally:
        await conn.close()


async def test_runtime_role_cannot_write_substrate_tables(owner, db):
    """INSERT into a substrate table and UPDATE/DELETE on event_log are refused."""
    await seed_demo_workspace(owner, "org_a")
    conn = await asyncpg.connect(db.runtime_dsn)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(
                "INSERT INTO public.actor_registry (workspace_id, actor_kind, display_name) "
                "VALUES ('org_a', 'rogue', 'Rogue')"
            )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE hivex_foundation.event_log SET payload = '{}'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM hivex_foundation.event_log")
    finally:
        await conn.close()
    count = await owner.fetchval("SELECT count(*) FROM hivex_foundation.event_log")
    assert count == 20


async def test_event_log_trigger_refuses_even_the_owner(owner):
    """The append-only trigger stops UPDATE and DELETE by the table owner too."""
    await seed_demo_workspace(owner, "org_a")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await owner.execute("UPDATE hivex_foundation.event_log SET event_type = 'x.y'")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await owner.execute("DELETE FROM hivex_foundation.event_log")


async def test_fifty_concurrent_appends_give_gap_free_chain(owner, db):
    """50 concurrent append_event_v1 calls -> seq 1..50 and an intact chain; tampering is found."""
    await owner.execute(
        "INSERT INTO hivex_foundation.tenant (clerk_org_id) VALUES ('org_chain')"
    )
    pool = await asyncpg.create_pool(db.runtime_dsn, min_size=10, max_size=10)
    assert pool is not None

    async def append(n: int) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT set_config('app.current_workspace_id', 'org_chain', true)")
            await conn.execute(
                "SELECT hivex_foundation.append_event_v1('org_chain', 'kora.test.appended', "
                "$1::text::jsonb, NULL)", json.dumps({"n": n}))

    try:
        await asyncio.gather(*(append(i) for i in range(50)))
    finally:
        await pool.close()
    seqs = [r["seq"] for r in await owner.fetch(
        "SELECT seq FROM hivex_foundation.event_log ORDER BY seq")]
    assert seqs == list(range(1, 51))
    assert await owner.fetchval("SELECT hivex_foundation.verify_chain_v1('org_chain')") is None

    await owner.execute("ALTER TABLE hivex_foundation.event_log DISABLE TRIGGER event_log_append_only")
    await owner.execute(
        "UPDATE hivex_foundation.event_log SET payload = '{\"n\": -1}' WHERE seq = 17"
    )
    await owner.execute("ALTER TABLE hivex_foundation.event_log ENABLE TRIGGER event_log_append_only")
    assert await owner.fetchval("SELECT hivex_foundation.verify_chain_v1('org_chain')") == 17


async def test_append_event_rejects_a_malformed_event_type(owner):
    """append_event_v1 refuses an event_type without a dotted lower-case name."""
    await owner.execute("INSERT INTO hivex_foundation.tenant (clerk_org_id) VALUES ('org_x')")
    for bad in ("kora", "Kora.x", "kora..x", "kora.x-y", ""):
        with pytest.raises(asyncpg.InvalidParameterValueError):
            async with owner.transaction():
                await owner.execute("SELECT set_config('app.current_workspace_id', 'org_x', true)")
                await owner.execute(
                    "SELECT hivex_foundation.append_event_v1('org_x', $1, '{}'::jsonb, NULL)", bad
                )
    assert await owner.fetchval("SELECT count(*) FROM hivex_foundation.event_log") == 0


async def test_seed_writes_a_complete_demo_workspace(owner):
    """The demo seed has the documented shape: 31 policies, >=48 kora caps, 2 revisions."""
    summary = await seed_demo_workspace(owner, "org_demo")
    assert summary.policies == 31
    kora_caps = await owner.fetch(
        "SELECT granted FROM public.actor_capability_matrix WHERE actor_kind = 'kora'"
    )
    assert len(kora_caps) >= 48
    assert {r["granted"] for r in kora_caps} == {True, False}
    kinds = await owner.fetch(
        "SELECT DISTINCT split_part(event_type, '.', 1) AS k FROM hivex_foundation.event_log"
    )
    assert {r["k"] for r in kinds} == {"kora", "sea", "claude_pm"}
    assert await owner.fetchval("SELECT hivex_foundation.verify_chain_v1('org_demo')") is None
    uri = await owner.fetchval(
        "SELECT count(*) FROM kronicle.agent_scratchpad_entries WHERE content_uri IS NOT NULL"
    )
    assert uri == 1
