"""Memory writes (sequential and gathered) and searches (recent and full text) against
LangGraph's store."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from ...pool import create_pool
from ._measure import Counter, interleaved, result, stats, timed
from .fixtures import fill_memory
from .peers import langgraph_store, plain_upsert_floor

__all__ = ["bench_memory"]


async def bench_memory(dsn: str, runtime_dsn: str, quick: bool) -> list[dict[str, Any]]:
    """Writes then searches, ours and LangGraph's interleaved on one server."""
    from ...stores import NamespaceMemory

    counter = Counter()
    pool = await create_pool(runtime_dsn, min_size=4, max_size=4, init=counter.attach)
    results: list[dict[str, Any]] = []
    try:
        memory = NamespaceMemory(pool)
        async with langgraph_store(dsn) as lg:
            rounds = 200 if quick else 1000
            n = 0

            async def ours() -> None:
                nonlocal n
                n += 1
                await memory.commit("org_bench", f"note {n} about the deploy rota")

            async def theirs() -> None:
                nonlocal n
                n += 1
                await lg.aput(("org_bench", "memories"), f"k{n}",
                              {"content": f"note {n} about the deploy rota"})

            a, b = await interleaved(ours, theirs, rounds)
            trips = await counter.per_op(ours)
            async with plain_upsert_floor(runtime_dsn) as upsert:
                mine, bare = await interleaved(ours, upsert, rounds)
            floor = 1000 / statistics.mean(bare)
            ops_a, ops_b = 1000 / statistics.mean(a), 1000 / statistics.mean(b)
            results.append(result(
                "memory_write_sequential", {**stats(a), "ops_s": round(ops_a), "round_trips":
                                            trips, "plain_upsert_ops_s": round(floor)},
                {**stats(b), "ops_s": round(ops_b)},
                ops_a / ops_b, "isokron/langgraph ops/s >= 1.5", ops_a / ops_b >= 1.5))
            own = 1000 / statistics.mean(mine)
            results.append(result(
                "memory_write_vs_upsert", {**stats(mine), "ops_s": round(own)},
                {**stats(bare), "ops_s": round(floor), "what": "a bare INSERT … ON CONFLICT "
                 "into the same table by the runtime role (RLS on, no function, no "
                 "redaction), interleaved"},
                own / floor, "isokron/bare upsert ops/s >= 0.8", own / floor >= 0.8))
            burst = 500 if quick else 2000
            # Warm both up (the first batch on a connection introspects its array types).
            await asyncio.gather(*(ours() for _ in range(50)))
            await asyncio.gather(*(theirs() for _ in range(50)))
            started = time.perf_counter()
            await asyncio.gather(*(ours() for _ in range(burst)))
            ours_s = time.perf_counter() - started
            started = time.perf_counter()
            await asyncio.gather(*(theirs() for _ in range(burst)))
            theirs_s = time.perf_counter() - started
            ratio = (burst / ours_s) / (burst / theirs_s)
            results.append(result(
                "memory_write_gathered", {"ops_s": round(burst / ours_s), "writes": burst,
                                          "statements": memory._batcher.batches},
                {"ops_s": round(burst / theirs_s), "writes": burst}, ratio,
                "isokron/langgraph ops/s >= 1.5 (pool 4)", ratio >= 1.5))
            results += await _bench_search(dsn, memory, lg, counter, quick)
    finally:
        await pool.close()
    return results


async def _bench_search(dsn: str, memory: Any, lg: Any, counter: Counter,
                        quick: bool) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    fts_p50: dict[int, float] = {}
    for items in ((10_000, 30_000) if quick else (10_000, 100_000)):
        await fill_memory(dsn, items)
        rounds = 100 if quick else 400

        async def ours() -> None:
            await memory.search("org_bench", None, limit=20)

        async def theirs() -> None:
            await lg.asearch(("org_bench", "memories"), limit=20)

        a, b = await interleaved(ours, theirs, rounds)
        ratio = statistics.median(b) / statistics.median(a)
        results.append(result(
            f"recent_search_{items}", {**stats(a), "round_trips": await counter.per_op(ours)},
            stats(b), ratio, "langgraph p50 / isokron p50 >= 5", ratio >= 5))

        async def fts() -> None:
            await memory.search("org_bench", "quarterly audit", limit=20)

        fts_p50[items] = statistics.median(await timed(fts, rounds // 2))
    small, large = sorted(fts_p50)
    growth = fts_p50[large] / fts_p50[small]
    results.append(result(
        "fts_search_growth", {f"p50_ms_{k}": round(v, 4) for k, v in fts_p50.items()}, None,
        growth, f"p50 at {large} <= 2 x p50 at {small}", growth <= 2))
    return results
