"""Hybrid recall against real PostgreSQL with pgvector: texts embedded off the hot path
with their model, lexical and vector candidates fused in one statement, fallbacks when the
embedder fails, the backfill, and the tenant and user boundaries attacked with the API and
with raw SQL as the runtime login."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Sequence

import asyncpg
import pytest

from isokron import AsyncIsoKron
from isokron.ops.cli import main
from isokron.stores import AgentSessionStore, NamespaceMemory, Recall, RequestContext, Vectors
from isokron.testing import HashingEmbedder

DIMS = 16


class OracleEmbedder:
    """Vectors chosen by the test: a text containing a key gets that key's direction, so a
    query and a turn can be near although they share no word."""

    dims = DIMS

    def __init__(self, directions: dict[str, int], *, model_id: str = "test:oracle") -> None:
        self.directions = directions
        self.model_id = model_id
        self.batches: list[int] = []
        self.fail = False
        self.delay = 0.0

    def vector(self, text: str) -> list[float]:
        out = [0.0] * DIMS
        for key, axis in self.directions.items():
            if key in text.lower():
                out[axis] += 1.0
        if not any(out):
            out[DIMS - 1] = 1.0
        return out

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.batches.append(len(texts))
        return [self.vector(t) for t in texts]

    async def embed_query(self, text: str) -> list[float]:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionError("embedder down")
        return self.vector(text)


@pytest.fixture
async def two_tenants(owner):
    for ws in ("org_a", "org_b"):
        await owner.execute("INSERT INTO isokron.workspaces (workspace_id) VALUES ($1)", ws)
    await Vectors(owner).prepare(DIMS)


def _config(db) -> dict[str, object]:
    return {"dsn": db.runtime_dsn, "write_transport": "deferred"}


async def _turns(kron: AsyncIsoKron, ws: str, user: str, *texts: str) -> None:
    for n, text in enumerate(texts):
        await kron.sync_turn(ws, text, "", session_id=f"s{n % 3}", user_id=user)
    assert await kron.flush(20)


async def test_writes_land_while_the_embedder_is_stuck(db, owner, two_tenants):
    """An embedder that blocks until released: the turns' messages are stored (the outbox
    idle) while it is still blocked, and get their vectors once it answers."""
    gate = asyncio.Event()

    class Stuck(HashingEmbedder):
        async def embed_documents(self, texts):
            await gate.wait()
            return await super().embed_documents(texts)

    embedder = Stuck(DIMS)
    async with AsyncIsoKron(_config(db), embedder=embedder) as kron:
        for n in range(5):
            await kron.sync_turn("org_a", f"turn {n}", f"reply {n}", session_id="s",
                                 user_id="alice")
        assert await kron.outbox.wait_idle(20)  # every write delivered...
        assert await owner.fetchval("SELECT count(*) FROM isokron.agent_messages") == 10
        assert not await kron.embeddings.queue.drain(0.2)  # ...while the embedder waits
        assert await owner.fetchval("SELECT count(*) FROM isokron.agent_messages "
                                    "WHERE embedding_model IS NOT NULL") == 0
        gate.set()
        assert await kron.flush(20)
    assert await owner.fetchval("SELECT count(*) FROM isokron.agent_messages "
                                "WHERE embedding_model = 'test:hashing'") == 10


async def test_texts_are_embedded_off_the_hot_path_with_their_model(db, owner, two_tenants):
    """sync_turn returns before any embedding; after flush every message has a vector of
    the embedder's model, written in batches of at most 32 (the first one full)."""
    embedder = HashingEmbedder(DIMS)
    async with AsyncIsoKron(_config(db), embedder=embedder) as kron:
        for n in range(40):
            await kron.sync_turn("org_a", f"turn {n} about gardening", f"reply {n}",
                                 session_id="s", user_id="alice")
        assert embedder.calls == 0  # nothing waited for the embedder
        assert await kron.flush(20)
        assert kron.stats()["embeddings"]["stored"] == 80
    rows = await owner.fetch("SELECT embedding_model, embedding IS NOT NULL AS has "
                             "FROM isokron.agent_messages")
    assert len(rows) == 80 and {(r["embedding_model"], r["has"]) for r in rows} == {
        ("test:hashing", True)}
    assert max(embedder.batches) <= 32 and embedder.batches[0] == 32


