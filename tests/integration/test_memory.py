"""Pin namespaced memory against PostgreSQL as the runtime role."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from isokron.errors import InvalidInputError, NotFoundError, NotOwnedError
from isokron.stores import NamespaceMemory

TREE = [("org_root", None), ("team_a", "org_root"), ("ws_a1", "team_a"),
        ("team_b", "org_root"), ("ws_b1", "team_b"),
        ("team_ab", "org_root"), ("ws_ab1", "team_ab"), ("team_abc", "org_root"),
        ("ws_abc1", "team_abc")]


@pytest.fixture
async def memory(owner, runtime_pool):
    """A three-level workspace tree and a NamespaceMemory on the runtime pool."""
    for ws, parent in TREE:
        await owner.execute(
            "INSERT INTO isokron.workspaces (workspace_id, parent_id) VALUES ($1, $2)", ws, parent)
    return NamespaceMemory(runtime_pool)


async def _stored(owner, memory_id):
    return await owner.fetchval(
        "SELECT content FROM isokron.memory_records WHERE id = $1", uuid.UUID(memory_id))


async def test_resolver_on_a_three_level_tree(memory):
    """Leaf, team and root each get workspace/team/org; only the root may write org."""
    leaf = await memory.access("ws_a1")
    assert leaf.readable == ("workspace:ws_a1", "team:team_a", "org:org_root")
    assert leaf.writable == ("workspace:ws_a1", "team:team_a")
    team = await memory.access("team_a")
    assert team.readable == ("workspace:team_a", "team:org_root", "org:org_root")
    root = await memory.access("org_root")
    assert root.readable == ("workspace:org_root", "team:org_root", "org:org_root")
    assert root.writable == root.readable
    assert await memory.readable_namespaces("ws_a1") == list(leaf.readable)
    assert await memory.writable_namespaces("org_root") == list(root.writable)


async def test_reparenting_takes_effect_on_the_next_call(memory, owner):
    """Moving ws_a1 under team_b changes its team namespace immediately."""
    assert "team:team_a" in await memory.readable_namespaces("ws_a1")
    await owner.execute("UPDATE isokron.workspaces SET parent_id = 'team_b' WHERE workspace_id = 'ws_a1'")
    assert await memory.readable_namespaces("ws_a1") == [
        "workspace:ws_a1", "team:team_b", "org:org_root"]


async def test_unknown_workspace_is_an_error(memory):
    """A workspace missing from isokron.workspaces raises NotFoundError naming it."""
    with pytest.raises(NotFoundError, match="org_ghost"):
        await memory.readable_namespaces("org_ghost")


async def test_a_parent_cycle_does_not_hang(memory, owner):
    """A cycle in parent_id ends at the depth cap."""
    await owner.execute("INSERT INTO isokron.workspaces (workspace_id) VALUES ('cyc_a'), ('cyc_b')")
    await owner.execute("UPDATE isokron.workspaces SET parent_id = 'cyc_b' WHERE workspace_id = 'cyc_a'")
    await owner.execute("UPDATE isokron.workspaces SET parent_id = 'cyc_a' WHERE workspace_id = 'cyc_b'")
    access = await memory.access("cyc_a")
    assert access.readable[:2] == ("workspace:cyc_a", "team:cyc_b")


SECRETS = [
    ("OPENAI_API_KEY=sk-live-0123456789abcdef", "0123456789abcdef", "SECRET_ASSIGNMENT"),
    ("export GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdef", "SECRET_ASSIGNMENT"),
    ("STRIPE_SECRET='whsec_very_secret_value'", "whsec_very_secret_value", "SECRET_ASSIGNMENT"),
    ("DB_PASSWORD=hunter2hunter2", "hunter2hunter2", "SECRET_ASSIGNMENT"),
    ("curl -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig'", "eyJhbGciOiJIUzI1NiJ9", "BEARER_TOKEN"),
    ("the key is sk-proj-AbCdEfGhIjKlMnOpQrStUv", "sk-proj-AbCdEfGhIjKlMnOpQrStUv", "SK_KEY"),
    ("token ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "ghp_ABCDEFGHIJ", "GITHUB_TOKEN"),
    ("token gho_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "gho_ABCDEFGHIJ", "GITHUB_TOKEN"),
    ("token ghs_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "ghs_ABCDEFGHIJ", "GITHUB_TOKEN"),
    ("token ghu_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "ghu_ABCDEFGHIJ", "GITHUB_TOKEN"),
    ("token ghr_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "ghr_ABCDEFGHIJ", "GITHUB_TOKEN"),
    ("pat github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "github_pat_11ABCDEFG", "GITHUB_TOKEN"),
    ("aws id AKIAIOSFODNN7EXAMPLE in the vault", "AKIAIOSFODNN7EXAMPLE", "AWS_ACCESS_KEY_ID"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
     "b3BlbnNzaC1rZXktdjEAAAAA", "PRIVATE_KEY"),
    ("connect to postgresql://admin:Sup3rS3cret@db.internal:5432/prod", "Sup3rS3cret", "DATABASE_URL_PASSWORD"),
    ("blob " + "QmFzZTY0" * 6 + "aGVsbG8gd29ybGQ9PT0K", "QmFzZTY0QmFzZTY0", "BASE64_BLOB"),
]


@pytest.mark.parametrize(("content", "secret", "label"), SECRETS)
async def test_each_secret_pattern_is_redacted_before_storage(memory, owner, caplog, content,
                                                              secret, label):
    """The stored row holds [REDACTED:<LABEL>], never the secret; the log names only the label."""
    with caplog.at_level(logging.WARNING, logger="isokron.stores.memory"):
        record = await memory.commit("ws_a1", content)
    stored = await _stored(owner, record.id)
    assert secret not in stored and f"[REDACTED:{label}]" in stored
    assert record.content == stored
    assert label in caplog.text and secret not in caplog.text


async def test_hex_digests_are_not_mistaken_for_secrets(memory):
    """A SHA-256 hex digest in content is kept as written."""
    digest = hashlib.sha256(b"x").hexdigest()
    record = await memory.commit("ws_a1", f"charter hash {digest}")
    assert digest in record.content


async def test_commit_with_id_is_an_idempotent_upsert(memory, owner):
    """Re-running a commit with the same id updates in place and never duplicates."""
    mid = uuid.uuid4()
    await memory.commit("ws_a1", "first version", id=mid)
    again = await memory.commit("ws_a1", "second version", id=mid)
    assert again.id == str(mid) and again.content == "second version"
    assert await owner.fetchval("SELECT count(*) FROM isokron.memory_records") == 1
    first = await memory.commit("ws_a1", "no id")
    second = await memory.commit("ws_a1", "no id")
    # the same content again is the same memory (issue 26): seen twice, one row
    assert second.id == first.id and second.deduplicated and second.seen_count == 2
    assert await owner.fetchval("SELECT count(*) FROM isokron.memory_records") == 2


async def test_upsert_cannot_move_a_memory_into_another_namespace(memory):
    """An id living in workspace:ws_a1 cannot be overwritten through team:team_a."""
    mid = uuid.uuid4()
    await memory.commit("ws_a1", "private", id=mid)
    with pytest.raises(NotOwnedError, match="another namespace"):
        await memory.commit("ws_a1", "hijack", id=mid, namespace="team:team_a")


async def test_org_writes_are_audited_by_hash_and_others_are_not(memory, owner):
    """An org commit and forget write audit rows with the stored content's SHA-256 only."""
    await memory.commit("ws_a1", "team note", namespace="team:team_a")
    record = await memory.commit("org_root", "org policy DB_PASSWORD=hunter2hunter2",
                                 namespace="org:org_root")
    rows = await owner.fetch("SELECT * FROM isokron.memory_audit ORDER BY id")
    assert len(rows) == 1
    assert rows[0]["content_sha256"] == hashlib.sha256(record.content.encode()).hexdigest()
    assert (rows[0]["namespace"], rows[0]["workspace_id"], rows[0]["action"]) == (
        "org:org_root", "org_root", "commit")
    assert set(rows[0].keys()) == {"id", "memory_id", "namespace", "workspace_id", "action",
                                   "content_sha256", "created_at", "root_id"}  # no content
    await memory.forget("org_root", record.id)
    actions = [r["action"] for r in await owner.fetch("SELECT action FROM isokron.memory_audit ORDER BY id")]
    assert actions == ["commit", "forget"]


