"""Memory that stays true (issue 26): duplicates collapse, supersession and the two times,
retraction, lineage; attacked by another tenant, a sibling and raw SQL as the runtime."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from isokron.errors import (
    DuplicateMemoryError,
    InvalidInputError,
    NotFoundError,
    NotOwnedError,
    SupersededError,
)
from isokron.ops.cli import main
from isokron.stores import NamespaceMemory

from .test_memory import TREE

OTHER_TREE = [("org_other", None), ("ws_x", "org_other")]


@pytest.fixture
async def memory(owner, runtime_pool):
    for ws, parent in TREE + OTHER_TREE:
        await owner.execute(
            "INSERT INTO isokron.workspaces (workspace_id, parent_id) VALUES ($1, $2)", ws, parent)
    return NamespaceMemory(runtime_pool)


async def _count(owner, namespace: str) -> int:
    return int(await owner.fetchval(
        "SELECT count(*) FROM isokron.memory_records WHERE namespace = $1", namespace))


async def test_the_same_fact_after_normalisation_is_one_memory_seen_again(memory, owner):
    """Case, white space, NFKC and trailing punctuation: one row, seen_count counts."""
    first = await memory.commit("ws_a1", "The user prefers Oslo.", user_id="alice")
    again = []
    for text in ("  the USER   prefers\toslo ", "Ｔｈｅ user prefers Oslo!!", "The user prefers Oslo"):
        again.append(await memory.commit("ws_a1", text))
    assert {r.id for r in again} == {first.id} and all(r.deduplicated for r in again)
    assert again[-1].seen_count == 4 and again[-1].last_seen_at > first.last_seen_at
    assert again[-1].content == "The user prefers Oslo." and again[-1].user_id == "alice"
    assert await _count(owner, "workspace:ws_a1") == 1
    # another namespace, or different words, is another memory
    other = await memory.commit("ws_a1", "The user prefers Oslo.", namespace="team:team_a")
    assert other.id != first.id and not other.deduplicated
    assert (await memory.commit("ws_a1", "The user prefers Bergen.")).id != first.id
    assert [r.content for r in await memory.search("ws_a1", "Oslo")].count(
        "The user prefers Oslo.") == 2  # one per namespace


async def test_concurrent_commits_of_the_same_text_give_one_row(memory, owner, db):
    """Eight connections commit the same text at once (eight transactions racing on the
    unique index), and 50 gathered commits on one pool (one statement): one row each."""
    conns = [await asyncpg.connect(db.runtime_dsn) for _ in range(8)]
    try:
        stores = [NamespaceMemory(c) for c in conns]
        results = await asyncio.gather(*(
            s.commit("ws_a1", "Deploys freeze on Fridays") for s in stores))
    finally:
        for c in conns:
            await c.close()
    assert len({r.id for r in results}) == 1
    assert await _count(owner, "workspace:ws_a1") == 1
    assert await owner.fetchval("SELECT seen_count FROM isokron.memory_records") == 8
    gathered = await asyncio.gather(*(
        memory.commit("ws_a1", f"Standup at {'nine' if n % 2 else 'NINE'}.") for n in range(50)))
    assert len({r.id for r in gathered}) == 1
    assert await _count(owner, "workspace:ws_a1") == 2
    assert await owner.fetchval("SELECT seen_count FROM isokron.memory_records "
                                "WHERE content LIKE 'Standup%'") == 50


async def test_an_update_by_id_may_not_duplicate_another_memory(memory, owner):
    """Rewriting memory B to say what A says is refused, B untouched."""
    a = await memory.commit("ws_a1", "Lunch is at noon")
    b = await memory.commit("ws_a1", "Lunch is at one")
    with pytest.raises(DuplicateMemoryError, match=a.id):
        await memory.commit("ws_a1", "lunch is at noon!", id=b.id)
    assert await owner.fetchval("SELECT content FROM isokron.memory_records WHERE id = $1",
                                uuid.UUID(b.id)) == "Lunch is at one"


async def test_supersession_with_both_times(memory, owner):
    """Current search sees the new fact; as_of before the change and valid_at before its
    valid_from see the old one; the lineage runs both ways."""
    old = await memory.commit("ws_a1", "Alice lives in Oslo",
                              valid_from=datetime(2020, 1, 1, tzinfo=UTC))
    before = await owner.fetchval("SELECT now()")
    await asyncio.sleep(0.01)
    moved = datetime.now(UTC) - timedelta(days=30)
    done = await memory.supersede("ws_a1", old.id, "Alice lives in Berlin", valid_from=moved)
    assert done.old.superseded_by == done.new.id and done.old.valid_to == moved
    assert done.new.supersedes == old.id and done.new.valid_from == moved
    assert [r.content for r in await memory.search("ws_a1", "Alice")] == [
        "Alice lives in Berlin"]
    believed = await memory.search("ws_a1", "Alice", as_of=before)
    assert [r.content for r in believed] == ["Alice lives in Oslo"]
    true_then = await memory.search("ws_a1", "Alice", valid_at=moved - timedelta(days=1))
    assert [r.content for r in true_then] == ["Alice lives in Oslo"]
    assert [r.content for r in await memory.search("ws_a1", as_of=before)] == [
        "Alice lives in Oslo"]  # the recent listing too
    for start in (old.id, done.new.id):
        assert [r.id for r in await memory.history("ws_a1", start)] == [old.id, done.new.id]
    with pytest.raises(SupersededError, match=done.new.id):
        await memory.supersede("ws_a1", old.id, "Alice lives in Rome")
    with pytest.raises(SupersededError):
        await memory.commit("ws_a1", "Alice lives in Rome", id=old.id)
    with pytest.raises(InvalidInputError, match="valid_from"):
        await memory.supersede("ws_a1", done.new.id, "Alice lives in Rome",
                               valid_from=datetime(2019, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidInputError, match="already says"):
        await memory.supersede("ws_a1", done.new.id, "alice lives in berlin.")
    assert await _count(owner, "workspace:ws_a1") == 2


async def test_a_change_from_next_week_leaves_the_old_fact_current(memory):
    """A successor valid from the future: the old record is current until then."""
    old = await memory.commit("ws_a1", "The office is on floor 2")
    later = datetime.now(UTC) + timedelta(days=7)
    await memory.supersede("ws_a1", old.id, "The office is on floor 5", valid_from=later)
    assert [r.content for r in await memory.search("ws_a1", "office")] == [
        "The office is on floor 2"]
    assert [r.content for r in await memory.search(
        "ws_a1", "office", valid_at=later + timedelta(hours=1))] == ["The office is on floor 5"]


async def test_two_racing_supersessions_one_wins(memory, db):
    """Two connections supersede the same record at once: one succeeds, one is refused."""
    old = await memory.commit("ws_a1", "The rota is weekly")
    conns = [await asyncpg.connect(db.runtime_dsn) for _ in range(2)]
    try:
        results = await asyncio.gather(*(
            NamespaceMemory(c).supersede("ws_a1", old.id, text)
            for c, text in zip(conns, ("The rota is daily", "The rota is monthly"),
                               strict=True)), return_exceptions=True)
    finally:
        for c in conns:
            await c.close()
    assert sum(isinstance(r, SupersededError) for r in results) == 1
    chain = await memory.history("ws_a1", old.id)
    assert len(chain) == 2


async def test_forget_retracts_team_and_org_memory_and_deletes_the_workspaces_own(memory, owner):
    """Team/org: retracted, audited, gone from search, still there as_of before; a
    workspace memory is deleted; the same content may be committed afresh."""
    team = await memory.commit("ws_a1", "Team uses trunk-based development",
                               namespace="team:team_a")
    mine = await memory.commit("ws_a1", "My scratch note")
    before = await owner.fetchval("SELECT now()")
    await asyncio.sleep(0.01)
    assert (await memory.forget("ws_a1", team.id)).action == "retracted"
    assert (await memory.forget("ws_a1", mine.id)).action == "deleted"
    assert await memory.search("ws_a1", "trunk") == []
    assert [r.id for r in await memory.search("ws_a1", "trunk", as_of=before)] == [team.id]
    assert await owner.fetchval("SELECT retracted_at IS NOT NULL FROM isokron.memory_records "
                                "WHERE id = $1", uuid.UUID(team.id))
    assert await owner.fetchval("SELECT count(*) FROM isokron.memory_records WHERE id = $1",
                                uuid.UUID(mine.id)) == 0
    assert await owner.fetchval("SELECT action FROM isokron.memory_audit WHERE memory_id = $1 "
                                "ORDER BY id DESC LIMIT 1", uuid.UUID(team.id)) == "forget"
    with pytest.raises(NotFoundError):
        await memory.forget("ws_a1", team.id)
    again = await memory.commit("ws_a1", "Team uses trunk-based development",
                                namespace="team:team_a")
    assert again.id != team.id and not again.deduplicated
    assert [r.id for r in await memory.history("ws_a1", team.id)] == [team.id]


async def test_another_tenant_and_a_sibling_cannot_supersede_trace_or_forget(memory, owner):
    """Tenant B (another tree) and a sibling workspace get NotFoundError; a leaf that only
    reads the org memory gets NotOwnedError; nothing changes."""
    mine = await memory.commit("ws_a1", "Alice is on call", namespace="team:team_a")
    org = await memory.commit("org_root", "Org rule: UTC", namespace="org:org_root")
    for attacker in ("ws_x", "org_other", "ws_b1"):
        with pytest.raises(NotFoundError):
            await memory.supersede(attacker, mine.id, "Mallory is on call")
        with pytest.raises(NotFoundError):
            await memory.history(attacker, mine.id)
        with pytest.raises(NotFoundError):
            await memory.forget(attacker, mine.id)
    with pytest.raises(NotOwnedError):
        await memory.supersede("ws_a1", org.id, "Org rule: local time")
    with pytest.raises(NotOwnedError):
        await memory.forget("ws_a1", org.id)
    assert [r.id for r in await memory.history("ws_a1", org.id)] == [org.id]  # readable
    rows = await owner.fetch("SELECT content, superseded_by, retracted_at "
                             "FROM isokron.memory_records ORDER BY content")
    assert [(r["content"], r["superseded_by"], r["retracted_at"]) for r in rows] == [
        ("Alice is on call", None, None), ("Org rule: UTC", None, None)]


async def test_raw_sql_as_the_runtime_cannot_forge_history(memory, attacker, owner):
    """A runtime login writing transaction time or lineage itself, deleting a team row, or
    calling the definer functions for another tree: refused."""
    team = await memory.commit("ws_a1", "Team fact", namespace="team:team_a")
    mine = await memory.commit("ws_a1", "My fact")

    async def as_ws(ws: str, sql: str, *args):
        async with attacker.transaction():
            await attacker.execute("SELECT set_config('app.current_workspace_id', $1, true)", ws)
            return await attacker.execute(sql, *args)

    for sql in ("UPDATE isokron.memory_records SET retracted_at = now() WHERE id = $1",
                "UPDATE isokron.memory_records SET recorded_at = now() - interval '1 year' "
                "WHERE id = $1",
                "UPDATE isokron.memory_records SET superseded_by = gen_random_uuid(), "
                "superseded_at = now() WHERE id = $1",
                "UPDATE isokron.memory_records SET retracted_at = NULL WHERE id = $1"):
        for target in (team.id, mine.id):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await as_ws("ws_a1", sql, uuid.UUID(target))
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await as_ws("ws_a1", "INSERT INTO isokron.memory_records (namespace, content, "
                             "recorded_at) VALUES ('workspace:ws_a1', 'backdated', "
                             "now() - interval '1 year')")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await as_ws("ws_a1", "INSERT INTO isokron.memory_records (namespace, content, "
                             "retracted_at) VALUES ('workspace:ws_a1', 'pre-retracted', now())")
    assert await as_ws("ws_a1", "DELETE FROM isokron.memory_records WHERE id = $1",
                       uuid.UUID(team.id)) == "DELETE 0"
    for fn, args in (("memory_forget_v1($1, $2, NULL)", ("ws_x", uuid.UUID(team.id))),
                     ("memory_supersede_v1($1, $2, gen_random_uuid(), 'x', 'agent', NULL, "
                      "NULL)", ("ws_x", uuid.UUID(team.id))),
                     ("memory_revive_v1($1, 'team:team_a', $2)", ("ws_x", uuid.UUID(team.id)))):
        with pytest.raises(asyncpg.PostgresError):
            await as_ws("ws_x", f"SELECT isokron.{fn}", *args)
    rows = await owner.fetch("SELECT content, retracted_at, superseded_by, recorded_at = "
                             "created_at AS same FROM isokron.memory_records ORDER BY content")
    assert [tuple(r) for r in rows] == [("My fact", None, None, True),
                                        ("Team fact", None, None, True)]


async def test_the_tool_supersedes_with_redaction_and_records_the_user(memory, owner):
    """isokron_memory_update through the engine: redacted, the user recorded, envelope."""
    import json

    from isokron import AsyncIsoKron, IsoKronConfig

    kron = AsyncIsoKron(IsoKronConfig(dsn="postgresql://unused/x"), memory=memory)
    first = json.loads(await kron.handle_tool("ws_a1", "isokron_memory_commit",
                                              {"content": "Bob's key is in the drawer"},
                                              user_id="bob"))
    updated = json.loads(await kron.handle_tool(
        "ws_a1", "isokron_memory_update",
        {"memory_id": first["memory"]["id"],
         "content": "Bob's token is ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"},
        user_id="bob"))
    assert updated["ok"], updated
    assert "ghp_" not in updated["memory"]["content"]
    assert updated["memory"]["user_id"] == "bob" and first["memory"]["user_id"] == "bob"
    bad = json.loads(await kron.handle_tool("ws_a1", "isokron_memory_update",
                                            {"memory_id": first["memory"]["id"],
                                             "content": "again"}, user_id="bob"))
    assert bad["error"]["type"] == "SupersededError"
    stored = await owner.fetchval("SELECT string_agg(content, '|') FROM isokron.memory_records")
    assert "ghp_" not in stored


async def test_an_upgrade_keeps_every_row_and_reports_duplicates(empty_db, capsys):
    """0031 on a database with duplicates: every row kept, recorded_at from created_at,
    the copies marked, listed by `isokron memory dedup`, folded only by --merge."""
    from isokron.schema import migrate

    await migrate(empty_db.dsn, target="0030_quota_gaps")
    conn = await asyncpg.connect(empty_db.dsn)
    try:
        await conn.execute("INSERT INTO isokron.workspaces (workspace_id) VALUES ('w')")
        await conn.execute("INSERT INTO isokron.memory_namespaces (root_id, name, kind) "
                           "VALUES ('w', 'workspace:w', 'workspace')")
        await conn.execute(
            "INSERT INTO isokron.memory_records (root_id, namespace, content, created_at) "
            "VALUES ('w', 'workspace:w', 'Use UTC.', '2024-01-01Z'), "
            "('w', 'workspace:w', 'use utc', '2024-02-01Z'), "
            "('w', 'workspace:w', 'USE UTC!', '2024-03-01Z'), "
            "('w', 'workspace:w', 'Use ISO dates', '2024-04-01Z')")
        applied = await migrate(empty_db.dsn)
        assert applied[:2] == ["0031_memory_lifecycle", "0032_memory_truth"]
        rows = await conn.fetch("SELECT content, recorded_at = created_at AS kept, "
                                "unmerged_duplicate_of IS NOT NULL AS dup "
                                "FROM isokron.memory_records ORDER BY created_at")
        assert [tuple(r) for r in rows] == [("Use UTC.", True, False), ("use utc", True, True),
                                            ("USE UTC!", True, True),
                                            ("Use ISO dates", True, False)]
        sweeper = empty_db.sweeper_dsn
        capsys.readouterr()
        assert await asyncio.to_thread(main, ["memory", "dedup", "--dsn", sweeper]) == 0
        out = capsys.readouterr().out
        assert "w workspace:w: 2 duplicate(s) of" in out and "--merge" in out
        assert await conn.fetchval("SELECT count(*) FROM isokron.memory_records") == 4
        assert await asyncio.to_thread(
            main, ["memory", "dedup", "--merge", "--dsn", sweeper]) == 0
        assert "2 merged into" in capsys.readouterr().out
        assert await conn.fetchval("SELECT count(*) FROM isokron.memory_records") == 2
        assert await conn.fetchval("SELECT seen_count FROM isokron.memory_records "
                                   "WHERE content = 'Use UTC.'") == 3
        assert await asyncio.to_thread(main, ["memory", "dedup", "--dsn", sweeper]) == 0
        assert "no duplicate memories" in capsys.readouterr().out
    finally:
        await conn.close()


async def test_an_export_carries_what_is_true_not_the_history(memory, sweeper_pool):
    """Retracted and superseded records stay behind, so an import never revives them."""
    from isokron.stores import export_memory

    old = await memory.commit("org_root", "Org rule: UTC", namespace="org:org_root")
    await memory.supersede("org_root", old.id, "Org rule: UTC, ISO 8601 dates")
    gone = await memory.commit("org_root", "Org rule: tabs", namespace="org:org_root")
    await memory.forget("org_root", gone.id)
    items = await export_memory(sweeper_pool, "org_root")
    assert [i["content"] for i in items if i["type"] == "memory"] == [
        "Org rule: UTC, ISO 8601 dates"]


async def test_recall_shows_only_what_is_true_now(memory, owner, runtime_pool):
    """The recall block's source: a retracted team memory, a superseded fact (its successor
    valid) and an upgrade-marked duplicate are not recalled; a fact superseded from next
    week still is, and so is its successor only once valid. The one-letter path too."""
    from isokron.stores import Recall

    recall = Recall(runtime_pool)
    team = await memory.commit("ws_a1", "Team deploys on Fridays", namespace="team:team_a")
    oslo = await memory.commit("ws_a1", "Alice lives in Oslo")
    rota = await memory.commit("ws_a1", "Bob owns the rota")
    await memory.forget("ws_a1", team.id)
    await memory.supersede("ws_a1", oslo.id, "Alice lives in Berlin")
    await memory.supersede("ws_a1", rota.id, "Carol owns the rota",
                           valid_from=datetime.now(UTC) + timedelta(days=7))
    # a legacy duplicate as an upgrade marks it (the owner's write: the runtime may not)
    await owner.execute(
        "INSERT INTO isokron.memory_records (root_id, namespace, content, "
        "unmerged_duplicate_of) VALUES ('org_root', 'workspace:ws_a1', 'Bob owns the rota!', $1)",
        uuid.UUID(rota.id))

    async def said(query: str) -> list[str]:
        return [i.content for i in await recall.items("ws_a1", query, limit=20)]

    assert await said("Fridays deploys") == []
    assert await said("Alice lives") == ["Alice lives in Berlin"]
    assert await said("rota owns") == ["Bob owns the rota"]
    assert sorted(await said("b")) == ["Alice lives in Berlin", "Bob owns the rota"]
    assert "Team deploys on Fridays" not in await said("F")
