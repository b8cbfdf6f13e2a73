"""The doctor's catalog SQL: every query ``isokron doctor`` sends, and the functions that
send them and hand back plain Python values (:mod:`isokron.ops.doctor` judges them)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import attrs

from .doctor_checks_catalog import catalog_facts, runtime_logins

__all__ = [
    "TableFacts",
    "applied_migrations",
    "backend_pids",
    "catalog_facts",
    "chain_breaks",
    "crossing_roles_held",
    "kora_capabilities",
    "runtime_logins",
    "runtime_role",
    "schema_migrated",
    "tables",
    "definer_owners",
    "plain_setting_readers",
    "context_mode",
    "quota_state",
]

#: the triggers that keep the quota counters (0028, 0030)
QUOTA_TRIGGERS = ("quota_sessions_added", "quota_sessions_updated", "quota_sessions_removed",
                  "quota_session_keys",
                  "quota_messages_added", "quota_messages_removed", "quota_memory_added",
                  "quota_memory_updated", "quota_memory_removed")
_QUOTA_TRIGGERS_SQL = (
    "SELECT t.tgname FROM pg_trigger t WHERE t.tgname = ANY($1::text[]) "
    "AND t.tgrelid IN ('isokron.agent_sessions'::regclass, 'isokron.agent_messages'::regclass, "
    "'isokron.memory_records'::regclass) AND t.tgenabled IN ('O', 'A')")
_QUOTA_DEFAULTS_SQL = "SELECT * FROM isokron.quota_limits_{}('*')"

_SCHEMA_MIGRATED_SQL = "SELECT to_regclass('isokron.schema_migrations') IS NOT NULL"
_APPLIED_VIA_FUNCTION_SQL = "SELECT to_regprocedure('isokron.applied_migrations_v1()') IS NOT NULL"
# The runtime role reads the names through the function (it has no table privilege).
_APPLIED_FUNCTION_SQL = "SELECT isokron.applied_migrations_v1() AS name"
_APPLIED_TABLE_SQL = "SELECT name FROM isokron.schema_migrations"

_RUNTIME_ROLE_SQL = (
    "SELECT rolcanlogin, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'isokron_runtime'"
)
_CROSSING_ROLES_SQL = (
    "SELECT r.rolname FROM pg_roles r WHERE r.rolname IN ('isokron_definer', 'isokron_context', "
    "'isokron_sweeper') AND pg_has_role('isokron_runtime', r.oid, 'MEMBER') ORDER BY 1")

# Every table of the isokron schema and of the substrate's schemas, from the catalog.
_TABLES_SQL = """
SELECT n.nspname || '.' || c.relname AS name, c.relrowsecurity, c.relforcerowsecurity,
       ARRAY(SELECT p FROM unnest($1::text[]) p
              WHERE has_table_privilege('isokron_runtime', c.oid, p)) AS runtime_privileges
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND (n.nspname IN ('isokron', 'kronicle', 'hivex_foundation')
        OR n.nspname || '.' || c.relname = ANY($2::text[]))
 ORDER BY 1
"""

# verify_chain_v2 walks each chain (v1 and v2 rows) and compares its head with the anchor.
_CHAINS_SQL = (
    "SELECT t.clerk_org_id, v.broken_seq, v.reason FROM hivex_foundation.tenant t "
    "LEFT JOIN LATERAL hivex_foundation.verify_chain_v2(t.clerk_org_id) v ON true "
    "ORDER BY t.clerk_org_id"
)
_KORA_CAPABILITIES_SQL = (
    "SELECT cap_name, granted FROM public.actor_capability_matrix WHERE actor_kind = 'kora'"
)
_BACKEND_PID_SQL = "SELECT pg_backend_pid()"
_SCHEMAS = "('isokron', 'kronicle', 'hivex_foundation', 'public')"
# SECURITY DEFINER functions of isokron's schemas whose owner bypasses RLS (a superuser or
# BYPASSRLS), or is not one of isokron's NOLOGIN roles.
_DEFINER_OWNERS_SQL = f"""
SELECT p.oid::regprocedure::text AS function, r.rolname AS owner
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_roles r ON r.oid = p.proowner
 WHERE p.prosecdef AND n.nspname IN {_SCHEMAS}
   AND (r.rolsuper OR r.rolbypassrls OR r.rolcanlogin
        OR r.rolname NOT IN ('isokron_definer', 'isokron_context'))
 ORDER BY 1"""
_DEFINER_COUNT_SQL = f"""
SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE p.prosecdef AND n.nspname IN {_SCHEMAS}"""
# Functions and policies that read the plain tenant settings instead of the (signed) context.
_PLAIN_READERS_SQL = f"""
SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname IN {_SCHEMAS} AND p.prosrc LIKE '%current_setting(''app.%'
   AND p.proname NOT IN ('context_claims_v1', 'context_workspace_v1', 'context_tenant_v1',
                         'context_user_v1')
