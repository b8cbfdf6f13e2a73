"""Recall against real PostgreSQL: natural-language ranking, conversations as memory, and
the tenant and user boundaries attacked with the API and with raw SQL as the runtime login."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import asyncpg
import pytest

from isokron import AsyncIsoKron
from isokron.errors import NotFoundError, NotOwnedError
from isokron.ops.cli import main
from isokron.stores import AgentSessionStore, NamespaceMemory, Recall, RequestContext

MINI = Path(__file__).resolve().parents[1] / "data" / "mini_locomo.json"


@pytest.fixture
async def two_tenants(owner):
    """Workspaces org_a (users alice and bob) and org_b (user mallory)."""
    for ws in ("org_a", "org_b"):
        await owner.execute("INSERT INTO isokron.workspaces (workspace_id) VALUES ($1)", ws)


async def _say(pool, ws: str, user: str, *texts: str, session: str = "s1") -> None:
    store = AgentSessionStore(pool)
    ctx = RequestContext(ws, user)
    sid = uuid.uuid5(uuid.NAMESPACE_URL, f"{ws}:{user}:{session}")
    await store.create_session(ctx, agent_name="kora", id=sid, title=session)
    await store.append_messages(ctx, sid, [{"role": "user", "content": t} for t in texts])


async def test_a_question_finds_the_turn_in_other_words(runtime_pool, two_tenants):
    """OR over the query's lexemes: the words of the question that are not in the turn
    ("when", "Caroline", "go") do not keep it from being found."""
    await _say(runtime_pool, "org_a", "alice",
               "I went to the LGBTQ support group yesterday, it was powerful",
               "The weather was nice", session="s1")
    await _say(runtime_pool, "org_a", "alice", "Unrelated: my car needs new tyres", session="s2")
    found = await Recall(runtime_pool).items(
        "org_a", "When did Caroline go to the LGBTQ support group?", user_id="alice")
    assert found and found[0].source == "message"
    assert found[0].content.startswith("I went to the LGBTQ support group")


async def test_stemming_matches_another_form_of_the_word(runtime_pool, two_tenants):
    """English stemming: a question with "moving" finds a turn that says "moves" and
    shares no other word with it."""
    await _say(runtime_pool, "org_a", "alice", "She moves next week", "The cat slept")
    found = await Recall(runtime_pool).items("org_a", "moving?", user_id="alice")
    assert [f.content for f in found] == ["She moves next week"]


async def test_adjacent_query_words_adjacent_in_the_text_rank_first(runtime_pool,
                                                                    two_tenants):
    """The phrase bonus: both turns hold "ice" and "cream"; the one where they stand
    together ranks first although it is the longer one (without the bonus, BM25's length
    normalisation puts the shorter first)."""
    await _say(runtime_pool, "org_a", "alice", "cream, then ice, then cake",
               "ice cream with dinner tonight")
    found = await Recall(runtime_pool).items("org_a", "ice cream", user_id="alice")
    assert [f.content for f in found] == ["ice cream with dinner tonight",
                                          "cream, then ice, then cake"]
    assert found[0].score > found[1].score


async def test_never_empty_while_any_word_matches(runtime_pool, two_tenants):
    """The query's only rare word is in no turn and its other word is common (too common
    to find candidates by): recall falls back to every word and still finds the turns."""
    await _say(runtime_pool, "org_a", "alice", *[f"the weather on day {n}" for n in range(60)])
    recall = Recall(runtime_pool)
    await recall.refresh_stats("org_a", user_id="alice")  # weather: 60 documents, not rare
    found = await recall.items("org_a", "weather zyxwvutsrq", user_id="alice", limit=5)
    assert len(found) == 5 and all("weather" in f.content for f in found)


async def test_rare_words_outrank_common_ones(runtime_pool, two_tenants):
    """IDF: with statistics, a match on a rare word beats matches on a common one."""
    common = [f"we talked about the weather on day {n}" for n in range(30)]
    await _say(runtime_pool, "org_a", "alice", *common,
               "the weather in Reykjavik was strange")
    await _say(runtime_pool, "org_a", "alice", "Reykjavik has a great harbour", session="s2")
    recall = Recall(runtime_pool)
    await recall.refresh_stats("org_a", user_id="alice")
    found = await recall.items("org_a", "weather in Reykjavik", user_id="alice", limit=3)
    assert [f.content for f in found[:2]] == ["the weather in Reykjavik was strange",
                                              "Reykjavik has a great harbour"]


async def test_memories_and_messages_come_back_in_one_list(runtime_pool, two_tenants):
    """One ranked list: a memory record and a message for the same query."""
    await NamespaceMemory(runtime_pool).commit("org_a", "Alice's dog is called Oscar")
    await _say(runtime_pool, "org_a", "alice", "I adopted a puppy, Oscar, last week")
    found = await Recall(runtime_pool).items("org_a", "what is the dog Oscar", user_id="alice")
    assert {f.source for f in found} == {"memory", "message"}
    memory = next(f for f in found if f.source == "memory")
    assert memory.namespace == "workspace:org_a" and memory.session_id is None
    message = next(f for f in found if f.source == "message")
    assert message.role == "user" and message.session_id is not None


async def test_user_b_of_the_same_workspace_recalls_nothing_of_user_a(runtime_pool,
                                                                     two_tenants):
    """Another user of the same workspace: none of alice's messages, through the API."""
    await _say(runtime_pool, "org_a", "alice", "my diagnosis is hypothyroidism")
    recall = Recall(runtime_pool)
    assert await recall.items("org_a", "diagnosis hypothyroidism", user_id="bob") == []
    assert await recall.items("org_a", "h", user_id="bob") == []  # the literal path too
    assert [f.source for f in await recall.items("org_a", "diagnosis", user_id="alice")] == [
        "message"]