async def test_acl_is_checked_on_every_commit(memory, owner):
    """A leaf cannot write org or a foreign team; nothing is stored."""
    with pytest.raises(NotOwnedError, match="org:org_root"):
        await memory.commit("ws_a1", "x", namespace="org:org_root")
    with pytest.raises(NotOwnedError):
        await memory.commit("ws_a1", "x", namespace="team:team_b")
    assert await owner.fetchval("SELECT count(*) FROM isokron.memory_records") == 0
    assert await owner.fetchval("SELECT count(*) FROM isokron.memory_namespaces") == 0


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [({"content": "   "}, "non-blank"), ({"content": "x", "kind": "opinion"}, "kind"),
     ({"content": "x", "source": "oracle"}, "source"),
     ({"content": "x", "expires_at": datetime(2030, 1, 1)}, "timezone-aware"),
     ({"content": "x", "namespace": "Team:Bad Name"}, "namespace"),
     ({"content": "x", "id": "not-a-uuid"}, "UUID")],
)
async def test_bad_commits_are_rejected(memory, owner, kwargs, fragment):
    """Each bad argument is an InvalidInputError naming it; nothing is stored."""
    with pytest.raises(InvalidInputError, match=fragment):
        await memory.commit("ws_a1", **kwargs)
    assert await owner.fetchval("SELECT count(*) FROM isokron.memory_records") == 0


