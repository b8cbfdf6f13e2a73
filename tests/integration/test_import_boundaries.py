"""Attack the import path as a hostile export file would, and the substrate's tables and a
team's namespace as tenant B / a sibling workspace would (issue 23, items 1, 4, 7)."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from isokron.errors import InvalidInputError, NotOwnedError
from isokron.ops.cli import main
from isokron.stores import ImportLimits, NamespaceMemory, import_memory, read_import_file
from isokron.testing.seed import seed_demo_workspace


@pytest.fixture
async def two_trees(owner):
    """org_a (child team_a, grandchild ws_a1) and org_b (child ws_b1)."""
    for ws, parent in (("org_a", None), ("team_a", "org_a"), ("ws_a1", "team_a"),
                       ("org_b", None), ("ws_b1", "org_b")):
        await owner.execute("INSERT INTO isokron.workspaces (workspace_id, parent_id) "
                            "VALUES ($1, $2)", ws, parent)


def _ns(name: str) -> dict[str, object]:
    return {"type": "namespace", "name": name, "kind": name.split(":", 1)[0]}


def _memory(namespace: str, content: str = "a fact", **extra: object) -> dict[str, object]:
    return {"type": "memory", "id": str(uuid.uuid4()), "namespace": namespace,
            "content": content, "kind": "fact", "source": "user", **extra}


async def _counts(owner: asyncpg.Connection) -> tuple[int, int, int, int]:
    row = await owner.fetchrow(
        "SELECT (SELECT count(*) FROM isokron.workspaces), "
        "(SELECT count(*) FROM isokron.memory_namespaces), "
        "(SELECT count(*) FROM isokron.memory_records), "
        "(SELECT count(*) FROM isokron.memory_audit)")
    return tuple(row)  # type: ignore[return-value]


async def test_a_file_naming_another_tree_or_root_is_refused_and_nothing_is_written(
        owner, two_trees):
    """The attacks of the finding, with --workspace org_a: org_b claimed as a root, a new
    workspace under org_b, memory for org:org_b, and a good first batch before a bad line
    (all or nothing across batches)."""
    before = await _counts(owner)
    attacks = {
        "workspace 'org_b'": [{"type": "workspace", "workspace_id": "org_b",
                               "parent_id": None}, _memory("org:org_b", "pinned lie",
                                                           pin=True, source="runtime")],
        "workspace 'evil'": [{"type": "workspace", "workspace_id": "evil",
                              "parent_id": "org_b"}],
        "belongs to tree 'org_b'": [_memory("org:org_b")],
        "workspace 'org_z'": [{"type": "workspace", "workspace_id": "org_z",
                               "parent_id": None}],
    }
    for message, items in attacks.items():
        with pytest.raises(InvalidInputError, match=message):
            await import_memory(owner, items, workspace_id="org_a")
    good_then_bad = [_ns("workspace:ws_a1")] + [
        _memory("workspace:ws_a1", f"fine {n}") for n in range(30)] + [
        _memory("team:org_b")]
    with pytest.raises(InvalidInputError, match="belongs to tree 'org_b'"):
        await import_memory(owner, good_then_bad, workspace_id="org_a",
                            limits=ImportLimits(batch_items=10))
    with pytest.raises(InvalidInputError, match="not the root of a tree"):
        await import_memory(owner, [_memory("workspace:ws_a1")], workspace_id="team_a")
    assert await _counts(owner) == before


async def test_dates_sources_and_kinds_from_a_file_are_validated(owner, two_trees):
    future = (datetime.now(UTC) + timedelta(days=3650)).isoformat()
    for bad, message in (({"created_at": future}, "in the future"),
                         ({"source": "admin"}, "source 'admin' is not one of"),
                         ({"kind": "rule"}, "kind 'rule' is not one of")):
        with pytest.raises(InvalidInputError, match=message):
            await import_memory(owner, [_ns("org:org_a"), _memory("org:org_a", **bad)],
                                workspace_id="org_a")
    assert await owner.fetchval("SELECT count(*) FROM isokron.memory_records") == 0


async def test_imported_rows_are_marked_org_writes_audited_and_secrets_redacted(
        owner, two_trees):
    past = (datetime.now(UTC) - timedelta(days=400)).isoformat()
    items = [{"type": "namespace", "name": "org:org_a", "kind": "org",
              "metadata": {"note": "key AKIAIOSFODNN7EXAMPLE"}},
             _memory("org:org_a", "deploy key AKIAIOSFODNN7EXAMPLE", created_at=past),
             _ns("workspace:ws_a1"), _memory("workspace:ws_a1", "private note")]
    counts = await import_memory(owner, items, workspace_id="org_a")
    assert counts == {"workspaces": 0, "namespaces": 2, "memories": 2}
    rows = await owner.fetch("SELECT namespace, content, imported_at, created_at "
                             "FROM isokron.memory_records ORDER BY namespace")
    assert all(r["imported_at"] is not None for r in rows)
    assert "AKIA" not in rows[0]["content"] and "REDACTED" in rows[0]["content"]
    assert rows[0]["created_at"] < datetime.now(UTC) - timedelta(days=399)
    audit = await owner.fetch("SELECT namespace, action FROM isokron.memory_audit "
                              "ORDER BY action")
    assert [(a["namespace"], a["action"]) for a in audit] == [
        ("org:org_a", "import"), ("org:org_a", "import_namespace")]
    metadata = await owner.fetchval("SELECT metadata::text FROM isokron.memory_namespaces "
                                    "WHERE name = 'org:org_a'")
    assert "AKIA" not in metadata
    # a live write is not marked
    await NamespaceMemory(owner).commit("ws_a1", "live note")
    assert await owner.fetchval("SELECT imported_at FROM isokron.memory_records "
                                "WHERE content = 'live note'") is None


async def test_only_the_schema_owner_may_call_the_import_function(db, two_trees):
    """The SQL function does not redact: neither the runtime nor the sweeper role may
    reach it, so every import goes through import_memory, which does."""
    for dsn in (db.runtime_dsn, db.sweeper_dsn):
        conn = await asyncpg.connect(dsn)
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch("SELECT * FROM isokron.import_memory_v2('org_a', $1::json)",
                                 json.dumps([_memory("org:org_a", "AKIAIOSFODNN7EXAMPLE")]))
            assert await conn.fetchval(
                "SELECT to_regprocedure('isokron.import_memory_v1(json)')") is None
        finally:
            await conn.close()


async def test_the_file_reader_caps_and_streams(owner, two_trees, tmp_path):
    """Caps name the line; a 12 MB file is imported holding about one batch in memory."""
    path = tmp_path / "big.jsonl"
    filler = "x" * 1000
    with path.open("w") as out:
        out.write(json.dumps(_ns("workspace:ws_a1")) + "\n")
        for n in range(12_000):
            out.write(json.dumps(_memory("workspace:ws_a1", f"note {n} {filler}")) + "\n")
    with pytest.raises(InvalidInputError, match=r"big.jsonl:2: the line has \d+ bytes"):
        list(read_import_file(path, ImportLimits(max_item_bytes=500)))
    with pytest.raises(InvalidInputError, match="passes max_total_bytes"):
        list(read_import_file(path, ImportLimits(max_total_bytes=100_000)))
    with pytest.raises(InvalidInputError, match="more than max_items"):
        await import_memory(owner, read_import_file(path), workspace_id="org_a",
                            limits=ImportLimits(max_items=100))
    tracemalloc.start()
    try:
        counts = await import_memory(owner, read_import_file(path), workspace_id="org_a")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert counts["memories"] == 12_000
    assert path.stat().st_size > 12_000_000
    assert peak < 6_000_000, peak  # a batch of 500 items, not the 12 MB file


async def test_the_import_command_names_its_tree(db, owner, two_trees, tmp_path, capsys):
    path = tmp_path / "items.jsonl"
    path.write_text(json.dumps(_memory("org:org_b")) + "\n")
    code = await asyncio.to_thread(main, ["memory", "import", str(path), "--dsn", db.dsn,
                                          "--workspace", "org_a"])
    assert code != 0
    assert "belongs to tree 'org_b'" in capsys.readouterr().err
    path.write_text(json.dumps(_ns("org:org_a")) + "\n" + json.dumps(_memory("org:org_a"))
                    + "\n")
    assert await asyncio.to_thread(main, ["memory", "import", str(path), "--dsn", db.dsn,
                                          "--workspace", "org_a"]) == 0
    assert "1 memory(ies) into the tree of org_a" in capsys.readouterr().out


async def test_a_sibling_cannot_expire_or_delete_its_team_and_the_owner_is_audited(
        runtime_pool, owner, two_trees):
    """ws_a1 writes team:team_a memories but the namespace belongs to team_a: the child's
    patch and delete are refused (API and raw SQL), the owner's are audited."""
    memory = NamespaceMemory(runtime_pool)
    await memory.commit("ws_a1", "team plan", namespace="team:team_a")
    with pytest.raises(NotOwnedError, match="only its owner may"):
        await memory.patch_namespace("ws_a1", "team:team_a", expires_at=datetime.now(UTC))
    with pytest.raises(NotOwnedError, match="only its owner may"):
        await memory.delete_namespace("ws_a1", "team:team_a")
    async with runtime_pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.current_workspace_id', 'ws_a1', true)")
        assert await conn.execute("UPDATE isokron.memory_namespaces SET expires_at = now() "
                                  "WHERE name = 'team:team_a'") == "UPDATE 0"
        assert await conn.execute("DELETE FROM isokron.memory_namespaces "
                                  "WHERE name = 'team:team_a'") == "DELETE 0"
    assert await owner.fetchval("SELECT expires_at FROM isokron.memory_namespaces "
                                "WHERE name = 'team:team_a'") is None
    patched = await memory.patch_namespace("team_a", "team:team_a", metadata={"v": 1})
    assert patched["metadata"] == {"v": 1}
    assert await memory.delete_namespace("team_a", "team:team_a") == 1
    assert [(r["action"], r["workspace_id"]) for r in await owner.fetch(
        "SELECT action, workspace_id FROM isokron.memory_audit WHERE namespace = "
        "'team:team_a' ORDER BY id")] == [("patch_namespace", "team_a"),
                                          ("delete_namespace", "team_a")]


async def test_the_substrate_tables_keep_tenants_apart_without_a_key(db, owner):
    """Plain settings of org_a: none of org_b's charter, actors, tenant row or events."""
    await seed_demo_workspace(owner, "org_a")
    await seed_demo_workspace(owner, "org_b")
    conn = await asyncpg.connect(db.runtime_dsn)
    try:
        for table, column in (("public.kora_role_charter", "workspace_id"),
                              ("public.actor_registry", "workspace_id"),
                              ("hivex_foundation.tenant", "clerk_org_id")):
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.current_workspace_id', 'org_a', "
                                   "true)")
                seen = {r[0] for r in await conn.fetch(f"SELECT {column} FROM {table}")}
            assert seen == {"org_a"}, table
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.current_workspace_id', 'org_a', true)")
            tenants = await conn.fetchval(
                "SELECT count(DISTINCT tenant_id) FROM hivex_foundation.event_log")
        assert tenants == 1
    finally:
        await conn.close()
