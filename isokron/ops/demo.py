"""Run the ``isokron demo``: an embedded PostgreSQL, seeded, driven through the provider."""

from __future__ import annotations

import json
import time

import asyncpg

from ..embedded import EmbeddedPostgres
from ..provider import IsoKronMemoryProvider
from ..readers import verify_event_chain
from ..testing.seed import demo_seeded, demo_totals, seed_demo_workspace
from .cli._interrupt import run as run_interruptible

__all__ = ["run_demo"]


async def _seed(pg: EmbeddedPostgres, workspace_id: str) -> None:
    conn = await asyncpg.connect(pg.dsn)
    try:
        if await demo_seeded(conn, workspace_id):
            print(f"workspace {workspace_id} already seeded; reusing it")
            return
        summary = await seed_demo_workspace(conn, workspace_id)
        print(f"seeded workspace {summary.workspace_id}: actors {', '.join(sorted(summary.actors))}"
              f"; {summary.policies} policies; {summary.capabilities} capability rows; "
              f"{summary.scratchpad_entries} scratchpad entries; {summary.chain_events} chain "
              f"events; {summary.constitution_revisions} constitution revisions")
    finally:
        await conn.close()


async def _report(pg: EmbeddedPostgres, workspace_id: str) -> str:
    conn = await asyncpg.connect(pg.dsn)
    try:
        broken = await verify_event_chain(conn, workspace_id)
        totals = await demo_totals(conn, workspace_id)
    finally:
        await conn.close()
    chain = "intact" if broken is None else f"BROKEN at seq {broken}"
    return (f"{totals['chain_events']} chain events (chain {chain}); {totals['episodes']} "
            f"episodic events; {totals['delegations']} delegation(s) in the ledger; "
            f"{totals['messages']} session messages")


#: the memory the demo stores (its secret is redacted before storage)
DEMO_MEMORY = ("Deploys freeze on Fridays after 14:00 UTC "
               "(ops lead, DEPLOY_TOKEN=abc123 must never be stored)")


def _remember(provider: IsoKronMemoryProvider) -> None:
    """Store DEMO_MEMORY once: a rerun on the same --data-dir finds it and stores nothing."""
    prefix = DEMO_MEMORY.split("(")[0].strip()  # what redaction leaves as it was
    found = json.loads(provider.handle_tool_call("isokron_memory_search", {"query": prefix}))
    stored = [m for m in found.get("memories", [])
              if str(m.get("content", "")).startswith(prefix)]
    if stored:
        print(f"tool isokron_memory_search -> the demo memory is already stored "
              f"(id {stored[0].get('id')}): {stored[0].get('content')!r}")
        return
    committed = json.loads(provider.handle_tool_call("isokron_memory_commit",
                                                     {"content": DEMO_MEMORY}))
    print(f"tool isokron_memory_commit -> ok={committed['ok']}, stored: "
          f"{committed.get('memory', {}).get('content')!r}")


def run_demo(*, workspace_id: str = "org_demo", data_dir: str | None = None) -> int:
    """Start the embedded server, seed a workspace and run one agent session through isokron."""
    started = time.perf_counter()
    with EmbeddedPostgres(data_dir) as pg:
        print(f"embedded PostgreSQL up and migrated in {time.perf_counter() - started:.2f}s")
        run_interruptible(_seed(pg, workspace_id))
        provider = IsoKronMemoryProvider({
            "dsn": pg.runtime_dsn, "workspace_id": workspace_id, "write_transport": "substrate",
        })
        provider.initialize("demo-session-1", user_id="demo-user")
        try:
            t0 = time.perf_counter()
            provider.on_turn_start(1, "What can you do for me today?")
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            block = provider.system_prompt_block()
            warm = time.perf_counter() - t0
            print("\n" + "=" * 72 + "\n" + block + "\n" + "=" * 72 + "\n")
            print(f"cold warm-up (7 reads, one fan-out): {cold * 1000:.1f} ms; "
                  f"warm system_prompt_block: {warm * 1e6:.1f} µs; block {len(block)} chars")
            provider.sync_turn(
                "What can you do for me today?",
                "I can open tickets (cap_create_ticket) and delegate to SEA (cap_delegate_to_sea).",
            )
            _remember(provider)
            print("prefetch('friday deploys'):\n" + provider.prefetch("friday deploys"))
            provider.on_delegation("Fix flaky CI on the billing service", "PR 312 merged",
                                   child_session_id="demo-child-1")
            provider.on_session_end([])
        finally:
            provider.shutdown()
        print("after the session: " + run_interruptible(_report(pg, workspace_id)))
    return 0
