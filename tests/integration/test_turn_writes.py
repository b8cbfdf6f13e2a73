"""A turn's messages and its `turn` episode share one fate (issue 24, item 5).

They are one outbox job: delivered together, retried together, and when the episode
cannot land they are dead-lettered and reported together (the dead letter says the
messages were stored), and `close()` and the `lost` counter count the turn.
"""

from __future__ import annotations

import asyncio

import asyncpg

from isokron import AsyncIsoKron
from isokron.testing.seed import seed_demo_workspace


async def _counts(owner: asyncpg.Connection, tenant: str) -> tuple[int, int]:
    messages = await owner.fetchval(
        "SELECT count(*) FROM isokron.agent_messages WHERE tenant_id = $1", tenant)
    episodes = await owner.fetchval(
        "SELECT count(*) FROM isokron.agent_episodic_events WHERE workspace_id = $1 "
        "AND event_type = 'turn'", tenant)
    return int(messages), int(episodes)


async def test_a_turn_lands_whole_once_a_lock_on_the_episodes_goes(db, owner):
    await seed_demo_workspace(owner, "org_a")
    kron = AsyncIsoKron({"dsn": db.runtime_dsn, "statement_timeout_ms": 200,
                         "outbox_max_attempts": 50})
    await kron.warm("org_a")
    blocker = await asyncpg.connect(db.dsn)
    try:
        await blocker.execute("BEGIN")
        await blocker.execute("LOCK TABLE isokron.agent_episodic_events IN EXCLUSIVE MODE")
        await kron.sync_turn("org_a", "what is my plan?", "the blue one", session_id="s",
                             user_id="u")
        for _ in range(200):
            if kron.stats()["outbox"]["retried"] >= 1:
                break
            await asyncio.sleep(0.05)
        during = await _counts(owner, "org_a")
    finally:
        await blocker.close()
    assert await kron.flush(20)
    stats = kron.stats()["outbox"]
    lost = await kron.close()
    # While the lock held, the messages were in and the turn was still being retried.
    assert during == (2, 0)
    assert await _counts(owner, "org_a") == (2, 1)  # a retry re-sent both: no duplicate
    assert lost == 0 and stats["dead_lettered"] == 0 and stats["retried"] >= 1


async def test_a_turn_whose_episode_cannot_land_is_reported_with_its_messages(db, owner):
    await seed_demo_workspace(owner, "org_a")
    await seed_demo_workspace(owner, "org_b")
    kron = AsyncIsoKron({"dsn": db.runtime_dsn, "statement_timeout_ms": 100,
                         "outbox_max_attempts": 2})
    await kron.warm("org_a")
    blocker = await asyncpg.connect(db.dsn)
    try:
        await blocker.execute("BEGIN")
        await blocker.execute("LOCK TABLE isokron.agent_episodic_events IN EXCLUSIVE MODE")
        await kron.sync_turn("org_a", "remember the code word", "noted", session_id="s",
                             user_id="u")
        for _ in range(200):
            if kron.stats()["outbox"]["dead_lettered"]:
                break
            await asyncio.sleep(0.05)
    finally:
        await blocker.close()
    stats = kron.stats()
    lost = await kron.close()
    outbox = stats["outbox"]
    assert outbox["dead_lettered"] == 1, outbox
    [dead] = outbox["dead_letters"]
    assert dead["name"] == "session.turn" and dead["writes"] == 1
    assert "still refused after 2 attempt(s)" in dead["reason"]
    assert "the messages of 1 turn(s) were stored, their turn episode(s) not yet" in \
        dead["error"]
    assert lost == 1  # close() counts the turn that did not land whole
    assert await _counts(owner, "org_a") == (2, 0)
    assert await _counts(owner, "org_b") == (0, 0)


async def test_the_lost_metric_counts_dead_lettered_writes(db, owner):
    """What the `isokron.outbox.lost` counter reads: every write that did not land."""
    await seed_demo_workspace(owner, "org_a")
    kron = AsyncIsoKron({"dsn": db.runtime_dsn, "statement_timeout_ms": 100,
                         "outbox_max_attempts": 1})
    await kron.warm("org_a")
    blocker = await asyncpg.connect(db.dsn)
    try:
        await blocker.execute("BEGIN")
        await blocker.execute("LOCK TABLE isokron.agent_messages IN EXCLUSIVE MODE")
        await kron.sync_turn("org_a", "a", "b", session_id="s", user_id="u")
        for _ in range(200):
            if kron.observed()["lost"]:
                break
            await asyncio.sleep(0.05)
    finally:
        await blocker.close()
    seen = kron.observed()
    assert await kron.close() == 1
    assert seen["lost"] == 1 and seen["dead_lettered"] == 1