async def test_expired_memories_are_never_returned_and_reads_never_write(memory, owner):
    """Expired records and records in expired namespaces are invisible; search writes nothing."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    await memory.commit("ws_a1", "stale deploy note", expires_at=past)
    live = await memory.commit("ws_a1", "live deploy note",
                               expires_at=datetime.now(UTC) + timedelta(hours=1))
    await memory.commit("ws_a1", "team deploy note", namespace="team:team_a")
    await owner.execute("UPDATE isokron.memory_namespaces SET expires_at = now() - interval '1 s' "
                        "WHERE name = 'team:team_a'")
    before = await owner.fetch("SELECT id, updated_at FROM isokron.memory_records ORDER BY id")
    for query in (None, "deploy", "d"):
        found = await memory.search("ws_a1", query)
        assert [m.id for m in found] == [live.id], query
    after = await owner.fetch("SELECT id, updated_at FROM isokron.memory_records ORDER BY id")
    assert before == after


async def test_a_namespace_never_matches_a_sibling_sharing_its_prefix(memory):
    """team:team_ab does not see team:team_abc, even when asked for it by name."""
    await memory.commit("ws_abc1", "abc team secret plan", namespace="team:team_abc")
    await memory.commit("ws_ab1", "ab team plan", namespace="team:team_ab")
    seen = await memory.search("ws_ab1", "plan")
    assert [m.namespace for m in seen] == ["team:team_ab"]
    assert await memory.search("ws_ab1", "plan", namespaces=["team:team_abc"]) == []
    assert await memory.search("ws_ab1", namespaces=["team:team_a", "team:team_abc"]) == []


async def test_one_character_query_escapes_like_wildcards(memory):
    """'%' and '_' match literally."""
    await memory.commit("ws_a1", "we are 100% sure")
    await memory.commit("ws_a1", "snake_case name")
    await memory.commit("ws_a1", "plain text")
    assert [m.content for m in await memory.search("ws_a1", "%")] == ["we are 100% sure"]
    assert [m.content for m in await memory.search("ws_a1", "_")] == ["snake_case name"]


async def test_search_modes_ranking_pins_kinds_and_limits(memory):
    """FTS ranks by relevance, pinned first; no query lists recent; kinds and limit apply."""
    await memory.commit("ws_a1", "the deploy pipeline deploys the pipeline service nightly")
    await memory.commit("ws_a1", "lunch is at noon; unrelated to any pipeline")
    pinned = await memory.commit("ws_a1", "pinned: the pipeline owner is SEA", pin=True)
    await memory.commit("ws_a1", "session summary", kind="summary")
    both_terms = await memory.search("ws_a1", "deploy pipeline")
    assert [m.content for m in both_terms] == [
        "the deploy pipeline deploys the pipeline service nightly"]
    fts = await memory.search("ws_a1", "pipeline")
    assert fts[0].id == pinned.id
    assert fts[1].content.startswith("the deploy pipeline")
    recent = await memory.search("ws_a1")
    assert recent[0].id == pinned.id and recent[1].content == "session summary"
    assert [m.kind for m in await memory.search("ws_a1", kinds=["summary"])] == ["summary"]
    assert len(await memory.search("ws_a1", limit=0)) == 1
    for n in range(110):
        await memory.commit("ws_a1", f"bulk {n}")
    assert len(await memory.search("ws_a1", limit=10_000)) == 100
    assert len(await memory.search("ws_a1")) == 20


async def test_team_members_share_team_memory(memory):
    """A memory in team:team_a is visible to the team's workspaces, not to team_b's."""
    await memory.commit("ws_a1", "team standup moved to 10:00", namespace="team:team_a")
    assert len(await memory.search("team_a", "standup")) == 0  # team_a reads team:org_root
    assert len(await memory.search("ws_a1", "standup")) == 1
    assert await memory.search("ws_b1", "standup") == []


async def test_forget_only_in_a_writable_namespace(memory, owner):
    """A readable org memory is NotOwnedError; another tree's memory is not found at all."""
    org = await memory.commit("org_root", "org fact", namespace="org:org_root")
    mine = await memory.commit("ws_a1", "my fact")
    with pytest.raises(NotOwnedError):
        await memory.forget("ws_a1", org.id)
    with pytest.raises(NotFoundError, match=str(mine.id)):
        await memory.forget("ws_b1", mine.id)
    missing = uuid.uuid4()
    with pytest.raises(NotFoundError, match=str(missing)):
        await memory.forget("ws_a1", missing)
    await memory.forget("ws_a1", mine.id)
    assert await owner.fetchval("SELECT count(*) FROM isokron.memory_records") == 1


