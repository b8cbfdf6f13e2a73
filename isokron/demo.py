"""Run the ``isokron demo``: an embedded PostgreSQL, migrated, seeded and shown."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from .embedded import EmbeddedPostgres
from .testing.seed import seed_demo_workspace

__all__ = ["run_demo"]


async def _seed_and_show(pg: EmbeddedPostgres, workspace_id: str) -> None:
    conn = await asyncpg.connect(pg.dsn)
    try:
        exists = await conn.fetchval(
            "SELECT 1 FROM hivex_foundation.tenant WHERE clerk_org_id = $1", workspace_id
        )
        if exists:
            print(f"workspace {workspace_id} already seeded; reusing it")
        else:
            summary = await seed_demo_workspace(conn, workspace_id)
            print(f"seeded workspace {summary.workspace_id}:")
            print(f"  actors: {', '.join(sorted(summary.actors))}")
            print(f"  role charter sha256: {summary.charter_hash}")
            print(f"  policies: {summary.policies}   capability rows: {summary.capabilities}")
            print(f"  scratchpad entries: {summary.scratchpad_entries}   "
                  f"chain events: {summary.chain_events}   "
                  f"constitution revisions: {summary.constitution_revisions}")
    finally:
        await conn.close()


def run_demo(*, workspace_id: str = "org_demo", data_dir: str | None = None) -> int:
    """Start the embedded server, seed a workspace and print what isokron sees."""
    started = time.perf_counter()
    with EmbeddedPostgres(data_dir) as pg:
        print(f"embedded PostgreSQL up and migrated in {time.perf_counter() - started:.2f}s")
        asyncio.run(_seed_and_show(pg, workspace_id))
    return 0
