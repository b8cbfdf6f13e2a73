"""Measure the provider's cold warm-up and warm block on an embedded PostgreSQL."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import asyncpg

from ..embedded import EmbeddedPostgres
from ..provider import IsoKronMemoryProvider
from ..testing.seed import seed_demo_workspace

__all__ = ["run_prompt_bench", "run_redact_bench", "run_rls_bench"]


async def _seed(dsn: str, workspaces: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for n in range(workspaces):
            await seed_demo_workspace(conn, f"org_bench_{n}")
    finally:
        await conn.close()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_prompt_bench(*, workspaces: int = 20, warm_calls: int = 10_000) -> dict[str, Any]:
    """Seed ``workspaces`` demo workspaces; time one cold warm each and many warm blocks."""
    with EmbeddedPostgres() as pg:
        asyncio.run(_seed(pg.dsn, workspaces))
        provider = IsoKronMemoryProvider({"dsn": pg.runtime_dsn})
        provider.initialize("bench")
        cold_ms = []
        for n in range(workspaces):
            started = time.perf_counter()
            provider.on_turn_start(1, "x", workspace_id=f"org_bench_{n}")
            cold_ms.append((time.perf_counter() - started) * 1000)
        provider.initialize("bench", workspace_id="org_bench_0")
        block = provider.system_prompt_block()
        started = time.perf_counter()
        for _ in range(warm_calls):
            provider.system_prompt_block()
        warm_us = (time.perf_counter() - started) / warm_calls * 1e6
        provider.shutdown()
    return {
        "benchmark": "prompt",
        "workspaces": workspaces,
        "cold_warm_ms": {
            "first": round(cold_ms[0], 2),
            "median": round(statistics.median(cold_ms), 2),
            "p95": round(_percentile(cold_ms, 0.95), 2),
        },
        "warm_block_us_mean": round(warm_us, 3),
        "warm_calls": warm_calls,
        "block_chars": len(block),
    }


_RLS_TABLES = ("isokron.memory_records", "isokron.memory_namespaces")


async def _rls_search_bench(pg: EmbeddedPostgres, records: int, rounds: int) -> dict[str, Any]:
    from ..pool import create_pool
    from ..stores import NamespaceMemory

    owner = await asyncpg.connect(pg.dsn)
    pool = await create_pool(pg.runtime_dsn, min_size=1, max_size=2)
    try:
        await seed_demo_workspace(owner, "org_bench")
        for kind in ("workspace", "team", "org"):
            await owner.execute("INSERT INTO isokron.memory_namespaces (name, kind) "
                                "VALUES ($1, $2)", f"{kind}:org_bench", kind)
        await owner.execute(
            "INSERT INTO isokron.memory_records (namespace, content, created_at) "
            "SELECT (ARRAY['workspace:org_bench','team:org_bench','org:org_bench'])[1 + g % 3], "
            "       'note ' || g || ' about deploys, invoices and the on-call rota', "
            "       now() - make_interval(secs => g) FROM generate_series(1, $1) g", records)
        await owner.execute("ANALYZE isokron.memory_records")
        memory = NamespaceMemory(pool)
        timings: dict[bool, dict[str, list[float]]] = {
            True: {"recent": [], "fts": []}, False: {"recent": [], "fts": []}}
        # Interleave blocks with RLS on and off so machine drift hits both sides alike.
        for block in range(2 * rounds):
            rls = block % 2 == 0
            verb = "ENABLE" if rls else "DISABLE"
            for table in _RLS_TABLES:
                await owner.execute(f"ALTER TABLE {table} {verb} ROW LEVEL SECURITY")
            for name, query in (("recent", None), ("fts", "invoices rota")):
                for _ in range(25):
                    started = time.perf_counter()
                    await memory.search("org_bench", query, limit=20)
                    timings[rls][name].append((time.perf_counter() - started) * 1000)
        for table in _RLS_TABLES:
            await owner.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
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


def run_rls_bench(*, records: int = 10_000, rounds: int = 8) -> dict[str, Any]:
    """Time memory search at ``records`` rows with the memory tables' RLS on and off."""
    with EmbeddedPostgres() as pg:
        return asyncio.run(_rls_search_bench(pg, records, rounds))


def run_redact_bench(*, size: int = 10_000, rounds: int = 2_000) -> dict[str, Any]:
    """Time redaction of a ``size``-character message: plain prose, and prose with secrets."""
    from ..guard.redact import redact_secrets

    prose = ("The deploy freezes on Fridays; ask the on-call engineer before merging. "
             "PR 312 fixed the flaky billing test and the key rotation runbook. ")
    plain = (prose * (size // len(prose) + 1))[:size]
    secrets_line = (" sk-live-4eC39HqLyjWDarjtT1zdp7dc DB_PASS=s3cr3t password: hunter2 "
                    "xoxb-123456789012-1234567890123-AbCdEfGhIjKl ")
    mixed = (plain[: size // 2] + secrets_line + plain)[:size]
    result: dict[str, Any] = {"benchmark": "redact", "chars": size, "target_ms": 1.0}
    passed = True
    for name, text in (("prose", plain), ("with_secrets", mixed)):
        timings = []
        for _ in range(rounds):
            started = time.perf_counter()
            redact_secrets(text)
            timings.append((time.perf_counter() - started) * 1000)
        p50, p99 = statistics.median(timings), _percentile(timings, 0.99)
        passed = passed and p50 < 1.0
        result[name] = {"p50_ms": round(p50, 4), "p99_ms": round(p99, 4),
                        "labels": sorted(set(redact_secrets(text)[1]))}
    result["pass"] = passed
    return result
