"""current.sql builds the same catalog as the migrations, and is what they dump to."""

from __future__ import annotations

import difflib
import pprint
import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from isokron.ops.schema_dump import CURRENT_SCHEMA_PATH, REGENERATE_HINT, dump_schema
from isokron.schema import available_migrations, checksum_problems, migrate
from tests.conftest import Cluster, TestDatabase, _drop_database, create_test_database

_USER_NAMESPACES = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'"
)
#: objects an extension owns (pgvector's types, functions, operators) are left out
_NOT_EXTENSION_MEMBER = (
    "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = {cls}::regclass "
    "AND d.objid = {oid} AND d.deptype = 'e')"
)

CATALOG_QUERIES: dict[str, str] = {
    "schemas": f"""
        SELECT n.nspname, pg_get_userbyid(n.nspowner) AS owner, n.nspacl::text AS acl
          FROM pg_namespace n WHERE {_USER_NAMESPACES}""",
    "extensions": """
        SELECT e.extname, n.nspname FROM pg_extension e
          JOIN pg_namespace n ON n.oid = e.extnamespace""",
    "relations": f"""
        SELECT n.nspname || '.' || c.relname AS rel, c.relkind, c.relpersistence,
               c.relrowsecurity, c.relforcerowsecurity, c.relacl::text AS acl,
               pg_get_userbyid(c.relowner) AS owner, c.reloptions::text AS options
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE {_USER_NAMESPACES} AND c.relkind <> 'i'
           AND {_NOT_EXTENSION_MEMBER.format(cls="'pg_class'", oid="c.oid")}""",
    "columns": f"""
        SELECT n.nspname || '.' || c.relname AS rel, a.attname,
               format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid) AS default, a.attgenerated, a.attidentity,
               a.attcollation::regcollation::text AS collation, a.attacl::text AS acl
          FROM pg_attribute a
          JOIN pg_class c ON c.oid = a.attrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE {_USER_NAMESPACES} AND a.attnum > 0 AND NOT a.attisdropped
           AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')""",
    "constraints": f"""
        SELECT coalesce(c.conrelid::regclass::text, c.contypid::regtype::text) AS owner_obj,
               c.conname, c.contype, c.condeferrable, c.condeferred, c.convalidated,
               pg_get_constraintdef(c.oid) AS def
          FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
         WHERE {_USER_NAMESPACES}""",
    "indexes": """
        SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes
         WHERE schemaname NOT IN ('pg_catalog', 'information_schema')""",
    "functions": f"""
        SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid) AS args,
               p.prokind, p.prosecdef, p.proconfig::text AS config,
               pg_get_userbyid(p.proowner) AS owner, p.proacl::text AS acl,
               CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) END AS def
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE {_USER_NAMESPACES}
           AND {_NOT_EXTENSION_MEMBER.format(cls="'pg_proc'", oid="p.oid")}""",
    "triggers": f"""
        SELECT t.tgrelid::regclass::text AS rel, t.tgname, t.tgenabled,
               pg_get_triggerdef(t.oid) AS def
          FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE {_USER_NAMESPACES} AND NOT t.tgisinternal""",
    "policies": """
        SELECT schemaname, tablename, policyname, permissive, roles::text AS roles, cmd,
               qual, with_check FROM pg_policies""",
    "sequences": """
        SELECT schemaname, sequencename, sequenceowner, data_type::text, start_value,
               min_value, max_value, increment_by, cycle, cache_size FROM pg_sequences""",
    "sequence_owned_by": f"""
        SELECT c.oid::regclass::text AS seq, d.refobjid::regclass::text AS tbl,
               d.refobjsubid, d.deptype
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass
               AND d.refclassid = 'pg_class'::regclass
         WHERE {_USER_NAMESPACES} AND c.relkind = 'S'""",
    "views": """
        SELECT schemaname, viewname, viewowner, definition FROM pg_views
         WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
        UNION ALL
        SELECT schemaname, matviewname, matviewowner, definition FROM pg_matviews""",
    "types": f"""
        SELECT n.nspname, t.typname, t.typtype, pg_get_userbyid(t.typowner) AS owner,
               t.typacl::text AS acl,
               (SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder)::text
                  FROM pg_enum e WHERE e.enumtypid = t.oid) AS labels
          FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
         WHERE {_USER_NAMESPACES} AND t.typtype IN ('e', 'd', 'r', 'm')
           AND {_NOT_EXTENSION_MEMBER.format(cls="'pg_type'", oid="t.oid")}""",
    "default_acls": """
        SELECT pg_get_userbyid(defaclrole) AS role, defaclnamespace::regnamespace::text AS nsp,
               defaclobjtype, defaclacl::text AS acl FROM pg_default_acl""",
    "migrations": "SELECT name, checksum FROM isokron.schema_migrations",
}


