"""Time one delegation sweep over 100,000 terminal + 1,000 in-flight rows; print JSON."""

from __future__ import annotations

import asyncio
import json
import time

import asyncpg

from isokron.embedded import EmbeddedPostgres
from isokron.pool import create_pool
from isokron.stores import DelegationSweeper
from isokron.stores.sweeper import DEADLINE_SQL

TERMINAL = 100_000
IN_FLIGHT = 1_000


async def run(pg: EmbeddedPostgres) -> dict[str, object]:
    conn = await asyncpg.connect(pg.dsn)
    try:
        await conn.execute(
            "INSERT INTO isokron.delegations (delegation_id, workspace_id, caller_id, callee_id, "
            "task_preview, status, last_heartbeat, deadline) "
            "SELECT 'd' || g, 'org_bench', gen_random_uuid(), gen_random_uuid(), 'task', "
            "  CASE WHEN g <= $1::int THEN 'completed' ELSE 'in_progress' END, "
            "  now() - make_interval(secs => g % 1200), "
            "  CASE WHEN g % 10 = 0 THEN now() - interval '1 minute' "
            "       ELSE now() + interval '1 hour' END "
            "FROM generate_series(1, $1::int + $2::int) g", TERMINAL, IN_FLIGHT)
        await conn.execute("ANALYZE isokron.delegations")
        plan = [r[0] for r in await conn.fetch("EXPLAIN " + DEADLINE_SQL)]
    finally:
        await conn.close()
    pool = await create_pool(pg.runtime_dsn)
    try:
        sweeper = DelegationSweeper(pool, stuck_threshold_s=600)
        started = time.perf_counter()
        first = await sweeper.sweep()
        first_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        second = await sweeper.sweep()
        idle_ms = (time.perf_counter() - started) * 1000
    finally:
        await pool.close()
    return {
        "benchmark": "sweep",
        "terminal_rows": TERMINAL,
        "in_flight_rows": IN_FLIGHT,
        "first_pass": {"ms": round(first_ms, 2), "deadline_failures": first.deadline_failures,
                       "stuck_marked": first.stuck_marked},
        "idle_pass_ms": round(idle_ms, 2),
        "idle_pass_changes": second.deadline_failures + second.stuck_marked,
        "deadline_plan": plan,
    }


def main() -> None:
    """Seed the ledger and time the sweeper."""
    with EmbeddedPostgres() as pg:
        print(json.dumps(asyncio.run(run(pg))))


if __name__ == "__main__":
    main()
