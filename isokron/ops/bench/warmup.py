"""The cold warm-up (against one SQL statement doing the same reads), its growth with the
chain and scratchpad, and the warm block."""

from __future__ import annotations

import statistics
import time
from typing import Any

import asyncpg

from ...pool import create_pool
from ...testing.seed import seed_demo_workspace
from ._measure import Counter, interleaved, result, stats, timed
from .fixtures import grow_substrate
from .peers import plain_read_context

__all__ = ["bench_warmup", "bench_warmup_growth", "warm_block"]


async def bench_warmup(dsn: str, runtime_dsn: str, quick: bool) -> list[dict[str, Any]]:
    """``read_context`` against the single statement; round trips counted."""
    from ...readers import PostgresSubstrate

    counter = Counter()
    pool = await create_pool(runtime_dsn, min_size=2, max_size=2, init=counter.attach)
    try:
        substrate = PostgresSubstrate(pool)
        rounds = 100 if quick else 400

        async def ours() -> None:
            await substrate.read_context("org_bench")

        async def single() -> None:
            await plain_read_context(pool)

        a, b = await interleaved(ours, single, rounds)
        trips = await counter.per_op(ours)
        ratio = statistics.median(a) / statistics.median(b)
        return [result("cold_warmup", {**stats(a), "round_trips": trips}, stats(b), ratio,
                       "p50 <= 1.2 x one SQL statement doing the same reads, 1 round trip",
                       ratio <= 1.2 and trips <= 1)]
    finally:
        await pool.close()


async def bench_warmup_growth(dsn: str, runtime_dsn: str, quick: bool) -> dict[str, Any]:
    """``read_context`` p50 at 10, 200 and many chain events and scratchpad entries."""
    from ...readers import PostgresSubstrate

    workspace = "org_bench_growth"
    conn = await asyncpg.connect(dsn)
    try:
        await seed_demo_workspace(conn, workspace)
    finally:
        await conn.close()
    pool = await create_pool(runtime_dsn, min_size=1, max_size=1)
    try:
        substrate = PostgresSubstrate(pool)

        async def ours() -> None:
            await substrate.read_context(workspace)

        p50: dict[int, float] = {}
        # 200 fills every read to its limit (100 scratchpad entries, 50 events): from
        # there on, only the table size grows, not the result.
        large = 20_000 if quick else 100_000
        for total in (10, 200, large):
            await grow_substrate(dsn, workspace, total)
            await timed(ours, 20)
            p50[total] = statistics.median(await timed(ours, 100 if quick else 300))
    finally:
        await pool.close()
    growth = p50[large] / p50[10]
    figures: dict[str, Any] = {f"p50_ms_{k}": round(v, 4) for k, v in p50.items()}
    figures["p50_ratio_to_limits_full"] = round(p50[large] / p50[200], 3)
    return result("cold_warmup_growth", figures, None, growth,
                  f"p50 at {large} chain events and scratchpad entries <= 1.5 x p50 at 10",
                  growth <= 1.5)


def warm_block(runtime_dsn: str, cold_p50_ms: float, quick: bool) -> dict[str, Any]:
    """Time the warm system_prompt_block() through the sync facade (no I/O)."""
    from ...provider import IsoKronMemoryProvider

    provider = IsoKronMemoryProvider({"dsn": runtime_dsn, "workspace_id": "org_bench"})
    provider.initialize("bench")
    try:
        provider.on_turn_start(1, "hello")
        assert provider.system_prompt_block()
        calls = 20_000 if quick else 100_000
        times = []
        for _ in range(calls // 1000):
            started = time.perf_counter()
            for _ in range(1000):
                provider.system_prompt_block()
            times.append((time.perf_counter() - started) / 1000 * 1000)
    finally:
        provider.shutdown()
    warm = statistics.median(times)
    ratio = cold_p50_ms / warm
    return result("warm_block", {"p50_us": round(warm * 1000, 3), "calls": calls},
                  {"cold_warmup_p50_ms": round(cold_p50_ms, 4)}, ratio,
                  "cold warm-up p50 / warm block p50 >= 1000", ratio >= 1000)
