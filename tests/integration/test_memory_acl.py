"""The memory ACL holds in PostgreSQL itself: raw SQL as the runtime login, plus EXPLAIN."""

from __future__ import annotations

import asyncpg
import pytest

from isokron.stores import NamespaceMemory

from .test_memory import TREE


@pytest.fixture
async def tree(owner, runtime_pool):
    """The test_memory tree with one memory in every namespace it uses."""
    for ws, parent in TREE:
        await owner.execute(
            "INSERT INTO isokron.workspaces (workspace_id, parent_id) VALUES ($1, $2)", ws, parent)
    memory = NamespaceMemory(runtime_pool)
    await memory.commit("org_root", "org rule", namespace="org:org_root")
    for leaf in ("ws_ab1", "ws_abc1", "ws_a1"):
        access = await memory.access(leaf)
        for name in access.writable:
            await memory.commit(leaf, f"{leaf} note in {name}", namespace=name)
    return memory


@pytest.fixture
async def raw(db):
    """A raw runtime connection that runs statements as a given workspace."""
    conn = await asyncpg.connect(db.runtime_dsn)

    async def run(ws: str, sql: str, *args):
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.current_workspace_id', $1, true)", ws)
            if sql.lstrip().upper().startswith(("SELECT", "EXPLAIN")):
                return await conn.fetch(sql, *args)
            return await conn.execute(sql, *args)

    try:
        yield run
    finally:
        await conn.close()


async def test_a_sibling_cannot_read_team_abc_from_team_ab(tree, raw):
    """Exact names: ws_ab1 (team:team_ab) sees no row of team:team_abc, by raw SQL either."""
    rows = await raw("ws_ab1", "SELECT DISTINCT namespace FROM isokron.memory_records")
    assert {r["namespace"] for r in rows} == {"workspace:ws_ab1", "team:team_ab", "org:org_root"}
    assert await raw("ws_ab1", "SELECT id FROM isokron.memory_records "
                               "WHERE namespace = 'team:team_abc'") == []
    assert await raw("ws_ab1", "SELECT name FROM isokron.memory_namespaces "
                               "WHERE name LIKE 'team:team_ab%'") == [("team:team_ab",)]


async def test_a_team_member_cannot_delete_change_or_forge_org_memory(tree, raw, owner):
    """Readable is not writable: DELETE/UPDATE of org rows change 0; an INSERT is refused."""
    assert len(await raw("ws_a1", "SELECT id FROM isokron.memory_records "
                                  "WHERE namespace = 'org:org_root'")) == 1
    assert await raw("ws_a1", "DELETE FROM isokron.memory_records "
                              "WHERE namespace = 'org:org_root'") == "DELETE 0"
    assert await raw("ws_a1", "UPDATE isokron.memory_records SET content = 'x' "
                              "WHERE namespace = 'org:org_root'") == "UPDATE 0"
    assert await raw("ws_a1", "UPDATE isokron.memory_namespaces SET expires_at = now() "
                              "WHERE name = 'org:org_root'") == "UPDATE 0"
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await raw("ws_a1", "INSERT INTO isokron.memory_records (namespace, content) "
                           "VALUES ('org:org_root', 'forged rule')")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await raw("ws_a1", "UPDATE isokron.memory_records SET namespace = 'org:org_root' "
                           "WHERE namespace = 'workspace:ws_a1'")
    assert await owner.fetchval(
        "SELECT content FROM isokron.memory_records WHERE namespace = 'org:org_root'"
    ) == "org rule"
    # even the org's owner deletes no org row by hand: forget retracts it, audited (issue 26)
    assert await raw("org_root", "DELETE FROM isokron.memory_records "
                                 "WHERE namespace = 'org:org_root'") == "DELETE 0"


async def test_python_and_postgres_agree_on_the_acl(tree, raw):
    """readable_namespaces()/writable_namespaces() are the SQL functions the policies use."""
    for ws, _ in TREE:
        readable = (await raw(ws, "SELECT isokron.readable_namespaces_v1() AS n"))[0]["n"]
        writable = (await raw(ws, "SELECT isokron.writable_namespaces_v1() AS n"))[0]["n"]
        assert await tree.readable_namespaces(ws) == readable
        assert await tree.writable_namespaces(ws) == writable
    assert (await raw("ws_ghost", "SELECT isokron.readable_namespaces_v1() AS n"))[0]["n"] == []


