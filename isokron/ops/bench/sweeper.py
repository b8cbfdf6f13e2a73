"""The sweeper's pass time as terminal delegations pile up beside 1000 in-flight ones."""

from __future__ import annotations

import statistics
from typing import Any

import asyncpg

from ...pool import create_pool
from ._measure import result, timed
from .fixtures import add_live_delegations, add_terminal_delegations

__all__ = ["bench_sweeper"]


async def bench_sweeper(dsn: str, sweeper_dsn: str, quick: bool) -> dict[str, Any]:
    """p50 of a pass over the in-flight rows alone, then with many terminal ones."""
    from ...stores import DelegationSweeper

    owner = await asyncpg.connect(dsn)
    pool = await create_pool(sweeper_dsn, min_size=1, max_size=1)
    try:
        await add_live_delegations(owner)
        sweeper = DelegationSweeper(pool, stuck_threshold_s=600)

        async def sweep() -> None:
            outcome = await sweeper.sweep()
            if outcome.errors:
                raise RuntimeError(f"sweep failed: {outcome.errors}")

        p50: dict[int, float] = {}
        terminal = 100_000 if quick else 1_000_000
        for total in (0, terminal):
            if total:
                await add_terminal_delegations(owner, total)
            await timed(sweep, 5)
            p50[total] = statistics.median(await timed(sweep, 30 if quick else 100))
    finally:
        await pool.close()
        await owner.close()
    growth = p50[terminal] / p50[0]
    return result("sweeper_growth", {"p50_ms_in_flight_only": round(p50[0], 4),
                                     f"p50_ms_with_{terminal}_terminal": round(p50[terminal], 4)},
                  None, growth, f"a pass over {terminal} terminal + 1000 in-flight <= 2 x "
                  "a pass over the 1000 in-flight", growth <= 2)