async def test_hybrid_finds_a_turn_that_shares_no_word_with_the_question(db, two_tenants):
    """The vector side finds what no lexeme matches; without a vector (lexical) it is
    missing; both kinds of candidate come back in one list."""
    embedder = OracleEmbedder({"automobile": 0, "car": 0, "hatchback": 0, "sister": 1})
    async with AsyncIsoKron(_config(db), embedder=embedder) as kron:
        await _turns(kron, "org_a", "alice", "I finally bought a hatchback last Tuesday",
                     "my sister visited", "the weather was grey")
        question = "Which automobile did I purchase?"
        hybrid = await kron.recall_items("org_a", question, user_id="alice", limit=3)
        assert hybrid[0].content == "I finally bought a hatchback last Tuesday"
        lexical = await Recall(await kron.pool()).items("org_a", question, user_id="alice")
        assert all("hatchback" not in i.content for i in lexical)


async def test_vectors_of_another_model_are_never_compared(db, owner, two_tenants):
    """Rows embedded by model A take no part in the vector side of a recall with model B."""
    async with AsyncIsoKron(_config(db), embedder=OracleEmbedder({"hatchback": 0})) as kron:
        await _turns(kron, "org_a", "alice", "I bought a hatchback")
    other = OracleEmbedder({"automobile": 0}, model_id="test:other")
    async with AsyncIsoKron(_config(db), embedder=other) as kron:
        found = await kron.recall_items("org_a", "automobile?", user_id="alice")
    assert found == []
    assert await owner.fetchval("SELECT count(*) FROM isokron.agent_messages "
                                "WHERE embedding_model = 'test:oracle'") == 1  # "" is not embedded


async def test_a_failing_or_slow_embedder_falls_back_to_lexical_logged_once(db, two_tenants,
                                                                           caplog):
    """embed_query raising or exceeding embed_timeout_s: the lexical ranking, one warning
    for the outage, never an error for the turn."""
    embedder = OracleEmbedder({"hatchback": 0})
    config = {**_config(db), "embed_timeout_s": 0.2}
    async with AsyncIsoKron(config, embedder=embedder) as kron:
        await _turns(kron, "org_a", "alice", "I bought a hatchback")
        embedder.fail = True
        with caplog.at_level(logging.WARNING, logger="isokron.embeddings"):
            for _ in range(3):
                found = await kron.recall_items("org_a", "the hatchback", user_id="alice")
                assert [i.content for i in found] == ["I bought a hatchback"]
        assert len([r for r in caplog.records if "lexically" in r.getMessage()]) == 1
        embedder.fail, embedder.delay = False, 1.0
        found = await kron.recall_items("org_a", "the hatchback", user_id="alice")
        assert [i.content for i in found] == ["I bought a hatchback"]
        assert kron.embeddings is not None and kron.embeddings.query_failures == 4
        block = await kron.recall("org_a", "the hatchback", user_id="alice")
        assert "I bought a hatchback" in block


async def test_a_failing_embedder_loses_no_write(db, owner, two_tenants):
    """embed_documents raising: the messages are stored, without vectors; the backfill
    embeds them later."""
    embedder = HashingEmbedder(DIMS)
    embedder.fail = True
    async with AsyncIsoKron(_config(db), embedder=embedder) as kron:
        await _turns(kron, "org_a", "alice", "one", "two")
        assert kron.stats()["embeddings"]["failed"] == 2  # the two texts ("" is never sent)
    assert await owner.fetchval("SELECT count(*) FROM isokron.agent_messages") == 4
    assert await owner.fetchval("SELECT count(*) FROM isokron.agent_messages "
                                "WHERE embedding_model IS NOT NULL") == 0


async def test_user_b_and_tenant_b_recall_nothing_of_user_a_with_the_same_vector(
        db, two_tenants):
    """Through the API: bob (same workspace) and mallory (tenant B) ask with a vector equal
    to alice's turn: nothing of hers comes back, from either side of the fusion."""
    embedder = OracleEmbedder({"diagnosis": 2, "hypothyroidism": 2})
    async with AsyncIsoKron(_config(db), embedder=embedder) as kron:
        await _turns(kron, "org_a", "alice", "my diagnosis is hypothyroidism")
        assert await kron.recall_items("org_a", "diagnosis", user_id="bob") == []
        assert await kron.recall_items("org_b", "diagnosis", user_id="alice") == []
        assert await kron.recall_items("org_b", "diagnosis", user_id="mallory") == []
        mine = await kron.recall_items("org_a", "diagnosis", user_id="alice")
        assert [i.content for i in mine] == ["my diagnosis is hypothyroidism"]


