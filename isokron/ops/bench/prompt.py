"""Measure the provider's cold warm-up and warm block on an embedded PostgreSQL."""

from __future__ import annotations

import statistics
import time
from typing import Any

from ...embedded import EmbeddedPostgres
from ...provider import IsoKronMemoryProvider
from ..cli._interrupt import run as run_interruptible
from ._measure import Progress, percentile
from .fixtures import seed_workspaces

__all__ = ["run_prompt_bench"]


def run_prompt_bench(*, workspaces: int = 20, warm_calls: int = 10_000,
                     progress: Progress | None = None) -> dict[str, Any]:
    """Seed ``workspaces`` demo workspaces; time one cold warm each and many warm blocks;
    ``progress(done, total, step)`` as each of the four steps starts."""
    def step(done: int, note: str) -> None:
        if progress is not None:
            progress(done, 4, note)

    step(0, "starting the embedded server")
    with EmbeddedPostgres() as pg:
        step(1, f"seeding {workspaces} workspaces")
        run_interruptible(seed_workspaces(pg.dsn, workspaces))
        provider = IsoKronMemoryProvider({"dsn": pg.runtime_dsn})
        try:
            provider.initialize("bench")
            step(2, "cold warm-ups")
            cold_ms = []
            for n in range(workspaces):
                started = time.perf_counter()
                provider.on_turn_start(1, "x", workspace_id=f"org_bench_{n}")
                cold_ms.append((time.perf_counter() - started) * 1000)
            provider.initialize("bench", workspace_id="org_bench_0")
            step(3, f"{warm_calls:,} warm blocks")
            block = provider.system_prompt_block()
            started = time.perf_counter()
            for _ in range(warm_calls):
                provider.system_prompt_block()
            warm_us = (time.perf_counter() - started) / warm_calls * 1e6
        finally:
            provider.shutdown()
    step(4, "done")
    return {
        "benchmark": "prompt",
        "workspaces": workspaces,
        "cold_warm_ms": {
            "first": round(cold_ms[0], 2),
            "median": round(statistics.median(cold_ms), 2),
            "p95": round(percentile(cold_ms, 0.95), 2),
        },
        "warm_block_us_mean": round(warm_us, 3),
        "warm_calls": warm_calls,
        "block_chars": len(block),
    }
