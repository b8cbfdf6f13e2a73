"""Drive IsoKronMemoryProvider against real PostgreSQL with plain sync code, as a loop would."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import time
import uuid

import asyncpg
import pytest
import yaml

from isokron import IsoKronMemoryProvider, SubstrateUnavailableError
from isokron.embedded import EmbeddedPostgres, run_coro_sync
from isokron.engine import loop
from isokron.ops.cli import main
from isokron.testing.seed import seed_demo_workspace


async def _seed(dsn: str, *workspaces: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for ws in workspaces:
            await seed_demo_workspace(conn, ws)
    finally:
        await conn.close()


async def _fetchval(dsn: str, sql: str, *args):
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


@pytest.fixture
def seeded_db(db):
    """A test database with org_demo seeded (sync fixture over the async one)."""
    run_coro_sync(_seed(db.dsn, "org_demo"))
    return db


def _events(dsn: str, event_type: str) -> int:
    return run_coro_sync(_fetchval(
        dsn, "SELECT count(*) FROM hivex_foundation.event_log WHERE event_type = $1", event_type))


def test_full_lifecycle_with_the_substrate_transport(seeded_db):
    """Scratchpad entries and chain events really land and the chain still verifies."""
    p = IsoKronMemoryProvider({"dsn": seeded_db.runtime_dsn, "workspace_id": "org_demo",
                               "write_transport": "substrate"})
    p.initialize("sess-1")
    p.on_turn_start(1, "hello")
    block = p.system_prompt_block()
    assert "§1 Identity (Kora Role Charter v2.1.0)" in block
    p.sync_turn("hello", "I will use cap_create_ticket for this.")
    p.on_memory_write("add", "user_profile", "prefers metric units")
    p.on_delegation("Fix flaky CI", "PR 312", child_session_id="child-1")
    p.on_session_end([])
    p.shutdown()
    assert _events(seeded_db.dsn, "kora.handoff.delegated") == 3  # 2 seeded + 1 new
    assert _events(seeded_db.dsn, "kora.session.ended") == 2
    assert _events(seeded_db.dsn, "kora.scratchpad.written") == 4  # 1 seeded + 3 new
    mirrored = run_coro_sync(_fetchval(
        seeded_db.dsn, "SELECT count(*) FROM kronicle.agent_scratchpad_entries "
        "WHERE content_inline = '[memory.add → user_profile] prefers metric units'"))
    assert mirrored == 1
    assert run_coro_sync(_fetchval(
        seeded_db.dsn, "SELECT hivex_foundation.verify_chain_v1('org_demo')")) is None


def test_full_lifecycle_with_the_deferred_transport(seeded_db, caplog):
    """Deferred writes are logged with their deviation ids and nothing is written."""
    p = IsoKronMemoryProvider({"dsn": seeded_db.runtime_dsn, "workspace_id": "org_demo"})
    p.initialize("sess-1")
    with caplog.at_level(logging.WARNING, logger="isokron.outbox"):
        p.on_turn_start(1, "hello")
        assert p.system_prompt_block().endswith("the substrate query wins.")
        p.on_delegation("task", "result", child_session_id="c")
        p.on_session_end([])
        p.shutdown()
    assert "D-kr2-st3-no-scratchpad-write-mcp-tool" in caplog.text
    assert "D-kr2-st4-no-chain-emit-mcp-tool" in caplog.text
    assert _events(seeded_db.dsn, "kora.session.ended") == 1  # only the seeded one


def test_a_successful_write_refreshes_the_served_events(seeded_db):
    """After an emitted event, the next warm shows it in §6 (only events re-read)."""
    p = IsoKronMemoryProvider({"dsn": seeded_db.runtime_dsn, "workspace_id": "org_demo",
                               "write_transport": "substrate"})
    p.initialize("sess-1")
    p.on_turn_start(1, "hello")
    assert "(15 cached)" in p.system_prompt_block()
    p.on_session_end([])
    loop.submit_and_wait(p.core.flush(), 5)
    p.on_turn_start(2, "again")
    assert "(16 cached)" in p.system_prompt_block()
    p.shutdown()


def test_two_providers_share_one_loop_thread_and_one_pool(seeded_db):
    """Instances with the same DSN share the loop thread and a reference-counted pool."""
    cfg = {"dsn": seeded_db.runtime_dsn, "workspace_id": "org_demo"}
    a, b = IsoKronMemoryProvider(cfg), IsoKronMemoryProvider(cfg)
    a.initialize("s-a")
    b.initialize("s-b")
    a.on_turn_start(1, "x")
    b.on_turn_start(1, "y")
    assert loop.submit_and_wait(a.core.pool(), 5) is loop.submit_and_wait(b.core.pool(), 5)
    assert loop.loop_thread() is not None and loop.loop_thread().name == "isokron-loop"
    key = a._pool_key
    assert loop.pools.users(key) == 2
    a.shutdown()
    assert loop.pools.users(key) == 1
    b.shutdown()
    assert loop.pools.users(key) == 0


def test_outage_serves_stale_raises_cold_and_recovers(server_dir):
    """Server stopped mid-session: warm block served, cold workspace raises in time, writes land once after restart."""
    with EmbeddedPostgres(server_dir / "pg", durable=False) as pg:
        run_coro_sync(_seed(pg.dsn, "org_demo", "org_cold"))
        p = IsoKronMemoryProvider({
            "dsn": pg.runtime_dsn, "workspace_id": "org_demo", "write_transport": "substrate",
            "cache_ttl_seconds": 0.2, "prefetch_timeout_s": 2.0, "breaker_open_seconds": 0.5,
        })
        p.initialize("sess-1")
        p.on_turn_start(1, "hello")
        block = p.system_prompt_block()
        pg.stop()
        time.sleep(0.3)  # let the fresh cache entry expire
        p.on_turn_start(2, "still there?")
        assert p.system_prompt_block() == block
        started = time.monotonic()
        with pytest.raises(SubstrateUnavailableError):
            p.on_turn_start(1, "cold", workspace_id="org_cold")
        assert time.monotonic() - started <= 2.1
        p.on_session_end([])  # queued while the server is down
        time.sleep(0.2)
        pg.start()
        time.sleep(0.5)  # the breaker lets its probe through after breaker_open_seconds
        p.on_turn_start(3, "back", workspace_id="org_cold")
        assert p.session_context(workspace_id="org_cold") is not None
        assert loop.submit_and_wait(p.core.flush(10), 15)
        p.shutdown()
        assert _events(pg.dsn, "kora.session.ended") == 2 * 1 + 1  # 2 seeded + 1 new


def test_hermes_style_loader_runs_the_hooks(seeded_db, tmp_path, monkeypatch, capsys):
    """hermes-install, then import <home>/plugins/isokron and call register(ctx) like a loader."""
    home = tmp_path / "hermes"
    assert main(["hermes-install", "--home", str(home), "--python", sys.executable]) == 0
    (home / "config.yaml").write_text(yaml.safe_dump({
        "memory": {"provider": "isokron"},
        "isokron": {"dsn": seeded_db.runtime_dsn, "workspace_id": "org_demo"},
    }))
    folder = home / "plugins" / "isokron"
    assert (folder / "plugin.yaml").exists()
    spec = importlib.util.spec_from_file_location("hermes_plugin_isokron", folder / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "hermes_plugin_isokron", module)
    spec.loader.exec_module(module)

    class Ctx:
        providers: list = []

        def register_memory_provider(self, provider):
            self.providers.append(provider)

    ctx = Ctx()
    module.register(ctx)
    (provider,) = ctx.providers
    assert provider.name == "isokron" and provider.is_available()
    provider.initialize("hermes-session")
    provider.on_turn_start(1, "hi")
    assert "Kora Role Charter" in provider.system_prompt_block()
    provider.sync_turn("hi", "hello")
    provider.shutdown()


def test_hooks_write_episodes_and_the_ledger(seeded_db):
    """sync_turn appends a turn episode; on_delegation an episode and a completed ledger row."""
    p = IsoKronMemoryProvider({"dsn": seeded_db.runtime_dsn, "workspace_id": "org_demo"})
    p.initialize("sess-7")
    p.sync_turn("U" * 2500, "short answer")
    p.on_delegation("Fix flaky CI", "PR 312 merged", child_session_id="child-42")
    p.shutdown()

    async def read():
        conn = await asyncpg.connect(seeded_db.dsn)
        try:
            episodes = await conn.fetch(
                "SELECT event_type, body::text AS body FROM isokron.agent_episodic_events "
                "ORDER BY created_at")
            ledger = await conn.fetch("SELECT * FROM isokron.delegations")
            sessions = await conn.fetch("SELECT id::text FROM isokron.agent_sessions")
            kora = await conn.fetchval(
                "SELECT actor_id FROM public.actor_registry WHERE actor_kind = 'kora'")
            return episodes, ledger, kora, sessions
        finally:
            await conn.close()

    episodes, ledger, kora, sessions = run_coro_sync(read())
    assert [e["event_type"] for e in episodes] == ["turn", "delegation"]
    turn = json.loads(episodes[0]["body"])
    assert turn["session_id"] == "sess-7" and turn["turn_number"] == 1
    # no text of the turn in a workspace-wide episode: only its lengths, and the key of its
    # session (what erasure of the session's user finds it by)
    assert set(turn) == {"session_id", "session", "turn_number", "user_chars",
                         "assistant_chars"}
    assert [s["id"] for s in sessions] == [turn["session"]]
    assert turn["assistant_chars"] == len("short answer") and turn["user_chars"] == 2500
    (row,) = ledger
    assert row["status"] == "completed" and row["caller_id"] == kora
    assert row["callee_id"] == uuid.uuid5(uuid.NAMESPACE_URL, "isokron:session:child-42")
    assert row["result_preview"] == "PR 312 merged"


async def test_an_external_pool_is_never_closed(db):
    """AsyncIsoKron(cfg, pool=pool) uses the caller's pool and leaves it open."""
    from isokron import AsyncIsoKron
    from isokron.pool import create_pool

    await _seed(db.dsn, "org_demo")
    pool = await create_pool(db.runtime_dsn)
    try:
        async with AsyncIsoKron({"dsn": db.runtime_dsn}, pool=pool) as kron:
            assert (await kron.warm("org_demo")).workspace_id == "org_demo"
            assert await kron.pool() is pool
        assert not pool.is_closing()
        assert await pool.fetchval("SELECT 1") == 1
    finally:
        await pool.close()


def test_unreachable_database_never_breaks_initialize(tmp_path):
    """initialize() does no I/O; a cold turn raises SubstrateUnavailableError; writes are quiet."""
    p = IsoKronMemoryProvider({"dsn": f"postgresql://nobody@/none?host={tmp_path}",
                               "workspace_id": "org_demo", "prefetch_timeout_s": 2,
                               "shutdown_timeout_s": 0.2})
    started = time.monotonic()
    p.initialize("s1")
    assert time.monotonic() - started < 0.5
    with pytest.raises(SubstrateUnavailableError):
        p.on_turn_start(1, "hi")
    assert p.system_prompt_block() == ""
    assert p.prefetch("anything") == ""
    p.sync_turn("a", "b")
    p.shutdown()
