"""Pin `isokron doctor` and `isokron migrate` against a real database."""

from __future__ import annotations

import asyncio

from isokron.ops.cli import main
from isokron.testing.seed import seed_demo_workspace


async def test_doctor_passes_on_the_demo_database(owner, db, capsys):
    """A seeded, migrated database is healthy: exit 0."""
    await seed_demo_workspace(owner, "org_demo")
    code = await asyncio.to_thread(main, ["doctor", "--dsn", db.dsn])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "doctor: healthy" in out


async def test_doctor_fails_when_rls_is_disabled_on_one_table(owner, db, capsys):
    """Disabling RLS on one table makes doctor exit 1 and name the table."""
    await seed_demo_workspace(owner, "org_demo")
    await owner.execute("ALTER TABLE public.kora_policy_registry DISABLE ROW LEVEL SECURITY")
    code = await asyncio.to_thread(main, ["doctor", "--dsn", db.dsn])
    out = capsys.readouterr().out
    assert code == 1
    assert "[FAIL] rls public.kora_policy_registry: row-level security not enabled" in out


async def test_doctor_fails_when_rls_is_not_forced(owner, db, capsys):
    """NO FORCE on one table is reported as a failure too."""
    await owner.execute("ALTER TABLE isokron.agent_messages NO FORCE ROW LEVEL SECURITY")
    code = await asyncio.to_thread(main, ["doctor", "--dsn", db.dsn])
    assert code == 1
    assert "isokron.agent_messages: row-level security not forced" in capsys.readouterr().out


async def test_doctor_reports_a_broken_chain(owner, db, capsys):
    """A tampered event makes doctor fail with the workspace and seq."""
    await seed_demo_workspace(owner, "org_demo")
    await owner.execute("ALTER TABLE hivex_foundation.event_log DISABLE TRIGGER event_log_append_only")
    await owner.execute("UPDATE hivex_foundation.event_log SET event_type = 'kora.forged' WHERE seq = 4")
    code = await asyncio.to_thread(main, ["doctor", "--dsn", db.dsn])
    assert code == 1
    assert "org_demo at seq 4" in capsys.readouterr().out


async def test_doctor_fails_on_an_unmigrated_database(empty_db, capsys):
    """An empty database is reported as not migrated."""
    code = await asyncio.to_thread(main, ["doctor", "--dsn", empty_db.dsn])
    assert code == 1
    assert "not migrated" in capsys.readouterr().out


async def test_migrate_command_reads_isokron_dsn(empty_db, monkeypatch, capsys):
    """`isokron migrate` takes its DSN from ISOKRON_DSN and is idempotent."""
    monkeypatch.setenv("ISOKRON_DSN", empty_db.dsn)
    assert await asyncio.to_thread(main, ["migrate"]) == 0
    assert "applied: 0001_substrate, 0002_isokron_stores, 0003_memory_embeddings" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["migrate"]) == 0
    assert "schema is up to date" in capsys.readouterr().out


async def test_doctor_as_the_runtime_role_checks_every_table_and_the_grants(owner, db, capsys):
    """Run as the runtime login: RLS on every isokron table and exactly the documented grants."""
    await seed_demo_workspace(owner, "org_demo")
    code = await asyncio.to_thread(main, ["doctor", "--dsn", db.runtime_dsn])
    out = capsys.readouterr().out
    assert code == 0, out
    tables = await owner.fetch(
        "SELECT relname FROM pg_class WHERE relnamespace = 'isokron'::regnamespace "
        "AND relkind = 'r' AND relname <> 'schema_migrations'")
    for t in tables:
        assert f"[ok  ] rls isokron.{t['relname']}: enabled and forced" in out
    for table in ("hivex_foundation.event_log", "hivex_foundation.tenant",
                  "public.actor_registry", "public.kora_role_charter",
                  "public.actor_capability_matrix"):
        assert f"[ok  ] rls {table}: enabled and forced" in out
    assert "[ok  ] runtime grants: isokron_runtime holds exactly the documented grants" in out
    assert "[ok  ] definer owners: " in out
    assert "[ok  ] tenant context: every policy and function reads" in out
    assert "[ok  ] context signing: no context key" in out


