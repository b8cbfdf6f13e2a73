"""Measure memory search latency with the memory tables' row-level security on and off."""

from __future__ import annotations

import statistics
import time
from typing import Any

import asyncpg

from ...embedded import EmbeddedPostgres
from ..cli._interrupt import run as run_interruptible
from ._measure import Progress
from .fixtures import fill_rls_memory, set_row_level_security

__all__ = ["run_rls_bench"]

_RLS_TABLES = ("isokron.memory_records", "isokron.memory_namespaces")


async def _rls_search_bench(pg: EmbeddedPostgres, records: int, rounds: int,
                            progress: Progress | None) -> dict[str, Any]:
    from ...pool import create_pool
    from ...stores import NamespaceMemory

    owner = await asyncpg.connect(pg.dsn)
    pool = await create_pool(pg.runtime_dsn, min_size=1, max_size=2)
    try:
        if progress is not None:
            progress(0, 2 * rounds + 1, f"filling {records:,} memories")
        await fill_rls_memory(owner, records)
        memory = NamespaceMemory(pool)
        timings: dict[bool, dict[str, list[float]]] = {
            True: {"recent": [], "fts": []}, False: {"recent": [], "fts": []}}
        # Interleave blocks with RLS on and off so machine drift hits both sides alike.
        for block in range(2 * rounds):
            rls = block % 2 == 0
            if progress is not None:
                progress(block + 1, 2 * rounds + 1, "searching")
            await set_row_level_security(owner, _RLS_TABLES, rls)
            for name, query in (("recent", None), ("fts", "invoices rota")):
                for _ in range(25):
                    started = time.perf_counter()
                    await memory.search("org_bench", query, limit=20)
                    timings[rls][name].append((time.perf_counter() - started) * 1000)
        await set_row_level_security(owner, _RLS_TABLES, True)
    finally:
        await pool.close()
        await owner.close()
    result: dict[str, Any] = {"benchmark": "rls_search", "records": records, "target_ratio": 1.2}
    passed = True
    for name in ("recent", "fts"):
        with_rls = statistics.median(timings[True][name])
        without = statistics.median(timings[False][name])
        ratio = with_rls / without
        passed = passed and ratio <= 1.2
        result[name] = {"p50_ms_with_rls": round(with_rls, 3),
                        "p50_ms_without_rls": round(without, 3), "ratio": round(ratio, 3)}
    result["pass"] = passed
    return result


def run_rls_bench(*, records: int = 10_000, rounds: int = 8,
                  progress: Progress | None = None) -> dict[str, Any]:
    """Time memory search at ``records`` rows with the memory tables' RLS on and off;
    ``progress(done, total, note)`` after the fill and each block of searches."""
    if progress is not None:
        progress(0, 2 * rounds + 1, "starting the embedded server")
    with EmbeddedPostgres() as pg:
        result = run_interruptible(_rls_search_bench(pg, records, rounds, progress))
    if progress is not None:
        progress(2 * rounds + 1, 2 * rounds + 1, "done")
    return result
