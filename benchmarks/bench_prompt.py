"""Measure cold warm-up and warm system_prompt_block on an embedded PostgreSQL; print JSON."""

from __future__ import annotations

import asyncio
import json
import statistics
import time

import asyncpg

from isokron import IsoKronMemoryProvider
from isokron.embedded import EmbeddedPostgres
from isokron.testing.seed import seed_demo_workspace

WORKSPACES = 20
WARM_CALLS = 10_000


async def _seed(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for n in range(WORKSPACES):
            await seed_demo_workspace(conn, f"org_bench_{n}")
    finally:
        await conn.close()


def main() -> None:
    """Seed, then time one cold warm per workspace and many warm block reads."""
    with EmbeddedPostgres() as pg:
        asyncio.run(_seed(pg.dsn))
        provider = IsoKronMemoryProvider({"dsn": pg.runtime_dsn})
        provider.initialize("bench")
        cold = []
        for n in range(WORKSPACES):
            started = time.perf_counter()
            provider.on_turn_start(1, "x", workspace_id=f"org_bench_{n}")
            cold.append((time.perf_counter() - started) * 1000)
        provider.initialize("bench", workspace_id="org_bench_0")
        started = time.perf_counter()
        for _ in range(WARM_CALLS):
            provider.system_prompt_block()
        warm_us = (time.perf_counter() - started) / WARM_CALLS * 1e6
        provider.shutdown()
    print(json.dumps({
        "benchmark": "prompt",
        "workspaces": WORKSPACES,
        "cold_warm_ms": {"median": round(statistics.median(cold), 2),
                         "p95": round(sorted(cold)[int(0.95 * len(cold)) - 1], 2),
                         "first": round(cold[0], 2)},
        "warm_block_us_mean": round(warm_us, 2),
        "warm_calls": WARM_CALLS,
    }))


if __name__ == "__main__":
    main()