async def test_cosine_search_when_pgvector_is_installed(memory, owner):
    """With pgvector: nearest memories by cosine distance; without it: a clear error."""
    available = await owner.fetchval(
        "SELECT count(*) > 0 FROM pg_available_extensions WHERE name = 'vector'")
    assert await memory.supports_vectors() is available
    if not available:
        with pytest.raises(InvalidInputError, match="pgvector"):
            await memory.commit("ws_a1", "x", embedding=[1.0, 0.0])
        return
    east = await memory.commit("ws_a1", "points east", embedding=[1.0, 0.0, 0.0])
    north = await memory.commit("ws_a1", "points north", embedding=[0.0, 1.0, 0.0])
    mostly_east = await memory.commit("ws_a1", "mostly east", embedding=[0.9, 0.2, 0.0])
    await memory.commit("ws_a1", "no embedding at all")
    await memory.commit("ws_a1", "other model", embedding=[1.0, 0.0])  # other dimension
    found = await memory.search("ws_a1", embedding=[1.0, 0.05, 0.0])
    assert [m.id for m in found] == [east.id, mostly_east.id, north.id]
    assert await memory.search("ws_b1", embedding=[1.0, 0.0, 0.0]) == []  # ACL still applies
    with pytest.raises(InvalidInputError, match="finite"):
        await memory.search("ws_a1", embedding=[float("nan"), 1.0, 0.0])
    with pytest.raises(InvalidInputError, match="non-empty"):
        await memory.commit("ws_a1", "x", embedding=[])


async def test_namespace_lifecycle_patch_delete_and_purge(memory, owner, sweeper_pool, db):
    """patch/delete only writable namespaces (org by the root, audited); records cascade;
    purge removes a workspace's own namespace and shared ones nobody else reads."""
    from datetime import UTC, datetime, timedelta

    from isokron.errors import NotOwnedError
    from isokron.stores import purge_workspace

    await memory.commit("ws_a1", "private note")
    await memory.commit("ws_a1", "team note", namespace="team:team_a")
    await memory.commit("org_root", "org rule", namespace="org:org_root")
    when = datetime.now(UTC) + timedelta(days=3)
    patched = await memory.patch_namespace("ws_a1", "workspace:ws_a1", expires_at=when,
                                           metadata={"purpose": "scratch"})
    assert patched["expires_at"] == when and patched["metadata"] == {"purpose": "scratch"}
    kept = await memory.patch_namespace("ws_a1", "workspace:ws_a1", metadata={"v": 2})
    assert kept["expires_at"] == when  # left out: kept
    with pytest.raises(NotOwnedError):
        await memory.patch_namespace("ws_a1", "org:org_root", expires_at=None)
    with pytest.raises(NotOwnedError):
        await memory.delete_namespace("ws_b1", "team:team_a")
    await memory.patch_namespace("org_root", "org:org_root", metadata={"owner": "root"})
    assert await owner.fetchval("SELECT count(*) FROM isokron.memory_audit "
                                "WHERE action = 'patch_namespace'") == 1
    # purge ws_a1: its own namespace and team:team_a (only ws_a1 reads it) go; org:org_root
    # stays (the rest of the tree reads it)
    removed = await purge_workspace(sweeper_pool, "ws_a1")
    assert removed == [("workspace:ws_a1", 1), ("team:team_a", 1)]
    left = {r["content"] for r in await owner.fetch("SELECT content FROM isokron.memory_records")}
    assert left == {"org rule"}
    await memory.commit("ws_b1", "b team note", namespace="team:team_b")
    with pytest.raises(NotOwnedError, match="only its owner"):  # a member, not the owner
        await memory.delete_namespace("ws_b1", "team:team_b")
    assert await memory.delete_namespace("team_b", "team:team_b") == 1  # the team's owner
    assert await owner.fetchval("SELECT count(*) FROM isokron.memory_audit WHERE action = "
                                "'delete_namespace' AND namespace = 'team:team_b'") == 1
    with pytest.raises(Exception, match="permission denied"):
        await memory.pool.fetch("SELECT * FROM isokron.purge_workspace_v1('ws_b1')")