async def test_the_acl_is_evaluated_once_per_statement_not_per_row(tree, raw, owner):
    """EXPLAIN ANALYZE over 5,000 rows: the namespace function runs in an InitPlan, once."""
    await owner.execute(
        "INSERT INTO isokron.memory_records (namespace, content) "
        "SELECT 'workspace:ws_a1', 'filler ' || g FROM generate_series(1, 5000) g")
    await owner.execute("ANALYZE isokron.memory_records")
    plan = [r[0] for r in await raw(
        "ws_a1", "EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF) "
                 "SELECT count(*) FROM isokron.memory_records")]
    text = "\n".join(plan)
    init = next(i for i, line in enumerate(plan) if line.strip() == "InitPlan 1")
    assert "Result" in plan[init + 1] and "loops=1" in plan[init + 1], text
    assert [line.strip() for line in plan if "readable_namespaces_v1" in line] == [
        "Output: isokron.readable_namespaces_v1()"], text
    assert "Filter: (memory_records.namespace = ANY ((InitPlan 1).col1))" in text, text


async def test_recent_search_reads_each_namespace_through_its_index(tree, raw, owner):
    """EXPLAIN at 5,000+ rows: one LIMITed index scan per namespace, no scan of every row."""
    from isokron.stores.memory import _SEARCH_RECENT

    await owner.execute(
        "INSERT INTO isokron.memory_records (namespace, content) "
        "SELECT 'workspace:ws_a1', 'filler ' || g FROM generate_series(1, 5000) g")
    await owner.execute("ANALYZE isokron.memory_records")
    readable = await tree.readable_namespaces("ws_a1")
    plan = "\n".join(r[0] for r in await raw(
        "ws_a1", "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + _SEARCH_RECENT,
        readable, None, 20, (await tree.access("ws_a1")).root_id))
    assert "Index Scan using memory_records_current_idx" in plan, plan
    assert "Seq Scan on memory_records" not in plan, plan


def _squeezed(sql: str) -> str:
    for placeholder, name in (("$1::text[]", "v_wanted"), ("$2::text[]", "p_kinds"),
                              ("$3", "p_limit"), ("$4", "v_root")):
        sql = sql.replace(placeholder, name)
    return "".join(sql.split())


async def test_the_search_function_runs_the_explained_recent_query(owner):
    """memory_search_v2's recent branch is _SEARCH_RECENT (so the EXPLAIN above covers it)."""
    from isokron.stores.memory import _SEARCH_RECENT

    body = await owner.fetchval("SELECT prosrc FROM pg_proc WHERE proname = 'memory_search_v2'")
    assert _squeezed(_SEARCH_RECENT) in _squeezed(body)


async def test_full_text_candidates_keep_the_acl_when_called_raw(tree, raw):
    """memory_fts_keys_v1 runs as the definer (to reach the GIN index): asked for other
    namespaces, or with no workspace set, it returns nothing a policy would hide."""
    found = await raw("ws_ab1", "SELECT namespace FROM isokron.memory_fts_keys_v1("
                                "ARRAY['team:team_abc', 'workspace:ws_abc1', 'workspace:ws_a1'], "
                                "'note', NULL, 100)")
    assert found == []
    mine = await raw("ws_ab1", "SELECT DISTINCT namespace FROM isokron.memory_fts_keys_v1("
                               "ARRAY['team:team_ab', 'team:team_abc', 'workspace:ws_ab1'], "
                               "'note', NULL, 100)")
    assert {r["namespace"] for r in mine} == {"team:team_ab", "workspace:ws_ab1"}
    assert await raw("", "SELECT * FROM isokron.memory_fts_keys_v1("
                         "ARRAY['team:team_ab'], 'note', NULL, 100)") == []


async def test_full_text_search_reads_the_gin_index_not_the_table(tree, db, owner):
    """Under RLS @@ (not LEAKPROOF) could not use the index; the search must not scan the
    table: 5,000 rows, a search, no sequential read of memory_records."""
    await owner.execute(
        "INSERT INTO isokron.memory_records (namespace, content) "
        "SELECT 'workspace:ws_a1', 'filler ' || g || CASE WHEN g % 500 = 0 THEN ' audit' "
        "ELSE '' END FROM generate_series(1, 5000) g")
    await owner.execute("VACUUM ANALYZE isokron.memory_records")
    conn = await asyncpg.connect(db.runtime_dsn)
    try:
        memory = NamespaceMemory(conn)
        async with conn.transaction():
            found = await memory.search("ws_a1", "audit", limit=5)
            stats = await conn.fetchrow(
                "SELECT coalesce(seq_tup_read, 0) AS scanned, "
                "       coalesce(idx_tup_fetch, 0) AS fetched "
                "FROM pg_stat_xact_user_tables WHERE relname = 'memory_records'")
    finally:
        await conn.close()
    assert len(found) == 5 and all(r.content.endswith(" audit") for r in found)
    # 10 rows match; walking the namespace's btree instead would fetch all 5,000.
    assert stats["scanned"] == 0 and stats["fetched"] <= 100, dict(stats)