async def test_doctor_fails_on_a_definer_owned_by_a_superuser_or_a_plain_reader(owner, db,
                                                                                capsys):
    """A SECURITY DEFINER function handed to the superuser (it would bypass every policy)
    and a policy that reads app.current_workspace_id itself are both named."""
    await owner.execute("ALTER FUNCTION hivex_foundation.append_event_v1(text, text, jsonb, "
                        "uuid) OWNER TO CURRENT_USER")
    await owner.execute("CREATE POLICY rogue ON isokron.delegations FOR SELECT USING "
                        "(workspace_id = current_setting('app.current_workspace_id', true))")
    for dsn in (db.dsn, db.runtime_dsn):
        assert await asyncio.to_thread(main, ["doctor", "--dsn", dsn]) == 1
        out = capsys.readouterr().out
        assert "[FAIL] definer owners: SECURITY DEFINER functions owned by a role that " \
               "bypasses RLS or logs in: hivex_foundation.append_event_v1(text,text,jsonb," \
               "uuid)" in out
        assert "[FAIL] tenant context: read the plain settings, not the context: " \
               "rogue on isokron.delegations" in out


async def test_doctor_says_when_signed_contexts_are_required(owner, db, capsys):
    from isokron.db.context_keys import install_context_key

    await install_context_key(owner, "doctor-" + "k" * 40)
    assert await asyncio.to_thread(main, ["doctor", "--dsn", db.runtime_dsn]) == 0
    assert "[ok  ] context signing: a context key is installed: only signed contexts " \
           "count" in capsys.readouterr().out


async def test_doctor_fails_on_an_undocumented_runtime_grant(owner, db, capsys):
    """DELETE on the append-only episodic table is reported, naming privilege and table."""
    await owner.execute("GRANT DELETE ON isokron.agent_episodic_events TO isokron_runtime")
    try:
        code = await asyncio.to_thread(main, ["doctor", "--dsn", db.dsn])
    finally:
        # Roles are cluster-wide; the grant lives in this test's database only, but revoke
        # it anyway so nothing leaks into a shared server.
        await owner.execute("REVOKE DELETE ON isokron.agent_episodic_events FROM isokron_runtime")
    out = capsys.readouterr().out
    assert code == 1
    assert "undocumented grants: DELETE on isokron.agent_episodic_events" in out


async def test_doctor_fails_on_a_new_isokron_table_without_rls(owner, db, capsys):
    """A table added to the isokron schema without RLS is found from the catalog."""
    await owner.execute("CREATE TABLE isokron.rogue (x int)")
    code = await asyncio.to_thread(main, ["doctor", "--dsn", db.dsn])
    assert code == 1
    assert "[FAIL] rls isokron.rogue: row-level security not enabled and not forced" in (
        capsys.readouterr().out)


async def test_doctor_checks_the_shard_keys(owner, db, capsys):
    """A memory table whose key loses the tree's root fails doctor's shard-key check,
    as the owner and as the runtime role (catalog reads only)."""
    assert await asyncio.to_thread(main, ["doctor", "--dsn", db.runtime_dsn]) == 0
    assert "[ok  ] shard keys: every isokron table keyed by its tenant" in capsys.readouterr().out
    await owner.execute("CREATE UNIQUE INDEX audit_by_id ON isokron.memory_audit (id)")
    for dsn in (db.dsn, db.runtime_dsn):
        assert await asyncio.to_thread(main, ["doctor", "--dsn", dsn]) == 1
        assert ("[FAIL] shard keys: isokron.memory_audit: unique index isokron.audit_by_id "
                "does not include root_id") in capsys.readouterr().out
