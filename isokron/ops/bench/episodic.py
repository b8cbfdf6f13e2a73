"""Episodic appends (against a plain asyncpg INSERT of the same row) and the growth of
``list`` with the agent's history."""

from __future__ import annotations

import statistics
from typing import Any

from ...pool import create_pool
from ._measure import interleaved, result, stats, timed
from .fixtures import fill_episodes, kora_actor_id
from .peers import plain_episodic_append, plain_episodic_pool

__all__ = ["bench_episodic"]


async def bench_episodic(dsn: str, runtime_dsn: str, quick: bool) -> list[dict[str, Any]]:
    """``append`` ours vs plain, then ``list(limit=50)`` p95 at 1,000 and many rows."""
    from ...stores import EpisodicEventStore

    workspace = "org_bench"
    agent = await kora_actor_id(dsn, workspace)
    pool = await create_pool(runtime_dsn, min_size=4, max_size=4)
    plain = await plain_episodic_pool(runtime_dsn, workspace)
    results: list[dict[str, Any]] = []
    try:
        store = EpisodicEventStore(pool)
        body = {"tool": "search", "args": {"q": "deploy rota"}, "ok": True}

        async def ours() -> None:
            await store.append(workspace, agent, event_type="tool", body=body, sender="kora")

        async def theirs() -> None:
            await plain_episodic_append(plain, workspace, agent, body)

        a, b = await interleaved(ours, theirs, 200 if quick else 1000)
        ops_a, ops_b = 1000 / statistics.mean(a), 1000 / statistics.mean(b)
        results.append(result(
            "episodic_append", {**stats(a), "ops_s": round(ops_a)},
            {**stats(b), "ops_s": round(ops_b), "what": "plain asyncpg INSERT of the same row"},
            ops_a / ops_b, "isokron/plain INSERT ops/s >= 0.8", ops_a / ops_b >= 0.8))

        async def listing() -> None:
            await store.list(workspace, agent, limit=50)

        p95: dict[int, float] = {}
        for total in (1_000, 100_000 if quick else 1_000_000):
            await fill_episodes(dsn, workspace, agent, total)
            await timed(listing, 20)
            p95[total] = stats(await timed(listing, 200 if quick else 500))["p95_ms"]
        small, large = sorted(p95)
        growth = p95[large] / p95[small]
        results.append(result(
            "episodic_list_growth", {f"p95_ms_{k}": v for k, v in p95.items()}, None, growth,
            f"list(limit=50) p95 at {large} rows <= 2 x at {small}", growth <= 2))
    finally:
        await pool.close()
        await plain.close()
    return results