async def test_tenant_b_recalls_nothing_of_tenant_a(runtime_pool, two_tenants):
    """Another workspace with the same user id: neither messages nor memories of org_a."""
    await NamespaceMemory(runtime_pool).commit("org_a", "the launch code is in the blue safe")
    await _say(runtime_pool, "org_a", "alice", "the launch code is in the blue safe")
    recall = Recall(runtime_pool)
    assert await recall.items("org_b", "launch code blue safe", user_id="alice") == []
    assert await recall.items("org_b", "l", user_id="alice") == []


async def test_raw_sql_as_the_runtime_role_reads_only_its_own_user(db, runtime_pool,
                                                                  two_tenants):
    """Raw SQL as a LOGIN member of isokron_runtime: recall_v1 under user B's or tenant B's
    settings returns none of user A's rows, and the statistics tables are closed."""
    await _say(runtime_pool, "org_a", "alice", "my diagnosis is hypothyroidism")
    await NamespaceMemory(runtime_pool).commit("org_a", "diagnosis codes live in the wiki")
    await Recall(runtime_pool).refresh_stats("org_a", user_id="alice")
    conn = await asyncpg.connect(db.runtime_dsn)
    try:
        for ws, tenant, user in (("org_a", "org_a", "bob"), ("org_b", "org_b", "alice"),
                                 ("org_b", "org_b", "mallory")):
            async with conn.transaction():
                for key, value in (("app.current_workspace_id", ws),
                                   ("app.current_tenant_id", tenant),
                                   ("app.current_user_id", user)):
                    await conn.execute("SELECT set_config($1, $2, true)", key, value)
                rows = await conn.fetch(
                    "SELECT source, content FROM isokron.recall_v1('diagnosis', NULL, 20, true)")
                messages = [r["content"] for r in rows if r["source"] == "message"]
                memories = [r["content"] for r in rows if r["source"] == "memory"]
                if ws == "org_a":  # workspace memory is shared by the workspace's users
                    assert memories == ["diagnosis codes live in the wiki"]
                else:
                    assert memories == [], (ws, tenant, user)
                assert messages == [], (ws, tenant, user)
        for table in ("recall_lexicon", "recall_corpora"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch(f"SELECT * FROM isokron.{table}")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT isokron.refresh_recall_corpus_v1('s', 'org_a', 'alice')")
    finally:
        await conn.close()


async def test_another_users_messages_never_shift_the_weights(runtime_pool, two_tenants):
    """Statistics are per corpus: bob's messages change nothing in alice's scores."""
    await _say(runtime_pool, "org_a", "alice", "the zebra escaped", "we fed the zebra",
               "the lion slept")
    recall = Recall(runtime_pool)
    await recall.refresh_stats("org_a", user_id="alice")
    before = [(f.content, f.score) for f in await recall.items("org_a", "zebra lion",
                                                               user_id="alice")]
    await _say(runtime_pool, "org_a", "bob", *[f"zebra {n}" for n in range(50)])
    await recall.refresh_stats("org_a", user_id="bob")
    after = [(f.content, f.score) for f in await recall.items("org_a", "zebra lion",
                                                              user_id="alice")]
    assert after == before


async def test_short_and_empty_queries(runtime_pool, two_tenants):
    """One character matches literally; stop words only or blank find nothing; an unknown
    workspace is NotFoundError."""
    await _say(runtime_pool, "org_a", "alice", "x marks the spot")
    recall = Recall(runtime_pool)
    assert [f.content for f in await recall.items("org_a", "x", user_id="alice")] == [
        "x marks the spot"]
    assert await recall.items("org_a", "the of and", user_id="alice") == []
    assert await recall.items("org_a", "   ", user_id="alice") == []
    with pytest.raises(NotFoundError):
        await recall.items("org_nowhere", "spot", user_id="alice")


async def test_the_sweeper_refreshes_stale_statistics(db, runtime_pool, sweeper_pool,
                                                      two_tenants, owner):
    """refresh_stale_recall_stats_v1 (the sweeper's role) covers every corpus with new rows;
    the runtime role may not call it."""
    await _say(runtime_pool, "org_a", "alice", "hello there")
    await NamespaceMemory(runtime_pool).commit("org_a", "a fact")
    async with sweeper_pool.acquire() as conn:
        assert await conn.fetchval("SELECT isokron.refresh_stale_recall_stats_v1()") == 2
        assert await conn.fetchval("SELECT isokron.refresh_stale_recall_stats_v1()") == 0
    corpora = await owner.fetch("SELECT source, key1, key2, docs FROM isokron.recall_corpora "
                                "ORDER BY source")
    assert [tuple(r) for r in corpora] == [("m", "org_a", "workspace:org_a", 1),
                                           ("s", "org_a", "alice", 1)]
    with pytest.raises(NotOwnedError):
        async with runtime_pool.acquire() as conn:
            from isokron.pool import translate_errors

            async with translate_errors("sweeping"):
                await conn.fetchval("SELECT isokron.refresh_stale_recall_stats_v1()")


async def _index_scans(owner) -> dict[str, int]:
    await owner.execute("SELECT pg_stat_clear_snapshot()")
    rows = await owner.fetch(
        "SELECT indexrelname, idx_scan FROM pg_stat_user_indexes WHERE indexrelname IN "
        "('agent_messages_search_tsv_idx', 'memory_records_search_tsv_idx')")
    return {r["indexrelname"]: r["idx_scan"] for r in rows}


async def test_recall_uses_the_gin_indexes(owner, two_tenants):
    """On 20,000 messages and 20,000 memories, recall_v1 scans both GIN indexes (their scan
    counters move) and the plan of its message candidates is a bitmap scan of the index."""
    await owner.execute(
        "INSERT INTO isokron.agent_sessions (id, tenant_id, user_id, agent_name) "
        "VALUES ('00000000-0000-0000-0000-000000000001', 'org_a', 'alice', 'kora')")
    await owner.execute(
        "INSERT INTO isokron.agent_messages (session_id, seq, role, content, tenant_id, user_id)"
        " SELECT '00000000-0000-0000-0000-000000000001', g, 'user', 'note ' || g || "
        " CASE WHEN g % 1000 = 0 THEN ' walrus' ELSE ' ordinary words' END, 'org_a', 'alice'"
        " FROM generate_series(1, 20000) g")
    await owner.execute(
        "INSERT INTO isokron.memory_namespaces (name, kind) "
        "VALUES ('workspace:org_a', 'workspace') ON CONFLICT DO NOTHING")
    await owner.execute(
        "INSERT INTO isokron.memory_records (namespace, content) "
        "SELECT 'workspace:org_a', 'fact ' || g || CASE WHEN g % 1000 = 0 THEN ' walrus' "
        "ELSE ' plain text' END FROM generate_series(1, 20000) g")
    # as autovacuum would: merge the GIN pending lists (until then the planner prefers a
    # sequential scan over a long pending list) and gather statistics
    await owner.execute("VACUUM ANALYZE isokron.agent_messages")
    await owner.execute("VACUUM ANALYZE isokron.memory_records")
    before = await _index_scans(owner)
    async with owner.transaction():
        for key, value in (("app.current_workspace_id", "org_a"),
                           ("app.current_tenant_id", "org_a"), ("app.current_user_id", "alice")):
            await owner.execute("SELECT set_config($1, $2, true)", key, value)
        rows = await owner.fetch("SELECT * FROM isokron.recall_v1('walrus', NULL, 50, true)")
        plan = "\n".join(r[0] for r in await owner.fetch(
            "EXPLAIN SELECT id FROM isokron.agent_messages m WHERE m.tenant_id = 'org_a' "
            "AND m.user_id = 'alice' AND m.search_tsv @@ 'walrus'::tsquery LIMIT 4000"))
    await owner.execute("SELECT pg_stat_force_next_flush()")
    after = await _index_scans(owner)
    assert len(rows) == 40  # 20 messages and 20 memories say walrus
    assert all(after[name] > before[name] for name in before), (before, after)
    assert "Bitmap Index Scan on agent_messages_search_tsv_idx" in plan, plan


async def test_the_core_recalls_what_the_user_said_in_an_earlier_session(db, two_tenants):
    """sync_turn in one session, recall_items and the block in a later one: found, dated,
    for the same user only; a trivial prompt recalls nothing."""
    config = {"dsn": db.runtime_dsn, "write_transport": "deferred"}
    async with AsyncIsoKron(config) as kron:
        await kron.sync_turn("org_a", "My sister Ingrid moves to Bergen in March",
                             "Noted!", session_id="week-1", user_id="alice")
        assert await kron.flush(10)
        items = await kron.recall_items("org_a", "Where is Ingrid moving?", user_id="alice")
        assert items[0].content == "My sister Ingrid moves to Bergen in March"
        assert await kron.recall_items("org_a", "Where is Ingrid moving?", user_id="bob") == []
        block = await kron.recall("org_a", "Where is Ingrid moving?", user_id="alice")
        assert "message role=user]: My sister Ingrid moves to Bergen in March" in block
        assert await kron.recall("org_a", "thanks!", user_id="alice") == ""


async def test_isokron_eval_recall_prints_metrics_beside_bm25(db, capsys, tmp_path):
    """`isokron eval recall` on a conversation written for the project: JSON with recall@k,
    hit@k and MRR for isokron and BM25, and the evidence found."""
    out = tmp_path / "eval.json"
    code = await asyncio.to_thread(main, ["eval", "recall", str(MINI), "--dsn", db.runtime_dsn,
                                          "--owner-dsn", db.dsn, "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    doc = json.loads(out.read_text())
    assert doc["questions"] == 4
    for ranking in ("isokron", "bm25"):
        assert set(doc[ranking]) == {*(f"{m}@{k}" for m in ("recall", "hit")
                                      for k in (1, 5, 10, 20)), "mrr", "no_result"}
    assert doc["isokron"]["recall@5"] == 1.0 and doc["isokron"]["no_result"] == 0.0
    assert json.loads(capsys.readouterr().out) == doc


async def test_a_sweeper_pass_refreshes_the_recall_statistics(runtime_pool, sweeper_pool,
                                                             two_tenants):
    """DelegationSweeper.sweep() recomputes the statistics of corpora with new rows."""
    from isokron.stores import DelegationSweeper

    await _say(runtime_pool, "org_a", "alice", "first words")
    sweeper = DelegationSweeper(sweeper_pool)
    first = await sweeper.sweep()
    assert first.errors == () and first.recall_stats_refreshed == 1
    assert (await sweeper.sweep()).recall_stats_refreshed == 0
    await _say(runtime_pool, "org_a", "alice", "more words", session="s2")
    assert (await sweeper.sweep()).recall_stats_refreshed == 1



async def test_a_planted_temp_table_never_runs_as_the_definer(db, runtime_pool, two_tenants):
    """The attack that reached every tenant's rows: tenant B plants pg_temp objects a
    SECURITY DEFINER function could resolve (a table with a trigger that reads as the
    definer); refreshing its own statistics runs none of it."""
    await _say(runtime_pool, "org_a", "alice", "my diagnosis is hypothyroidism")
    conn = await asyncpg.connect(db.runtime_dsn)
    seen: list[str] = []
    conn.add_log_listener(lambda _c, message: seen.append(message.message))
    try:
        await conn.execute("""
            CREATE TEMP TABLE recall_refresh (lexeme text PRIMARY KEY, df integer);
            GRANT ALL ON recall_refresh TO isokron_definer;
            CREATE FUNCTION pg_temp.steal() RETURNS trigger LANGUAGE plpgsql AS $f$
            BEGIN
                RAISE NOTICE 'stolen: %', (SELECT string_agg(content, ' | ')
                                             FROM isokron.agent_messages);
                RETURN NULL;
            END $f$;
            CREATE TRIGGER steal AFTER INSERT ON recall_refresh
                FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.steal();
        """)
        async with conn.transaction():
            for key, value in (("app.current_workspace_id", "org_b"),
                               ("app.current_tenant_id", "org_b"),
                               ("app.current_user_id", "mallory")):
                await conn.execute("SELECT set_config($1, $2, true)", key, value)
            await conn.fetchval("SELECT isokron.refresh_recall_stats_v1()")
            await conn.fetch("SELECT * FROM isokron.recall_v1('diagnosis', NULL, 10, true)")
        assert await conn.fetchval("SELECT count(*) FROM recall_refresh") == 0
    finally:
        await conn.close()
    assert not any("stolen" in line for line in seen), seen
    sources = await db_sources(db)
    assert all("recall_refresh" not in s for s in sources)


async def db_sources(db) -> list[str]:
    """The bodies of isokron's SECURITY DEFINER functions."""
    conn = await asyncpg.connect(db.dsn)
    try:
        rows = await conn.fetch("SELECT prosrc FROM pg_proc WHERE prosecdef "
                                "AND pronamespace = 'isokron'::regnamespace")
        return [r["prosrc"] for r in rows]
    finally:
        await conn.close()


async def test_an_expired_namespace_is_recalled_by_no_path(runtime_pool, two_tenants):
    """Ranked and one-character recall skip records of an expired namespace (and of an
    expired record)."""
    from datetime import UTC, datetime, timedelta

    memory = NamespaceMemory(runtime_pool)
    await memory.commit("org_a", "team secret guava", namespace="team:org_a")
    await memory.commit("org_a", "old guava", expires_at=datetime.now(UTC) + timedelta(
        milliseconds=300))
    await asyncio.sleep(0.4)
    await memory.patch_namespace("org_a", "team:org_a",
                                 expires_at=datetime.now(UTC) - timedelta(minutes=5))
    recall = Recall(runtime_pool)
    assert await recall.items("org_a", "guava") == []
    assert await recall.items("org_a", "g") == []
    assert await recall.items("org_a", "g", namespaces=["team:org_a"]) == []


async def test_erased_text_leaves_the_statistics_at_the_next_sweep(runtime_pool, sweeper_pool,
                                                                  owner, two_tenants):
    """Deleted messages and expired memories stop counting in the document frequencies once
    a sweeper pass has run: nothing answers "did this word ever appear"."""
    from isokron.stores import DelegationSweeper

    await _say(runtime_pool, "org_a", "alice", "zanzibar swordfish")
    sweeper = DelegationSweeper(sweeper_pool)
    await sweeper.sweep()
    lexicon = "SELECT count(*) FROM isokron.recall_lexicon WHERE key2 = 'alice'"
    assert await owner.fetchval(lexicon) == 2
    sessions = AgentSessionStore(runtime_pool)
    ctx = RequestContext("org_a", "alice")
    for session in await sessions.list_sessions(ctx):
        await sessions.delete_session(ctx, session.id)
    assert (await sweeper.sweep()).recall_stats_refreshed == 1
    assert await owner.fetchval(lexicon) == 0
    assert await owner.fetchval("SELECT count(*) FROM isokron.recall_corpora "
                                "WHERE key2 = 'alice'") == 0


async def test_bad_recall_input_is_a_typed_error(runtime_pool, two_tenants):
    """A bad limit, user id, namespace or query: InvalidInputError naming it, nothing run."""
    from isokron.errors import InvalidInputError

    recall = Recall(runtime_pool)
    for kwargs, named in (({"limit": "10"}, "limit"), ({"user_id": ""}, "user_id"),
                          ({"namespaces": ["not a name"]}, "namespace"),
                          ({"query": "x" * 2001}, "query")):
        query = kwargs.pop("query", "anything")
        with pytest.raises(InvalidInputError, match=named):
            await recall.items("org_a", query, **kwargs)
