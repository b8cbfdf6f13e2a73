"""Hybrid recall (lexical BM25 + HNSW vector candidates, fused in one statement) side by side
with LangGraph's ``AsyncPostgresStore.asearch`` (pgvector HNSW) over the same texts and
vectors: latency with a fixed query vector (no embedder timed) and hit@10 of planted targets.

Runs after :func:`bench_recall`, on its fixture (N memories + N messages of user ``u1``).
Every row gets a deterministic pseudo-random vector (seeded in SQL) near one of 256 topic
centroids, clustered as a model's embeddings are, and the model id ``bench:fixed``. A query
is planted on a target row: its vector is the target's unit vector plus a random unit
vector times s (s uniform in [1, 4], scaled with the dimension: from easy to near the
limit of exact search), and its text is either ``overlap`` (2 of the target's words + 3
Zipf words) or ``paraphrase`` (5 Zipf words, no word planted). Quality is hit@10: the share
of queries whose target is among the 10 results, for the same queries on both sides.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

import asyncpg

from ...pool import create_pool
from ._measure import Counter, interleaved, result, stats
from .fixtures import settle
from .peers import langgraph_store

__all__ = ["bench_hybrid"]

MODEL = "bench:fixed"
_NS = ("recall", "items")
_SIDE = ("p50_ms", "p95_ms", "p99_ms", "n", "rows", "hit_at_10", "hit_at_10_overlap",
         "hit_at_10_paraphrase", "hnsw_build_s")

#: 256 topic centroids of $1 dimensions (uniform components)
_CENTROIDS = ("CREATE TEMP TABLE bench_centroids AS SELECT t, (SELECT array_agg(random() - 0.5) "
              "FROM generate_series(1, $1) WHERE t IS NOT NULL) AS v "
              "FROM generate_series(0, 255) t")
#: a row's vector: its topic's centroid (the topic from its id) plus uniform noise of a third
#: of the spread: clustered like sentence embeddings, whose neighbours share a topic (the
#: cosine of two rows of one topic is about 0.9, of two topics about 0): never uniform
#: random vectors, the worst case of any approximate index and unlike a model's
_VECTOR = ("(SELECT array_agg(c.v[i] + 0.35 * (random() - 0.5) ORDER BY i) "
           "FROM bench_centroids c, generate_series(1, $1) i "
           "WHERE c.t = abs(hashtext({row}.id::text)) % 256)")
_FILL_MEMORY = ("UPDATE isokron.memory_records r SET embedding = " + _VECTOR.format(row="r")
                + ", embedding_model = $2 WHERE namespace = 'workspace:org_recall'")
_FILL_MESSAGES = ("UPDATE isokron.agent_messages m SET embedding = " + _VECTOR.format(row="m")
                  + ", embedding_model = $2 WHERE tenant_id = 'org_recall' AND user_id = 'u1'")
_TARGETS = (
    "(SELECT 'memory' AS source, id::text AS id, content, embedding::text AS v "
    "   FROM isokron.memory_records WHERE namespace = 'workspace:org_recall' "
    "  ORDER BY md5(id::text) LIMIT $1) "
    "UNION ALL "
    "(SELECT 'message', id::text, content, embedding::text FROM isokron.agent_messages "
    "  WHERE tenant_id = 'org_recall' AND user_id = 'u1' ORDER BY md5(id::text) LIMIT $1)")
#: the rows LangGraph's aput writes (store: the value; store_vectors: field "text")
_LG_CLEAR = "DELETE FROM public.store WHERE prefix = 'recall.items'"
_LG_STORE = (
    "INSERT INTO public.store (prefix, key, value) "
    "SELECT 'recall.items', 'memory:' || id, jsonb_build_object('text', content) "
    "  FROM isokron.memory_records WHERE namespace = 'workspace:org_recall' UNION ALL "
    "SELECT 'recall.items', 'message:' || id, jsonb_build_object('text', content) "
    "  FROM isokron.agent_messages WHERE tenant_id = 'org_recall' AND user_id = 'u1'")
_LG_VECTORS = (
    "INSERT INTO public.store_vectors (prefix, key, field_name, embedding) "
    "SELECT 'recall.items', 'memory:' || id, 'text', embedding "
    "  FROM isokron.memory_records WHERE namespace = 'workspace:org_recall' UNION ALL "
    "SELECT 'recall.items', 'message:' || id, 'text', embedding "
    "  FROM isokron.agent_messages WHERE tenant_id = 'org_recall' AND user_id = 'u1'")
_LG_INDEX = ("CREATE INDEX store_vectors_embedding_idx ON public.store_vectors "
             "USING hnsw (embedding vector_cosine_ops)")


class _Query:
    """One planted query: text, vector, target and kind."""

    def __init__(self, text: str, vector: list[float], target: str, kind: str) -> None:
        self.text, self.vector, self.target, self.kind = text, vector, target, kind


def _zipf(rng: random.Random) -> str:
    return f"w{int(6000 * rng.random() ** 4)}"


def _plant(rows: list[asyncpg.Record], seed: int) -> list[_Query]:
    """Queries planted on ``rows`` (source, id, content, vector text), alternating kinds;
    the noise scales with sqrt(dims / 384), which keeps the target's cosine in the same
    place against the spread of random cosines (1 / sqrt(dims))."""
    import numpy as np

    rng = random.Random(seed)
    gen = np.random.default_rng(seed)
    queries = []
    for n, row in enumerate(rows):
        v = np.array(json.loads(row["v"]), dtype=np.float64)
        noise = gen.standard_normal(v.shape[0])
        scale = rng.uniform(1.0, 4.0) * (v.shape[0] / 384) ** 0.5
        q = v / np.linalg.norm(v) + scale * noise / np.linalg.norm(noise)
        kind = "overlap" if n % 2 == 0 else "paraphrase"
        words = (rng.sample(row["content"].split(), 2) if kind == "overlap" else []) + [
            _zipf(rng) for _ in range(3 if kind == "overlap" else 5)]
        rng.shuffle(words)
        queries.append(_Query(" ".join(words), [round(float(x), 6) for x in q / np.linalg.norm(q)],
                              f"{row['source']}:{row['id']}", kind))
    return queries


def _hits(found: list[bool], queries: list[_Query]) -> dict[str, float]:
    out = {"hit_at_10": round(sum(found) / len(found), 3)}
    for kind in ("overlap", "paraphrase"):
        mine = [f for f, q in zip(found, queries, strict=True) if q.kind == kind]
        out[f"hit_at_10_{kind}"] = round(sum(mine) / max(1, len(mine)), 3)
    return out


async def _prepare(owner: asyncpg.Connection, dims: int) -> dict[str, float]:
    """Vectors for every recall row (model ``bench:fixed``), then both HNSW indexes built
    over the loaded rows; return the seconds each step took."""
    from ...stores import Vectors

    await owner.execute("SET maintenance_work_mem = '1GB'")
    vectors = Vectors(owner)
    await vectors.prepare(dims)  # the column type first: changing it later rewrites the table
    await owner.execute("DROP INDEX IF EXISTS isokron.memory_records_embedding_hnsw")
    await owner.execute("DROP INDEX IF EXISTS isokron.agent_messages_embedding_hnsw")
    started = time.perf_counter()
    await owner.execute("SELECT setseed(0.21)")
    await owner.execute("DROP TABLE IF EXISTS bench_centroids")
    await owner.execute(_CENTROIDS, dims)
    await owner.execute(_FILL_MEMORY, dims, MODEL)
    await owner.execute(_FILL_MESSAGES, dims, MODEL)
    filled = time.perf_counter()
    await vectors.prepare(dims)
    built = time.perf_counter()
    await settle(owner, "isokron.memory_records", "isokron.agent_messages")
    return {"vector_fill_s": round(filled - started, 2),
            "hnsw_build_s": round(built - filled, 2)}


async def _load_langgraph(owner: asyncpg.Connection) -> dict[str, float]:
    """Fill LangGraph's tables with the rows its ``aput`` would write for the same texts
    and vectors (bulk SQL: 2N aput calls would only time LangGraph's write path), then
    build its HNSW index over them, as the owner."""
    await owner.execute(_LG_CLEAR)
    await owner.execute("DROP INDEX IF EXISTS public.store_vectors_embedding_idx")
    started = time.perf_counter()
    await owner.execute(_LG_STORE)
    await owner.execute(_LG_VECTORS)
    filled = time.perf_counter()
    await owner.execute(_LG_INDEX)
    built = time.perf_counter()
    await settle(owner, "public.store", "public.store_vectors")
    return {"load_s": round(filled - started, 2), "hnsw_build_s": round(built - filled, 2)}


async def _run(store: Any, recall: Any, current: list[_Query], queries: list[_Query],
               rounds: int) -> tuple[dict[str, list[bool]], list[float], list[float]]:
    """Quality (every query once per side), then interleaved timing of hybrid vs asearch."""

    async def hybrid(q: _Query) -> list[str]:
        items = await recall.items("org_recall", q.text, user_id="u1", limit=10,
                                   vector=q.vector, model_id=MODEL)
        return [f"{i.source}:{i.id}" for i in items]

    async def lexical(q: _Query) -> list[str]:
        items = await recall.items("org_recall", q.text, user_id="u1", limit=10)
        return [f"{i.source}:{i.id}" for i in items]

    async def vector(q: _Query) -> list[str]:
        current[0] = q
        return [i.key for i in await store.asearch(_NS, query=q.text, limit=10)]

    found: dict[str, list[bool]] = {"hybrid": [], "lexical": [], "langgraph": []}
    for q in queries:
        found["hybrid"].append(q.target in await hybrid(q))
        found["lexical"].append(q.target in await lexical(q))
        found["langgraph"].append(q.target in await vector(q))
    ours_turn, theirs_turn = iter(queries * 20), iter(queries * 20)

    async def ours() -> None:
        await hybrid(next(ours_turn))

    async def theirs() -> None:
        await vector(next(theirs_turn))

    a, b = await interleaved(ours, theirs, rounds)
    return found, a, b


async def bench_hybrid(dsn: str, runtime_dsn: str, quick: bool) -> list[dict[str, Any]]:
    """Hybrid recall p50/p95 and hit@10 over the recall fixture, and LangGraph's
    ``asearch`` on the same texts and vectors (dims 384 and 400 planted queries; quick:
    dims 64 and 100, a smoke test of the shape)."""
    from ...stores import Recall

    dims, planted = (64, 100) if quick else (384, 400)
    current: list[_Query] = []

    async def embed(texts: list[str]) -> list[list[float]]:  # instant: the fixed vector
        return [current[0].vector for _ in texts]

    owner = await asyncpg.connect(dsn)
    try:
        if not await owner.fetchval("SELECT isokron.enable_vectors_v1()"):
            skipped = {"skipped": "pgvector is not available on this server"}
            return [result("recall_hybrid", skipped, None, 0.0, "needs pgvector", False)]
        rows = await owner.fetchval("SELECT count(*) FROM isokron.memory_records "
                                    "WHERE namespace = 'workspace:org_recall'")
        ours_build = await _prepare(owner, dims)
        queries = _plant(await owner.fetch(_TARGETS, planted // 2), 33)
        current.append(queries[0])
        counter = Counter()
        pool = await create_pool(runtime_dsn, min_size=1, max_size=1, init=counter.attach)
        try:
            index = {"dims": dims, "embed": embed, "fields": ["text"]}
            async with langgraph_store(dsn, index) as store:  # setup() makes its tables
                theirs_build = await _load_langgraph(owner)
                recall = Recall(pool)
                found, a, b = await _run(store, recall, current, queries,
                                         100 if quick else 400)
                trips = await counter.per_op(lambda: recall.items(
                    "org_recall", queries[0].text, user_id="u1", limit=10,
                    vector=queries[0].vector, model_id=MODEL), 20)
        finally:
            await pool.close()
    finally:
        await owner.close()
    quality = {side: _hits(hits, queries) for side, hits in found.items()}
    mine = {**stats(a), "rows": 2 * rows, "dims": dims, "round_trips": trips,
            "hnsw_build_s": ours_build["hnsw_build_s"],
            "vector_fill_s": ours_build["vector_fill_s"], **quality["hybrid"],
            "lexical_only": quality["lexical"], "queries": len(queries),
            "quality": "hit@10 of each query's planted target (same queries both sides)",
            "vectors": "256 topic clusters, noise a third of the spread, unit queries"}
    peer = {**stats(b), "rows": 2 * rows, "dims": dims, **quality["langgraph"],
            "hnsw_build_s": theirs_build["hnsw_build_s"], "load_s": theirs_build["load_s"],
            "store": "AsyncPostgresStore.asearch, index dims/embed/fields=['text'], HNSW "
                     "cosine, loaded by SQL with the rows aput writes"}
    ratio = mine["p50_ms"] / peer["p50_ms"]
    full_size = rows >= 100_000
    alone = mine["p50_ms"] <= 10.0 and trips == 1.0
    side = ratio <= 1.0 and mine["hit_at_10"] >= peer["hit_at_10"]
    return [
        result("recall_hybrid", mine, None, mine["p50_ms"], "p50 <= 10 ms at 100k + 100k "
               "rows, 1 round trip" + ("" if full_size else " (quick: smaller)"), alone),
        result("recall_hybrid_vs_langgraph", {k: mine[k] for k in _SIDE}, peer, ratio,
               "p50 <= LangGraph asearch p50 and hit@10 >= LangGraph's (vector search)",
               side)]
