"""The doctor compares the live catalog with what isokron installed (issue 24, item 7).

Each test tampers as an operator with DDL rights (or a compromised migration) would, then
runs `isokron doctor` as the owner and as the runtime login: both must fail, naming the
object. Roles are cluster-wide, so grants made to them here live only in this test's
database.
"""

from __future__ import annotations

import asyncio

import pytest

from isokron.ops.catalog import catalog_drift, load_catalog, manifest_from_facts
from isokron.ops.cli import main
from isokron.ops.doctor import _PRIVILEGES, RLS_TABLES
from isokron.ops.doctor_checks import catalog_facts
from isokron.testing.seed import seed_demo_workspace


async def _doctor(dsn: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = await asyncio.to_thread(main, ["doctor", "--dsn", dsn])
    return code, capsys.readouterr().out


async def _fails_naming(db, capsys, *needles: str) -> None:
    for dsn in (db.dsn, db.runtime_dsn):
        code, out = await _doctor(dsn, capsys)
        assert code == 1, out
        catalog = next(line for line in out.splitlines() if "] catalog:" in line)
        assert catalog.startswith("[FAIL] catalog:"), catalog
        for needle in needles:
            assert needle in catalog, (needle, catalog)


async def test_the_packaged_manifest_is_what_the_migrations_install(owner):
    """catalog.json equals the manifest of a database migrated from zero (regenerate it with
    `isokron schema dump --catalog-out` when a migration changes the catalog)."""
    fresh = manifest_from_facts(await catalog_facts(owner, _PRIVILEGES, RLS_TABLES))
    packaged = load_catalog()
    for key in ("functions", "policies", "triggers", "schema_privileges", "table_privileges",
                "column_privileges", "constraints", "owners", "default_privileges",
                "event_triggers", "publications", "foreign_grants", "settings"):
        assert fresh[key] == packaged[key], (
            f"{key} differ: run `isokron schema dump --out isokron/schema/current.sql "
            f"--catalog-out isokron/schema/catalog.json`")


async def test_a_healthy_database_matches_the_catalog(owner, db, capsys):
    await seed_demo_workspace(owner, "org_demo")
    for dsn in (db.dsn, db.runtime_dsn):
        code, out = await _doctor(dsn, capsys)
        assert code == 0, out
        assert "[ok  ] catalog: " in out
        assert "triggers and grants as isokron installed them" in out


@pytest.mark.parametrize("table", ["isokron.memory_records", "isokron.agent_messages"])
async def test_a_using_true_policy_added_is_named(owner, db, capsys, table):
    """A permissive `USING (true)` policy opens every row to every tenant: named."""
    await owner.execute(f"CREATE POLICY open_all ON {table} FOR SELECT USING (true)")
    await _fails_naming(db, capsys, f"policy {table}.open_all was not installed by isokron")


async def test_a_policy_rewritten_in_place_is_named(owner, db, capsys):
    """Same name, same command, a wider expression: the expression is compared."""
    name = "memory_records_select"
    await owner.execute(f'ALTER POLICY "{name}" ON isokron.memory_records USING (true)')
    await _fails_naming(db, capsys, f"policy isokron.memory_records.{name}: USING (true) "
                                    "differs from the one isokron installed")


async def test_a_policy_dropped_is_named(owner, db, capsys):
    name = await owner.fetchval(
        "SELECT polname FROM pg_policy WHERE polrelid = 'isokron.agent_messages'::regclass "
        "ORDER BY polname LIMIT 1")
    await owner.execute(f'DROP POLICY "{name}" ON isokron.agent_messages')
    await _fails_naming(db, capsys, f"policy isokron.agent_messages.{name} is missing")


async def test_an_extra_definer_without_search_path_granted_to_the_app_is_named(
        owner, db, capsys):
    """A SECURITY DEFINER function isokron did not install, callable by the runtime role
    and without a pinned search_path, in the public schema: named twice."""
    await owner.execute(
        "CREATE FUNCTION public.backdoor(p text) RETURNS bigint LANGUAGE sql SECURITY "
        "DEFINER AS $$ SELECT count(*) FROM isokron.memory_records $$")
    await owner.execute("GRANT EXECUTE ON FUNCTION public.backdoor(text) TO isokron_runtime")
    await _fails_naming(
        db, capsys,
        "SECURITY DEFINER function public.backdoor(text) was not installed by isokron "
        "(isokron_runtime may execute it)",
        "SECURITY DEFINER function public.backdoor(text) has no search_path and "
        "isokron_runtime may execute it")


async def test_any_function_added_to_an_isokron_schema_is_named(owner, db, capsys):
    await owner.execute("CREATE FUNCTION isokron.helper() RETURNS int LANGUAGE sql "
                        "AS $$ SELECT 1 $$")
    await _fails_naming(db, capsys, "function isokron.helper() was not installed by isokron")


async def test_create_on_the_isokron_schema_for_the_app_role_is_named(owner, db, capsys):
    await owner.execute("GRANT CREATE ON SCHEMA isokron TO isokron_runtime")
    await _fails_naming(db, capsys, "isokron_runtime holds CREATE on schema isokron, which "
                                    "isokron did not grant")


@pytest.mark.parametrize("stub", [
    "CREATE OR REPLACE FUNCTION hivex_foundation.verify_chain_v2(p_workspace_id text) "
    "RETURNS TABLE (broken_seq bigint, reason text) LANGUAGE sql STABLE "
    "SET search_path = pg_catalog, pg_temp AS $$ SELECT NULL::bigint, NULL::text $$",
    "CREATE OR REPLACE FUNCTION hivex_foundation.verify_chain_v1(p_workspace_id text) "
    "RETURNS bigint LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp "
    "AS $$ SELECT NULL::bigint $$",
], ids=["v2", "v1"])
async def test_the_chain_verifier_replaced_by_a_stub_is_named(owner, db, capsys, stub):
    """A tampered chain and a verifier that always says intact: the chain check passes,
    the catalog check names the stub."""
    await seed_demo_workspace(owner, "org_demo")
    name = stub.split("FUNCTION ", 1)[1].split("(", 1)[0]
    signature = await owner.fetchval(
        "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.oid = $1::regproc", name)
    await owner.execute("ALTER TABLE hivex_foundation.event_log "
                        "DISABLE TRIGGER event_log_append_only")
    await owner.execute("UPDATE hivex_foundation.event_log SET event_type = 'kora.forged' "
                        "WHERE seq = 4")
    await owner.execute("ALTER TABLE hivex_foundation.event_log "
                        "ENABLE TRIGGER event_log_append_only")
    await owner.execute(stub)
    await _fails_naming(db, capsys, f"function {signature}: its definition differs from the "
                                    "one isokron installed")


async def test_a_definer_search_path_removed_is_named(owner, db, capsys):
    await owner.execute("ALTER FUNCTION hivex_foundation.append_event_v1(text, text, jsonb, "
                        "uuid) RESET search_path")
    await _fails_naming(
        db, capsys,
        "function hivex_foundation.append_event_v1(text,text,jsonb,uuid): SET options are "
        "none, isokron installed")


async def test_a_trigger_disabled_is_named(owner, db, capsys):
    await owner.execute("ALTER TABLE hivex_foundation.event_log "
                        "DISABLE TRIGGER event_log_append_only")
    await _fails_naming(db, capsys, "trigger hivex_foundation.event_log.event_log_append_only")


async def test_a_rule_that_copies_every_write_is_named(owner, db, capsys):
    await owner.execute("CREATE TABLE public.sink (LIKE isokron.memory_records)")
    await owner.execute("CREATE RULE copy_out AS ON INSERT TO isokron.memory_records "
                        "DO ALSO INSERT INTO public.sink SELECT NEW.*")
    await _fails_naming(db, capsys, "trigger isokron.memory_records.copy_out (rule) was not "
                                    "installed by isokron")


async def test_a_view_in_an_isokron_schema_granted_to_the_app_is_named(owner, db, capsys):
    """A view runs as its owner: a superuser's view over memory_records bypasses RLS."""
    await owner.execute("CREATE VIEW isokron.everything AS SELECT * FROM isokron.memory_records")
    await owner.execute("GRANT SELECT ON isokron.everything TO isokron_runtime")
    await _fails_naming(db, capsys, "isokron_runtime holds SELECT on table isokron.everything, "
                                    "which isokron did not grant")


async def test_execute_granted_on_an_operator_function_is_named(owner, db, capsys):
    await owner.execute("GRANT EXECUTE ON FUNCTION isokron.install_context_key_v1(text, bytea, "
                        "bytea) TO isokron_runtime")
    await _fails_naming(db, capsys,
                        "function isokron.install_context_key_v1(text,bytea,bytea): "
                        "executable by isokron_context, isokron_runtime, isokron granted "
                        "isokron_context")


async def test_what_isokron_itself_rewrites_is_not_drift(owner, db, capsys):
    """Installing a context key rewrites context_signed_v1; preparing 8-dimension vectors
    rebuilds the vector functions: both are isokron's own doing, so still healthy."""
    from isokron.db.context_keys import install_context_key

    await install_context_key(owner, "catalog-" + "k" * 40)
    await owner.execute("SELECT isokron.prepare_embeddings_v1(8)")
    code, out = await _doctor(db.dsn, capsys)
    assert code == 0, out
    assert "[ok  ] catalog:" in out


def test_drift_lines_compare_expressions_only_on_the_same_major_version():
    """A manifest made on another major version still compares names, commands, roles,
    functions and grants, not the deparsed expressions (which differ by version)."""
    manifest = load_catalog()
    live = {"server_major": int(manifest["server_major"]) - 3, "vectors": True,
            "functions": {k: {**v, "body_sha256": v.get("body_sha256"), "reach": [],
                              "owner": v["owner"] or "migrator"}
                          for k, v in manifest["functions"].items()},
            "policies": {k: {**v, "using": "(x)"} for k, v in manifest["policies"].items()},
            **{key: manifest[key] for key in (
                "triggers", "schema_privileges", "table_privileges", "column_privileges",
                "constraints", "owners", "default_privileges", "event_triggers",
                "publications", "foreign_grants", "settings")},
            "runtime_logins": [], "reachable_relations": {}, "owned_by_logins": []}
    lines, compared = catalog_drift(manifest, live)
    assert (lines, compared) == ([], False)
    live["server_major"] = manifest["server_major"]
    lines, compared = catalog_drift(manifest, live)
    assert compared and lines and all("USING ((x))" in line or "USING (x)" in line
                                      for line in lines)
