"""Time, count and report: the measuring tools every benchmark here shares."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

__all__ = ["Counter", "Op", "Progress", "interleaved", "percentile", "result", "stats", "timed"]

Op = Callable[[], Awaitable[object]]
#: ``progress(done, total, note)``: how a benchmark reports its steps (the CLI draws them)
Progress = Callable[[int, int, str], None]


def percentile(values: list[float], fraction: float) -> float:
    """Return the value at ``fraction`` (0..1) of the sorted ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def stats(ms: list[float]) -> dict[str, float]:
    """Summarise timings in ms: p50, p95, p99 and their count."""
    ordered = sorted(ms)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)

    return {"p50_ms": round(statistics.median(ordered), 4), "p95_ms": pct(0.95),
            "p99_ms": pct(0.99), "n": len(ordered)}


async def timed(op: Op, rounds: int) -> list[float]:
    """Run ``op`` ``rounds`` times; return each run's time in ms."""
    out = []
    for _ in range(rounds):
        started = time.perf_counter()
        await op()
        out.append((time.perf_counter() - started) * 1000)
    return out


async def interleaved(ours: Op, theirs: Op, rounds: int, block: int = 25) -> tuple[
        list[float], list[float]]:
    """Warm both up, then alternate blocks of each so drift hits both alike."""
    await timed(ours, min(10, rounds))
    await timed(theirs, min(10, rounds))
    a: list[float] = []
    b: list[float] = []
    while len(a) < rounds:
        a += await timed(ours, block)
        b += await timed(theirs, block)
    return a, b


class Counter:
    """Count the statements every connection of a pool sends (asyncpg's query logger)."""

    def __init__(self) -> None:
        self.count = 0

    async def attach(self, conn: asyncpg.Connection) -> None:
        """Log ``conn``'s statements (a pool's ``init``)."""
        conn.add_query_logger(self._seen)

    def _seen(self, record: Any) -> None:
        self.count += 1

    async def per_op(self, op: Op, n: int = 20) -> float:
        """Return the statements one run of ``op`` sends, averaged over ``n`` runs."""
        await asyncio.sleep(0)
        before = self.count
        for _ in range(n):
            await op()
        await asyncio.sleep(0)
        return round((self.count - before) / n, 2)


def result(name: str, ours: dict[str, Any], peer: dict[str, Any] | None, ratio: float,
           target: str, passed: bool) -> dict[str, Any]:
    """Shape one benchmark's entry of the suite's JSON document."""
    return {"benchmark": name, "isokron": ours, "peer": peer, "ratio": round(ratio, 3),
            "target": target, "pass": bool(passed)}