async def test_raw_sql_as_the_runtime_role_cannot_cross_users_or_tenants(db, owner,
                                                                       two_tenants):
    """As a LOGIN member of isokron_runtime: recall_vectors_v1 under another user's or
    tenant's settings returns none of alice's rows; store_embeddings_v1 cannot write her
    vectors; the backfill functions and the unscoped writer behind both are refused."""
    embedder = OracleEmbedder({"diagnosis": 2})
    async with AsyncIsoKron(_config(db), embedder=embedder) as kron:
        await _turns(kron, "org_a", "alice", "my diagnosis is private")
        await NamespaceMemory(await kron.pool()).commit("org_a", "diagnosis wiki page")
        assert await kron.flush(20)
    alice_id = await owner.fetchval("SELECT id FROM isokron.agent_messages "
                                    "WHERE content = 'my diagnosis is private'")
    memory_id = await owner.fetchval("SELECT id FROM isokron.memory_records LIMIT 1")
    vector = json.dumps(embedder.vector("diagnosis"))
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
                    "SELECT source, content FROM isokron.recall_vectors_v1($1, 'test:oracle', "
                    "NULL, 50, true)", vector)
                assert [r for r in rows if r["source"] == "message"] == [], (ws, user)
                if ws == "org_b":
                    assert rows == [], (ws, user)
                poisoned = await conn.fetchval(
                    "SELECT isokron.store_embeddings_v1('message', $1, $2, $3, 'test:oracle')",
                    [alice_id], [json.dumps([1.0] + [0.0] * (DIMS - 1))], ["x"])
                assert poisoned == 0
                if ws == "org_b":
                    assert await conn.fetchval(
                        "SELECT isokron.store_embeddings_v1('memory', $1, $2, "
                        "ARRAY[md5('diagnosis wiki page')], 'test:oracle')",
                        [memory_id], [json.dumps([1.0] + [0.0] * (DIMS - 1))]) == 0
        for sql in ("SELECT * FROM isokron.embedding_backlog_v1('m', NULL, NULL, 10)",
                    "SELECT * FROM isokron.embedding_counts_v1('m')",
                    "SELECT isokron.backfill_embeddings_v1('message', ARRAY[]::uuid[], "
                    "ARRAY[]::text[], ARRAY[]::text[], 'm')",
                    "SELECT isokron.drop_other_dims_v1(3)",
                    "SELECT isokron.write_embeddings_v1('message', ARRAY[]::uuid[], "
                    "ARRAY[]::text[], ARRAY[]::text[], 'm', true, NULL, NULL, NULL, NULL)",
                    "SELECT isokron.prepare_embeddings_v1(3)"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch(sql)
    finally:
        await conn.close()
    stored = await owner.fetchval("SELECT embedding::text FROM isokron.agent_messages "
                                  "WHERE id = $1", alice_id)
    assert json.loads(stored) == embedder.vector("my diagnosis is private")


async def test_a_changed_memory_loses_its_vector_until_embedded_again(db, owner, two_tenants):
    """Content changed by an upsert: the model is cleared, and a vector of the old text is
    refused (its MD5 no longer matches)."""
    embedder = HashingEmbedder(DIMS)
    record_id = uuid.uuid4()
    async with AsyncIsoKron(_config(db), embedder=embedder) as kron:
        memory = await kron.memory()
        await memory.commit("org_a", "the office is in Oslo", id=record_id)
        assert await kron.flush(20)
        assert await owner.fetchval("SELECT embedding_model FROM isokron.memory_records") == (
            "test:hashing")
        await owner.execute("UPDATE isokron.memory_records SET content = 'moved to Bergen'")
        assert await owner.fetchval("SELECT embedding_model FROM isokron.memory_records") is None
        stale = await Vectors(await kron.pool()).store(
            "org_a", None, "memory", [(record_id, "the office is in Oslo",
                                       embedder.vector("the office is in Oslo"))],
            "test:hashing")
        assert stale == 0


async def test_the_hnsw_indexes_serve_the_vector_side(db, owner, two_tenants):
    """After prepare_embeddings_v1 the vector columns are vector(16) with HNSW indexes; on
    5,000 messages and 5,000 memories (beside another user's 5,000 messages and 40,000 of
    100 other tenants) the vector side scans both (their scan counters move), several
    times over (each call planned for its scope), and keeps to alice's rows."""
    vec = ("(SELECT ('[' || string_agg(sin(g * k + {0})::text, ',') || ']')::vector "
           "FROM generate_series(1, 16) k)")
    await owner.execute(
        "INSERT INTO isokron.agent_sessions (id, tenant_id, user_id, agent_name) VALUES "
        "('00000000-0000-0000-0000-000000000001', 'org_a', 'alice', 'kora'), "
        "('00000000-0000-0000-0000-000000000002', 'org_a', 'bob', 'kora')")
    for n, user in ((1, "alice"), (2, "bob")):
        await owner.execute(
            "INSERT INTO isokron.agent_messages (session_id, seq, role, content, tenant_id, "
            f"user_id, embedding, embedding_model) SELECT '00000000-0000-0000-0000-00000000000{n}',"
            f" g, 'user', '{user} note ' || g, 'org_a', '{user}', {vec.format(n)}, 'm1' "
            "FROM generate_series(1, 5000) g")
    # other tenants' conversations, never embedded: per-column statistics alone made the
    # planner sort every one of alice's rows instead of scanning the index
    await owner.execute(
        "INSERT INTO isokron.agent_sessions (id, tenant_id, user_id, agent_name) SELECT "
        "('00000000-0000-0000-0001-' || lpad(g::text, 12, '0'))::uuid, 'org_x' || g, 'u', "
        "'kora' FROM generate_series(1, 100) g")
    await owner.execute(
        "INSERT INTO isokron.agent_messages (session_id, seq, role, content, tenant_id, "
        "user_id) SELECT ('00000000-0000-0000-0001-' || lpad((g % 100 + 1)::text, 12, "
        "'0'))::uuid, g, 'user', 'other ' || g, 'org_x' || (g % 100 + 1), 'u' "
        "FROM generate_series(1, 40000) g")
    await owner.execute("INSERT INTO isokron.memory_namespaces (name, kind) VALUES "
                        "('workspace:org_a', 'workspace') ON CONFLICT DO NOTHING")
    await owner.execute(
        "INSERT INTO isokron.memory_records (namespace, content, embedding, embedding_model) "
        f"SELECT 'workspace:org_a', 'fact ' || g, {vec.format(0)}, 'm1' "
        "FROM generate_series(1, 5000) g")
    await owner.execute("ANALYZE isokron.agent_messages")
    await owner.execute("ANALYZE isokron.memory_records")

    async def scans() -> dict[str, int]:
        await owner.execute("SELECT pg_stat_clear_snapshot()")
        return {r[0]: r[1] for r in await owner.fetch(
            "SELECT indexrelname, idx_scan FROM pg_stat_user_indexes WHERE indexrelname "
            "IN ('agent_messages_embedding_hnsw', 'memory_records_embedding_hnsw')")}

    before = await scans()
    assert set(before) == {"agent_messages_embedding_hnsw", "memory_records_embedding_hnsw"}
    query = await owner.fetchval(f"SELECT {vec.format(1).replace('g *', '17 *')}::text")
    async with owner.transaction():
        for key, value in (("app.current_workspace_id", "org_a"),
                           ("app.current_tenant_id", "org_a"), ("app.current_user_id", "alice")):
            await owner.execute("SELECT set_config($1, $2, true)", key, value)
        for _ in range(8):  # past plpgsql's switch to a generic plan
            rows = await owner.fetch(
                "SELECT * FROM isokron.recall_vectors_v1($1, 'm1', NULL, 20, true)", query)
    await owner.execute("SELECT pg_stat_force_next_flush()")
    after = await scans()
    assert len(rows) == 20
    assert rows[0]["content"] == "alice note 17"  # the query is that row's vector
    assert all(r["content"].startswith(("alice", "fact")) for r in rows)
    assert all(after[name] >= before[name] + 8 for name in before), (before, after)
    typ = await owner.fetchval("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                               "WHERE attrelid = 'isokron.agent_messages'::regclass "
                               "AND attname = 'embedding'")
    assert typ.endswith("vector(16)")
    for name in before:  # the index holds the vectors at half precision
        assert "halfvec(16)" in await owner.fetchval("SELECT pg_get_indexdef($1::regclass)",
                                                     f"isokron.{name}")


async def test_isokron_embed_backfill_embeds_what_is_missing(db, owner, two_tenants, capsys):
    """Rows written without an embedder (and one by another model) get vectors of the
    model; the progress bar goes to stderr, one JSON line to stdout; a second run finds
    nothing to do."""
    pool = await asyncpg.create_pool(db.runtime_dsn, min_size=1, max_size=2)
    try:
        store = AgentSessionStore(pool)
        ctx = RequestContext("org_a", "alice")
        sid = uuid.uuid4()
        await store.create_session(ctx, agent_name="kora", id=sid)
        await store.append_messages(ctx, sid, [{"role": "user", "content": f"line {n}"}
                                               for n in range(70)])
        await NamespaceMemory(pool).commit("org_a", "a fact to embed")
    finally:
        await pool.close()
    await owner.execute("UPDATE isokron.agent_messages SET embedding_model = 'old:model' "
                        "WHERE seq = 1")
    code = await asyncio.to_thread(main, [
        "embed", "--backfill", "--dsn", db.dsn, "--embedder", "isokron.testing:HashingEmbedder",
        "--batch-size", "32"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert result["missing_before"] == 71 + 0 and result["missing_after"] == 0
    assert result["stored"] == 71 and result["dims"] == 64
    assert "71/71" in err
    assert await owner.fetchval("SELECT count(*) FROM isokron.agent_messages "
                                "WHERE embedding_model = 'test:hashing'") == 70
    assert await asyncio.to_thread(main, [
        "embed", "--backfill", "--dsn", db.dsn, "--embedder", "isokron.testing:HashingEmbedder",
        "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["embedded"] == 0


def test_embed_refuses_bad_input(capsys):
    """No --backfill, an embedder that cannot be imported: one line, before any database."""
    dsn = "postgresql://nobody@127.0.0.1:9/none"
    assert main(["embed", "--dsn", dsn, "--embedder", "isokron.testing:HashingEmbedder"]) == 2
    assert "--backfill" in capsys.readouterr().err
    assert main(["embed", "--backfill", "--dsn", dsn, "--embedder", "nowhere:thing"]) == 1
    assert "cannot import 'nowhere'" in capsys.readouterr().err


async def test_isokron_eval_recall_with_an_embedder_reports_the_references(db, capsys,
                                                                         tmp_path):
    """`isokron eval recall --embedder`: hybrid isokron beside its own lexical ranking,
    BM25, the dense ranking and their fusion; the vectors land in the cache file, and a
    second run embeds nothing new."""
    from tests.integration.test_recall import MINI

    out, cache = tmp_path / "eval.json", tmp_path / "vectors"
    args = ["eval", "recall", str(MINI), "--dsn", db.runtime_dsn, "--owner-dsn", db.dsn,
            "--embedder", "isokron.testing:HashingEmbedder", "--vector-cache", str(cache),
            "--out", str(out), "--quiet"]
    assert await asyncio.to_thread(main, args) == 0, capsys.readouterr().err
    doc = json.loads(out.read_text())
    assert doc["embedder"] == "test:hashing"
    for ranking in ("isokron", "isokron_lexical", "bm25", "dense", "rrf_bm25_dense"):
        assert 0.0 <= doc[ranking]["recall@10"] <= 1.0, ranking
        assert doc[ranking]["no_result"] == 0.0, ranking
    assert doc["isokron"]["recall@5"] == 1.0
    assert doc["vector_cache"]["misses"] > 0
    assert await asyncio.to_thread(main, args) == 0
    again = json.loads(out.read_text())
    assert again["vector_cache"]["misses"] == 0 and again["isokron"] == doc["isokron"]


async def _as(conn, ws: str, tenant: str = "", user: str = "") -> None:
    for key, value in (("app.current_workspace_id", ws), ("app.current_tenant_id", tenant),
                       ("app.current_user_id", user)):
        await conn.execute("SELECT set_config($1, $2, true)", key, value)


async def test_a_child_cannot_rewrite_the_vectors_of_memory_it_only_reads(db, owner,
                                                                         two_tenants):
    """The attack: a child workspace re-embeds its root's org memory (readable, not
    writable) to steer everyone's recall. store_embeddings_v1 updates nothing outside the
    caller's writable namespaces."""
    await owner.execute("INSERT INTO isokron.workspaces (workspace_id, parent_id) "
                        "VALUES ('org_a_child', 'org_a')")
    embedder = HashingEmbedder(DIMS)
    async with AsyncIsoKron(_config(db), embedder=embedder) as kron:
        record = await (await kron.memory()).commit("org_a", "travel policy for staff",
                                                   namespace="org:org_a")
        assert await kron.flush(20)
    before = await owner.fetchval("SELECT embedding::text FROM isokron.memory_records")
    conn = await asyncpg.connect(db.runtime_dsn)
    try:
        async with conn.transaction():
            await _as(conn, "org_a_child")
            assert await conn.fetchval(
                "SELECT isokron.store_embeddings_v1('memory', $1, $2, "
                "ARRAY[md5('travel policy for staff')], 'test:hashing')",
                [uuid.UUID(record.id)], [json.dumps([0.0] * (DIMS - 1) + [1.0])]) == 0
    finally:
        await conn.close()
    assert await owner.fetchval("SELECT embedding::text FROM isokron.memory_records") == before


@pytest.mark.parametrize(("vectors", "hashes", "model", "message"), [
    (["[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]"], ["h"], "m", "norm zero"),
    ([None], ["h"], "m", "may be NULL"),
    (["[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]"], [None], "m", "may be NULL"),
    (["[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]"], ["h", "h"], "m", "same length"),
    (["[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]"], ["h"], "m" * 201, "1 to 200 characters"),
    (["[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]"], ["h"], "", "1 to 200 characters"),
])
async def test_vectors_that_would_poison_a_ranking_are_refused(db, owner, two_tenants,
                                                              vectors, hashes, model, message):
    """A zero vector (NaN distance, sorting first), a NULL vector (counted as embedded),
    mismatched arrays, a bad model id: refused by both store functions, nothing written."""
    conn = await asyncpg.connect(db.runtime_dsn)
    try:
        for sql in ("SELECT isokron.store_embeddings_v1('message', $1, $2, $3, $4)",):
            async with conn.transaction():
                await _as(conn, "org_a", "org_a", "alice")
                with pytest.raises(asyncpg.InvalidParameterValueError, match=message):
                    await conn.fetchval(sql, [uuid.uuid4()], vectors, hashes, model)
    finally:
        await conn.close()
    with pytest.raises(asyncpg.InvalidParameterValueError, match=message):
        await owner.fetchval("SELECT isokron.backfill_embeddings_v1('memory', $1, $2, $3, $4)",
                             [uuid.uuid4()], vectors, hashes, model)


async def test_a_zero_vector_never_reaches_the_database_and_never_ranks(db, owner,
                                                                        two_tenants):
    """From Python: a zero vector is an InvalidInputError (store and recall). In SQL: a
    zero query vector finds no vector candidates, so the lexical order stands; a zero
    vector planted by the owner is skipped, not ranked first (NaN)."""
    from isokron.errors import InvalidInputError

    async with AsyncIsoKron(_config(db), embedder=HashingEmbedder(DIMS)) as kron:
        await _turns(kron, "org_a", "alice", "travel policy for staff", "parking rules")
        pool = await kron.pool()
        with pytest.raises(InvalidInputError, match="all zeros"):
            await Vectors(pool).store("org_a", "alice", "message",
                                      [(uuid.uuid4(), "x", [0.0] * DIMS)], "test:hashing")
        with pytest.raises(InvalidInputError, match="all zeros"):
            await Recall(pool).items("org_a", "travel", user_id="alice",
                                     vector=[0.0] * DIMS, model_id="test:hashing")
        await owner.execute("UPDATE isokron.agent_messages SET embedding = "
                            "array_fill(0, ARRAY[16])::real[]::vector WHERE content = "
                            "'parking rules'")
        query = HashingEmbedder(DIMS).vector("travel policy")
        found = await Recall(pool).items("org_a", "travel policy", user_id="alice",
                                         vector=query, model_id="test:hashing")
    assert found[0].content == "travel policy for staff"
    assert all(i.score == i.score for i in found)  # no NaN


async def test_the_backfill_as_the_runtime_login_is_refused_with_the_way_out(db, capsys):
    """The runtime login may not prepare the columns: one line that says to use the schema
    owner's DSN, and nothing changed."""
    code = await asyncio.to_thread(main, ["embed", "--backfill", "--dsn", db.runtime_dsn,
                                          "--embedder", "isokron.testing:HashingEmbedder"])
    err = capsys.readouterr().err
    assert code == 2 and "runs as the schema owner" in err, err


async def test_a_hybrid_recall_returns_as_many_as_asked(db, two_tenants):
    """limit above the 30 candidates per side: up to limit items, as lexically."""
    async with AsyncIsoKron(_config(db), embedder=HashingEmbedder(DIMS)) as kron:
        await _turns(kron, "org_a", "alice", *[f"garden note {n}" for n in range(80)])
        found = await kron.recall_items("org_a", "garden note", user_id="alice", limit=70)
    assert len(found) == 70
