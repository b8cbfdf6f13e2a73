"""Path-like tokens are split into their words (0029, issue 25 finding 4): "Europe/Oslo",
URLs, "A/B" and "and/or" are found by each of their words, by memory search and by recall,
and an upgrade recomputes the stored tsvectors and the recall statistics."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from isokron.schema import migrate
from isokron.stores import AgentSessionStore, NamespaceMemory, Recall, RequestContext


@pytest.fixture
async def org_a(owner):
    """Workspace org_a."""
    await owner.execute("INSERT INTO isokron.workspaces (workspace_id) VALUES ('org_a')")


async def _say(pool, user: str, *texts: str) -> None:
    store = AgentSessionStore(pool)
    ctx = RequestContext("org_a", user)
    sid = uuid.uuid4()
    await store.create_session(ctx, agent_name="kora", id=sid, title="s")
    await store.append_messages(ctx, sid, [{"role": "user", "content": t} for t in texts])


async def test_the_words_of_a_path_like_token(owner):
    """The helper turns '/' and '\\' into spaces; the English configuration then sees words
    ("Europe/Oslo" was one lexeme, 'europe/oslo')."""
    lexemes = await owner.fetchval(
        "SELECT array_agg(l ORDER BY l) FROM unnest(tsvector_to_array(to_tsvector('english', "
        "isokron.search_text_v1($1)))) l",
        r"tz Europe/Oslo, and/or A/B test, C:\Users\kora\notes.txt")
    assert lexemes == sorted(["tz", "europ", "oslo", "b", "test", "c", "user", "kora",
                              "notes.txt"])
    assert await owner.fetchval("SELECT isokron.search_text_v1(NULL)") is None


async def test_a_memory_with_a_time_zone_is_found_by_the_city(runtime_pool, org_a):
    """"Oslo" finds "Europe/Oslo" through memory search and recall; the whole token and a
    phrase still find it."""
    memory = NamespaceMemory(runtime_pool)
    await memory.commit("org_a", "Alice's time zone is Europe/Oslo")
    await memory.commit("org_a", "Bob lives in Lisbon")
    for query in ("Oslo", "Europe/Oslo", '"Europe Oslo"', "europe"):
        found = await memory.search("org_a", query)
        assert [r.content for r in found] == ["Alice's time zone is Europe/Oslo"], query
    recall = Recall(runtime_pool)
    for query in ("Oslo", "Europe/Oslo", "which time zone, Oslo?"):
        items = await recall.items("org_a", query)
        assert [i.content for i in items][:1] == ["Alice's time zone is Europe/Oslo"], query
        assert items[0].source == "memory"
    await recall.refresh_stats("org_a")  # with statistics too
    items = await recall.items("org_a", "Oslo")
    assert [i.content for i in items] == ["Alice's time zone is Europe/Oslo"]


async def test_a_message_with_a_url_is_recalled_by_a_path_word(runtime_pool, org_a):
    """A URL's path segments are words: "setup" recalls the turn that links the page."""
    await _say(runtime_pool, "alice", "the guide is at https://example.com/docs/setup",
               "lunch was fine", "we chose plan A/B and/or C")
    recall = Recall(runtime_pool)
    for _ in range(2):  # without statistics, then with them
        items = await recall.items("org_a", "setup", user_id="alice")
        assert [i.content for i in items] == ["the guide is at https://example.com/docs/setup"]
        assert items[0].source == "message" and items[0].role == "user"
        items = await recall.items("org_a", "which docs?", user_id="alice")
        assert [i.content for i in items] == ["the guide is at https://example.com/docs/setup"]
        items = await recall.items("org_a", "plan B", user_id="alice")
        assert [i.content for i in items] == ["we chose plan A/B and/or C"]
        await recall.refresh_stats("org_a", user_id="alice")


async def test_an_upgrade_recomputes_the_tsvectors_and_the_statistics(empty_db):
    """0029 on a database with rows and statistics: every row is kept, its tsvector holds
    the words, the GIN indexes are back, and the lexicon knows 'oslo', not 'europe/oslo'."""
    await migrate(empty_db.dsn, target="0028_quotas")
    conn = await asyncpg.connect(empty_db.dsn)
    try:
        session = uuid.uuid4()
        await conn.execute("INSERT INTO isokron.workspaces (workspace_id) VALUES ('org_a')")
        await conn.execute("INSERT INTO isokron.memory_namespaces (root_id, name, kind) "
                           "VALUES ('org_a', 'workspace:org_a', 'workspace')")
        await conn.execute("INSERT INTO isokron.memory_records (root_id, namespace, content) "
                           "VALUES ('org_a', 'workspace:org_a', 'tz Europe/Oslo'), "
                           "('org_a', 'workspace:org_a', 'plain words')")
        await conn.execute("INSERT INTO isokron.agent_sessions (id, tenant_id, user_id, "
                           "agent_name) VALUES ($1, 'org_a', 'u', 'k')", session)
        await conn.execute("INSERT INTO isokron.agent_messages (session_id, seq, role, content, "
                           "tenant_id, user_id) VALUES ($1, 1, 'user', "
                           "'see https://example.com/docs/setup', 'org_a', 'u')", session)
        for source, key2 in (("m", "workspace:org_a"), ("s", "u")):
            await conn.execute("SELECT isokron.refresh_recall_corpus_v1($1, 'org_a', $2)",
                               source, key2)
        lexicon = "SELECT array_agg(lexeme ORDER BY lexeme) FROM isokron.recall_lexicon " \
                  "WHERE source = $1"
        assert "europe/oslo" in await conn.fetchval(lexicon, "m")
        assert await migrate(empty_db.dsn, target="0029_search_words") == ["0029_search_words"]
        assert await conn.fetchval("SELECT count(*) FROM isokron.memory_records") == 2
        assert await conn.fetchval("SELECT count(*) FROM isokron.agent_messages") == 1
        assert await conn.fetchval(
            "SELECT count(*) FROM isokron.memory_records WHERE search_tsv @@ 'oslo'::tsquery"
        ) == 1
        assert await conn.fetchval(
            "SELECT count(*) FROM isokron.agent_messages WHERE search_tsv @@ 'setup'::tsquery"
        ) == 1
        memory_lexemes = await conn.fetchval(lexicon, "m")
        assert "oslo" in memory_lexemes and "europe/oslo" not in memory_lexemes
        assert "setup" in await conn.fetchval(lexicon, "s")
        indexes = {r["indexname"] for r in await conn.fetch(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'isokron'")}
        assert {"memory_records_search_tsv_idx", "agent_messages_search_tsv_idx"} <= indexes
        assert await conn.fetchval("SELECT count(*) FROM pg_proc WHERE proname = "
                                   "'refresh_recall_corpora_0029'") == 0
    finally:
        await conn.close()
