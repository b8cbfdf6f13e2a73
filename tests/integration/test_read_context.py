"""The one-round-trip identity read returns exactly what the seven single reads return."""

from __future__ import annotations

import asyncio

import asyncpg
import attrs

from isokron.readers import PostgresSubstrate, assemble_context
from isokron.testing.seed import seed_demo_workspace


def _comparable(ctx):
    return attrs.evolve(ctx, assembled_at=None)


async def test_one_call_equals_the_seven_reads(owner, runtime_pool):
    """read_context (one function call) and the fan-out of single reads agree field by field."""
    await seed_demo_workspace(owner, "org_demo")
    substrate = PostgresSubstrate(runtime_pool)
    for kind in ("kora", "sea", "claude_pm"):
        one = await substrate.read_context("org_demo", actor_kind=kind, scratchpad_limit=3,
                                           event_limit=4)
        seven = await assemble_context(substrate, "org_demo", actor_kind=kind,
                                       scratchpad_limit=3, event_limit=4)
        assert _comparable(one) == _comparable(seven), kind


async def test_a_cold_read_is_one_round_trip_and_works_on_one_connection(owner, db):
    """asyncpg's query logger sees one statement; a plain connection (not a pool) works."""
    await seed_demo_workspace(owner, "org_demo")
    conn = await asyncpg.connect(db.runtime_dsn)
    try:
        sent: list[str] = []
        conn.add_query_logger(lambda record: sent.append(record.query))
        ctx = await PostgresSubstrate(conn).read_context("org_demo")
        await asyncio.sleep(0)  # query loggers are called soon after the query
        assert len(sent) == 1 and "read_context_v1" in sent[0]
        assert ctx.role_charter.charter_version == "2.1.0" and len(ctx.policies) == 31
        parts = await PostgresSubstrate(conn).read_parts(
            "org_demo", frozenset({"own_scratchpad", "recent_events"}))
        await asyncio.sleep(0)
        assert set(parts) == {"own_scratchpad", "recent_events"} and len(sent) == 2
    finally:
        await conn.close()