UNION ALL
SELECT pol.polname || ' on ' || pol.polrelid::regclass::text FROM pg_policy pol
 WHERE coalesce(pg_get_expr(pol.polqual, pol.polrelid), '')
       || coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), '') LIKE '%current_setting(%'
 ORDER BY 1"""
_CONTEXT_MODE_SQL = ("SELECT CASE WHEN to_regprocedure('isokron.context_mode_v1()') IS NULL "
                     "THEN NULL ELSE isokron.context_mode_v1() END")


@attrs.frozen(kw_only=True)
class TableFacts:
    """One table from the catalog: its RLS flags and what isokron_runtime may do on it."""

    name: str
    rls_enabled: bool
    rls_forced: bool
    runtime_privileges: frozenset[str]


async def schema_migrated(conn: asyncpg.Connection) -> bool:
    """Tell whether ``isokron.schema_migrations`` exists."""
    return bool(await conn.fetchval(_SCHEMA_MIGRATED_SQL))


async def applied_migrations(conn: asyncpg.Connection) -> set[str]:
    """Return the applied migrations' names (through the function where it exists)."""
    via_function = await conn.fetchval(_APPLIED_VIA_FUNCTION_SQL)
    sql = _APPLIED_FUNCTION_SQL if via_function else _APPLIED_TABLE_SQL
    return {r["name"] for r in await conn.fetch(sql)}


async def runtime_role(conn: asyncpg.Connection) -> tuple[bool, bool] | None:
    """Return isokron_runtime's ``(rolsuper, rolbypassrls)``, or None when it is missing."""
    row = await conn.fetchrow(_RUNTIME_ROLE_SQL)
    return None if row is None else (bool(row["rolsuper"]), bool(row["rolbypassrls"]))


async def crossing_roles_held(conn: asyncpg.Connection) -> list[str]:
    """Return the workspace-crossing roles (definer, sweeper) isokron_runtime is a member of."""
    return [r["rolname"] for r in await conn.fetch(_CROSSING_ROLES_SQL)]


async def tables(conn: asyncpg.Connection, privileges: Sequence[str],
                 wanted: Sequence[str]) -> list[TableFacts]:
    """Every table of the isokron and substrate schemas plus ``wanted``, by name, with
    which of ``privileges`` isokron_runtime holds on each."""
    rows = await conn.fetch(_TABLES_SQL, list(privileges), list(wanted))
    return [TableFacts(name=r["name"], rls_enabled=r["relrowsecurity"],
                       rls_forced=r["relforcerowsecurity"],
                       runtime_privileges=frozenset(r["runtime_privileges"])) for r in rows]


async def chain_breaks(
    conn: asyncpg.Connection,
) -> list[tuple[str, int | None, str | None]]:
    """Return every tenant with the first broken seq of its chain and why (None, None when
    intact): a rewritten or missing event, a cut tail, a head that differs from its anchor."""
    return [(r["clerk_org_id"], r["broken_seq"], r["reason"])
            for r in await conn.fetch(_CHAINS_SQL)]


async def kora_capabilities(conn: asyncpg.Connection) -> list[tuple[str, bool]]:
    """Return the kora column of ``actor_capability_matrix`` as ``(cap_name, granted)``."""
    return [(r["cap_name"], r["granted"]) for r in await conn.fetch(_KORA_CAPABILITIES_SQL)]


async def definer_owners(conn: asyncpg.Connection) -> tuple[int, list[tuple[str, str]]]:
    """How many SECURITY DEFINER functions isokron's schemas hold, and those whose owner
    bypasses RLS or is not one of isokron's NOLOGIN roles (function, owner)."""
    count = int(await conn.fetchval(_DEFINER_COUNT_SQL))
    return count, [(r["function"], r["owner"]) for r in await conn.fetch(_DEFINER_OWNERS_SQL)]


async def plain_setting_readers(conn: asyncpg.Connection) -> list[str]:
    """Functions and policies that read ``app.current_*`` directly, bypassing the context."""
    return [r[0] for r in await conn.fetch(_PLAIN_READERS_SQL)]


async def context_mode(conn: asyncpg.Connection) -> str | None:
    """``signed``, ``plain``, or None before migration 0022."""
    mode = await conn.fetchval(_CONTEXT_MODE_SQL)
    return None if mode is None else str(mode)


async def quota_state(conn: asyncpg.Connection) -> tuple[list[str], dict[str, int | None]] | None:
    """The quota triggers missing or disabled, and the default limits; None before 0028."""
    found = await conn.fetchval(
        "SELECT CASE WHEN to_regprocedure('isokron.quota_limits_v2(text)') IS NOT NULL "
        "THEN 'v2' WHEN to_regprocedure('isokron.quota_limits_v1(text)') IS NOT NULL "
        "THEN 'v1' END")
    if found is None:
        return None
    enabled = {r[0] for r in await conn.fetch(_QUOTA_TRIGGERS_SQL, list(QUOTA_TRIGGERS))}
    row = await conn.fetchrow(_QUOTA_DEFAULTS_SQL.format(found))
    return [t for t in QUOTA_TRIGGERS if t not in enabled], dict(row or {})


async def backend_pids(conn: asyncpg.Connection, dsn: str | None) -> set[int]:
    """Ask ``conn`` for its backend pid, and with ``dsn`` twice more while a second client
    holds a transaction open and after it lets go: a transaction (or statement) pooler in
    between has to move ``conn`` to another server connection, so more than one pid."""
    pids = {await conn.fetchval(_BACKEND_PID_SQL)}
    if dsn is not None:
        other = await asyncpg.connect(dsn, statement_cache_size=0)
        try:
            async with other.transaction():
                await other.fetchval(_BACKEND_PID_SQL)
                pids.add(await conn.fetchval(_BACKEND_PID_SQL))
            pids.add(await conn.fetchval(_BACKEND_PID_SQL))
        finally:
            await other.close()
    return pids

