"""What keeping memory true costs (issue 26): a commit that collapses duplicates against the
commit before it, and recall / search with the validity filter against the same reads
without it, in one run on one server.

The references are isokron's own earlier functions, still installed (functions are
versioned): ``memory_commit_v1`` (no dedup key, no lifecycle columns in its reply) and
``recall_for_v2`` / ``memory_search_v1`` (every stored record, retracted or superseded
ones included). Both sides are raw calls on the same runtime connection, interleaved.
"""

from __future__ import annotations

import random
import statistics
import uuid
from typing import Any

import asyncpg

from ._measure import interleaved, result, stats

__all__ = ["bench_truth"]

_COMMIT_V1 = ("SELECT isokron.memory_commit_v1($1, $2, 'workspace:org_bench', 'workspace', "
              "$3, 'fact', 'agent', false, NULL)")
_COMMIT_V3 = ("SELECT isokron.memory_commit_v3($1, $2, 'workspace:org_bench', 'workspace', "
              "$3, 'fact', 'agent', false, NULL, NULL, NULL, NULL)")
_RECALL = ("SELECT source, id, content, created_at, score, namespace, session_id, role "
           "FROM isokron.recall_for_{v}('org_recall', 'u1', $1, NULL, 10, NULL, NULL)")
_SEARCH = ("SELECT isokron.memory_search_{v}('org_recall', NULL, NULL, 10, 'fts', $1{extra})"
           "::text")


async def _compare(conn: asyncpg.Connection, name: str, filtered: str, unfiltered: str,
                   queries: list[str], rounds: int) -> dict[str, Any]:
    """The same queries through the read with the validity filter and the one without."""
    turn = iter(queries * 20)

    async def new() -> None:
        await conn.fetch(filtered, next(turn))

    async def old() -> None:
        await conn.fetch(unfiltered, next(turn))

    x, y = await interleaved(new, old, rounds)
    ratio = statistics.median(y) / statistics.median(x)
    return result(name, stats(x), stats(y), ratio,
                  "p50 without the validity filter / p50 with it >= 0.9", ratio >= 0.9)


async def bench_truth(runtime_dsn: str, quick: bool) -> list[dict[str, Any]]:
    """Commit with dedup vs the commit before it (ops/s >= 0.9 x); recall and full-text
    search with the validity filter vs without (p50 within 10 %), on the rows
    :func:`~isokron.ops.bench.recall.bench_recall` filled (100,000 memories; 10,000 quick)."""
    conn = await asyncpg.connect(runtime_dsn)
    try:
        rounds = 200 if quick else 1000
        n = [0]

        def text() -> str:
            n[0] += 1
            return f"truth note {n[0]} {uuid.uuid4().hex[:8]} about the deploy rota"

        async def with_dedup() -> None:
            await conn.fetchval(_COMMIT_V3, "org_bench", uuid.uuid4(), text())

        async def before() -> None:
            await conn.fetchval(_COMMIT_V1, "org_bench", uuid.uuid4(), text())

        a, b = await interleaved(with_dedup, before, rounds)
        seen = "truth: the same fact, committed again"

        async def seen_again() -> None:
            await conn.fetchval(_COMMIT_V3, "org_bench", uuid.uuid4(), seen)

        again = await interleaved(seen_again, before, rounds // 2)
        ops_a, ops_b = 1000 / statistics.mean(a), 1000 / statistics.mean(b)
        results = [result(
            "memory_commit_dedup", {**stats(a), "ops_s": round(ops_a),
                                    "seen_again_ops_s": round(1000 / statistics.mean(again[0]))},
            {**stats(b), "ops_s": round(ops_b), "function": "memory_commit_v1"},
            ops_a / ops_b, "commit with dedup ops/s >= 0.9 x the commit before it",
            ops_a / ops_b >= 0.9)]
        rng = random.Random(26)
        queries = [" ".join(f"w{int(6000 * rng.random() ** 4)}" for _ in range(5))
                   for _ in range(200)]
        for name, filtered, unfiltered in (
                ("recall_validity", _RECALL.format(v="v3"), _RECALL.format(v="v2")),
                ("search_validity", _SEARCH.format(v="v2", extra=", NULL, NULL"),
                 _SEARCH.format(v="v1", extra=""))):
            results.append(await _compare(conn, name, filtered, unfiltered, queries,
                                          100 if quick else 400))
        return results
    finally:
        await conn.close()