async def catalog_snapshot(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    """Read every catalog fact the comparison covers, each category sorted."""
    conn = await asyncpg.connect(dsn)
    try:
        snapshot: dict[str, list[tuple[Any, ...]]] = {}
        for category, sql in CATALOG_QUERIES.items():
            rows = await conn.fetch(sql)
            snapshot[category] = sorted((tuple(r.values()) for r in rows), key=repr)
        return snapshot
    finally:
        await conn.close()


def catalog_diff(a: dict[str, list[tuple[Any, ...]]], b: dict[str, list[tuple[Any, ...]]],
                 a_name: str = "migrated", b_name: str = "current.sql") -> str:
    """Return a unified diff, per category, of two snapshots ('' when equal)."""
    out: list[str] = []
    for category in CATALOG_QUERIES:
        left = [pprint.pformat(row, width=200) for row in a[category]]
        right = [pprint.pformat(row, width=200) for row in b[category]]
        if left != right:
            out.append(f"== {category} ==")
            out.extend(difflib.unified_diff(left, right, a_name, b_name, lineterm="", n=1))
    return "\n".join(out)


async def load_sql(dsn: str, sql: str) -> None:
    """Run a whole SQL file on ``dsn`` (one simple-query batch)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def other_empty_db(cluster: Cluster) -> AsyncIterator[TestDatabase]:
    """Give the test a second private database with no isokron schema."""
    database = await create_test_database(cluster, template="template0")
    try:
        yield database
    finally:
        await _drop_database(cluster.admin_dsn, database.name)


@pytest.fixture
async def migrated_db(empty_db: TestDatabase) -> TestDatabase:
    """Database A: empty, then migrated from zero with migrate()."""
    assert await migrate(empty_db.dsn) == [name for name, _ in available_migrations()]
    return empty_db


def _current_sql() -> str:
    return CURRENT_SCHEMA_PATH.read_text(encoding="utf-8")


async def test_current_sql_builds_the_same_catalog_as_the_migrations(migrated_db, other_empty_db):
    """An empty database loaded with current.sql has the migrated database's catalog."""
    await load_sql(other_empty_db.dsn, _current_sql())
    diff = catalog_diff(await catalog_snapshot(migrated_db.dsn),
                        await catalog_snapshot(other_empty_db.dsn))
    assert diff == "", (
        "current.sql does not build the schema the migrations build; regenerate it with "
        f"`{REGENERATE_HINT}`\n{diff}")


async def test_current_sql_is_exactly_what_the_migrations_dump_to(migrated_db):
    """Dumping a freshly migrated database gives the packaged current.sql byte for byte."""
    fresh = await dump_schema(migrated_db.dsn)
    packaged = _current_sql()
    if fresh != packaged:
        diff = "\n".join(difflib.unified_diff(
            packaged.splitlines(), fresh.splitlines(), "packaged current.sql",
            "dump of the migrations", lineterm="", n=2))
        pytest.fail(f"isokron/schema/current.sql is stale: regenerate it with "
                    f"`{REGENERATE_HINT}` and commit it\n{diff[:20000]}")


async def test_dumping_twice_gives_identical_text(migrated_db):
    """The dump is deterministic: two runs on an unchanged schema give the same text."""
    assert await dump_schema(migrated_db.dsn) == await dump_schema(migrated_db.dsn)


async def test_a_database_loaded_from_current_sql_is_up_to_date(other_empty_db):
    """After loading current.sql, migrate() has nothing to do and every checksum verifies."""
    await load_sql(other_empty_db.dsn, _current_sql())
    assert await migrate(other_empty_db.dsn) == []
    conn = await asyncpg.connect(other_empty_db.dsn)
    try:
        assert await checksum_problems(conn) == []
    finally:
        await conn.close()


async def test_the_comparison_catches_a_current_sql_missing_one_policy(
    migrated_db, other_empty_db
):
    """A current.sql with one CREATE POLICY dropped is reported, naming that policy."""
    sql = _current_sql()
    match = re.search(r"^CREATE POLICY (\w+) ON [^;]+;\n", sql, re.MULTILINE | re.DOTALL)
    assert match is not None
    await load_sql(other_empty_db.dsn, sql[:match.start()] + sql[match.end():])
    diff = catalog_diff(await catalog_snapshot(migrated_db.dsn),
                        await catalog_snapshot(other_empty_db.dsn))
    assert "== policies ==" in diff and match.group(1) in diff


async def test_current_sql_loads_on_a_cluster_without_isokron_roles():
    """On a new cluster (no isokron_* roles yet) current.sql creates them and loads."""
    from isokron.embedded import EmbeddedPostgres

    async with EmbeddedPostgres(durable=False, run_migrations=False) as server:
        conn = await asyncpg.connect(server.dsn)
        try:
            assert await conn.fetchval(
                "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'isokron%'") == 0
            await conn.execute(_current_sql())
            roles = await conn.fetch(
                "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'isokron%' "
                "ORDER BY rolname")
        finally:
            await conn.close()
        assert [(r["rolname"], r["rolcanlogin"]) for r in roles] == [
            ("isokron_context", False), ("isokron_definer", False), ("isokron_runtime", False),
            ("isokron_sweeper", False)]
        assert await migrate(server.dsn) == []
