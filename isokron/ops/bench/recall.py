"""Recall over memories and messages (lexical, BM25 in SQL): latency and round trips."""

from __future__ import annotations

import random
from typing import Any

import asyncpg

from ...pool import create_pool
from ._measure import Counter, result, stats, timed
from .fixtures import fill_recall

__all__ = ["bench_recall"]


async def bench_recall(dsn: str, runtime_dsn: str, quick: bool) -> list[dict[str, Any]]:
    """Recall p50/p95 over N memories + N messages of one user (N = 100,000; 10,000 quick),
    five-word queries drawn like the texts; one statement per recall."""
    from ...stores import Recall

    rows = 10_000 if quick else 100_000
    owner = await asyncpg.connect(dsn)
    try:
        await fill_recall(owner, rows)
    finally:
        await owner.close()
    counter = Counter()
    pool = await create_pool(runtime_dsn, min_size=1, max_size=1, init=counter.attach)
    try:
        recall = Recall(pool)
        rng = random.Random(20)
        queries = [" ".join(f"w{int(6000 * rng.random() ** 4)}" for _ in range(5))
                   for _ in range(400)]
        turn = iter(queries * 10)
        found = [0]

        async def one() -> None:
            items = await recall.items("org_recall", next(turn), user_id="u1", limit=10)
            found[0] += bool(items)

        await timed(one, 20)
        ms = await timed(one, 100 if quick else 400)
        trips = await counter.per_op(one, 20)
    finally:
        await pool.close()
    ours = {**stats(ms), "rows": 2 * rows, "round_trips": trips,
            "with_results": round(found[0] / (140 if quick else 440), 3)}
    passed = ours["p50_ms"] <= 5.0 and trips == 1.0
    return [result("recall_lexical", ours, None, ours["p50_ms"], "p50 <= 5 ms at 100k + 100k "
                   "rows, 1 round trip", passed)]