async def test_the_purge_cli_prints_what_it_removed(memory, db, capsys):
    from isokron.ops.cli import main

    await memory.commit("ws_b1", "note")
    code = await asyncio.to_thread(main, ["memory", "purge-workspace", "--dsn", db.sweeper_dsn,
                                          "--workspace", "ws_b1"])
    assert code == 0
    out = capsys.readouterr().out
    assert "removed workspace:ws_b1 (1 memories)" in out


async def test_export_then_import_into_an_empty_database_gives_the_same_searches(
        memory, db, tmp_path):
    """Export a tree (every member's private namespace, shared ones once), import it into
    a fresh database twice (idempotent), and every member's searches come back the same;
    a secret that slipped into an export file is redacted again on import."""
    import json

    from isokron.ops.cli import main
    from isokron.pool import create_pool
    from tests.conftest import _drop_database, create_test_database

    for leaf in ("ws_a1", "ws_b1", "team_a"):
        await memory.commit(leaf, f"{leaf} private deploy note")
    await memory.commit("ws_a1", "team a deploy note", namespace="team:team_a")
    await memory.commit("org_root", "org deploy rule", namespace="org:org_root", pin=True)
    members = ("org_root", "team_a", "ws_a1", "ws_b1", "ws_abc1")
    before = {m: [(r.id, r.content) for r in await memory.search(m, "deploy", limit=50)]
              for m in members}
    out = tmp_path / "tree.jsonl"
    assert await asyncio.to_thread(main, ["memory", "export", "--workspace", "ws_a1", "--dsn",
                                          db.sweeper_dsn, "--out", str(out)]) == 0
    assert out.stat().st_mode & 0o777 == 0o600  # tenant data: the owner's only
    items = [json.loads(line) for line in out.read_text().splitlines()]
    names = [i["name"] for i in items if i["type"] == "namespace"]
    assert len(names) == len(set(names))  # shared namespaces once
    assert {"workspace:ws_a1", "workspace:ws_b1", "org:org_root"} <= set(names)
    items.append({"type": "memory", "id": "7b0cbd5e-4b5e-4a8b-9d0e-6f3a2c1d0e9f",
                  "namespace": "workspace:ws_b1", "kind": "fact", "source": "user",
                  "pin": False, "expires_at": None, "created_at": None,
                  "content": "deploy key AKIAIOSFODNN7EXAMPLE"})
    out.write_text("".join(json.dumps(i) + "\n" for i in items))
    fresh = await create_test_database(db.cluster)
    try:
        for _ in range(2):  # idempotent
            assert await asyncio.to_thread(main, ["memory", "import", str(out), "--dsn",
                                                  fresh.dsn, "--workspace", "org_root"]) == 0
        pool = await create_pool(fresh.runtime_dsn, min_size=1, max_size=2)
        try:
            again = NamespaceMemory(pool)
            after = {m: [(r.id, r.content) for r in await again.search(m, "deploy", limit=50)
                         if "AKIA" not in r.content and "REDACTED" not in r.content]
                     for m in members}
            leaked = await pool.fetchval(
                "SELECT count(*) FROM isokron.memory_records WHERE content LIKE '%AKIA%'")
        finally:
            await pool.close()
    finally:
        await _drop_database(db.cluster.admin_dsn, fresh.name)
    assert after == before
    assert leaked == 0
