"""Pin IsoKronMemoryProvider's hooks on the in-memory substrate (sync, as a loop calls them)."""

from __future__ import annotations

import time

import pytest
import yaml

from isokron import (
    IsoKronMemoryProvider,
    NoActiveRoleCharterError,
    RoleCharterIntegrityError,
    SubstrateUnavailableError,
)
from isokron.testing import InMemorySubstrate
from tests.unit.helpers import DSN, RecordingTransport


def provider(fake=None, transport=None, **settings):
    p = IsoKronMemoryProvider({"dsn": DSN, **settings},
                              substrate=fake or InMemorySubstrate.with_demo_workspace(),
                              transport=transport or RecordingTransport())
    p.initialize("s1", workspace_id="org_demo")
    return p


def test_turn_start_warms_and_the_block_is_served_without_reads():
    """After on_turn_start the block comes from cache: no further substrate calls."""
    fake = InMemorySubstrate.with_demo_workspace()
    p = provider(fake)
    p.on_turn_start(1, "hello")
    calls = len(fake.calls)
    block = p.system_prompt_block()
    assert block.startswith("§1 Identity")
    assert len(fake.calls) == calls
    assert p.session_context().workspace_id == "org_demo"
    p.shutdown()


def test_workspace_resolution_order():
    """kwargs beat initialize(), which beats config; none -> hooks do nothing."""
    fake = InMemorySubstrate.with_demo_workspace("org_demo")
    fake.put_charter("org_other", {"identity": "Other"}, charter_version="9")
    p = IsoKronMemoryProvider({"dsn": DSN, "workspace_id": "org_cfg"}, substrate=fake)
    p.initialize("s1")
    assert p.workspace_for() == "org_cfg"
    p.initialize("s1", workspace_id="org_demo")
    assert p.workspace_for() == "org_demo"
    assert p.workspace_for({"workspace_id": "org_other"}) == "org_other"
    p.on_turn_start(1, "x", workspace_id="org_other")
    assert p.session_context(workspace_id="org_other").role_charter.charter_version == "9"
    p.shutdown()
    bare = IsoKronMemoryProvider({"dsn": DSN}, substrate=fake)
    bare.initialize("s2")
    bare.on_turn_start(1, "x")
    assert bare.system_prompt_block() == "" and bare.session_context() is None
    bare.shutdown()


def test_fail_closed_errors_reach_the_agent_loop():
    """NoActiveRoleCharterError and RoleCharterIntegrityError propagate from both hooks."""
    fake = InMemorySubstrate.with_demo_workspace()
    fake.charters["org_demo"]["content_hash"] = "0" * 64
    p = provider(fake)
    with pytest.raises(RoleCharterIntegrityError):
        p.on_turn_start(1, "x")
    with pytest.raises(RoleCharterIntegrityError):
        p.system_prompt_block()
    del fake.charters["org_demo"]
    with pytest.raises(NoActiveRoleCharterError):
        p.on_turn_start(2, "x")
    p.shutdown()


def test_unavailable_cold_workspace_raises_within_the_bound():
    """A hanging substrate makes on_turn_start raise within prefetch_timeout_s."""
    fake = InMemorySubstrate.with_demo_workspace()
    fake.delay_s = 5
    p = provider(fake, prefetch_timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(SubstrateUnavailableError):
        p.on_turn_start(1, "x")
    assert time.monotonic() - started <= 0.35
    assert p.system_prompt_block() == ""  # not fail-closed: logged, empty
    p.shutdown()


def test_write_hooks_return_at_once_and_never_raise():
    """Write hooks enqueue; a failing transport never reaches the caller."""
    transport = RecordingTransport()
    transport.fail_times = 10**6
    transport.error = ValueError("boom")
    p = provider(transport=transport)
    started = time.monotonic()
    p.sync_turn("u", "uses cap_create_ticket")
    p.on_memory_write("add", "notes", "x")
    p.on_delegation("task", "result", child_session_id="c1")
    p.on_session_end([])
    assert time.monotonic() - started < 0.1
    p.shutdown()


def test_session_end_counts_turns_and_switch_reset_flushes_caches():
    """session.ended carries the turn count; on_session_switch(reset=True) empties the cache."""
    transport = RecordingTransport()
    fake = InMemorySubstrate.with_demo_workspace()
    p = provider(fake, transport=transport)
    p.on_turn_start(1, "a")
    p.sync_turn("a", "b")
    p.sync_turn("c", "d")
    p.on_session_end([])
    p.shutdown()
    assert transport.events[-1]["payload"] == {"session_id": "s1", "turn_count": 2}
    p2 = provider(fake)
    p2.on_turn_start(1, "a")
    assert p2.session_context() is not None
    p2.on_session_switch("s2", reset=True)
    assert p2.session_context() is None and p2.session_id == "s2"
    note = p2.on_pre_compress([{"role": "user", "content": "x"}])
    assert note.startswith("[isokron]") and "session s2" in note and "\n" not in note
    p2.shutdown()


def test_config_schema_marks_the_dsn_secret():
    """get_config_schema describes every field; only the DSN is secret."""
    schema = provider().get_config_schema()
    keys = {item["key"] for item in schema}
    assert {"dsn", "workspace_id", "write_transport", "stale_if_error_seconds"} <= keys
    assert [item["key"] for item in schema if item["secret"]] == ["dsn", "context_signing_key"]


def test_save_config_writes_only_the_isokron_section(tmp_path):
    """save_config keeps every other key of config.yaml."""
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"model": "opus", "memory": {"provider": "isokron"},
                                    "isokron": {"dsn": DSN}}))
    provider().save_config({"workspace_id": "org_demo"}, str(tmp_path))
    saved = yaml.safe_load(path.read_text())
    assert saved["model"] == "opus" and saved["memory"] == {"provider": "isokron"}
    assert saved["isokron"] == {"dsn": DSN, "workspace_id": "org_demo"}


def test_save_config_rejects_unknown_keys_and_leaves_the_file_alone(tmp_path):
    """An unknown setting is a ConfigError and config.yaml is unchanged."""
    from isokron import ConfigError

    path = tmp_path / "config.yaml"
    original = yaml.safe_dump({"model": "opus", "isokron": {"dsn": DSN}})
    path.write_text(original)
    with pytest.raises(ConfigError, match="colour"):
        provider().save_config({"colour": "blue"}, str(tmp_path))
    assert path.read_text() == original


def test_the_served_block_follows_every_cache_change_and_expiry():
    """The no-lookup fast path never outlives a write, an invalidation or the TTL."""
    from tests.unit.helpers import FakeClock

    clock = FakeClock()
    fake = InMemorySubstrate.with_demo_workspace()
    p = IsoKronMemoryProvider({"dsn": DSN, "cache_ttl_seconds": 60}, substrate=fake,
                              transport=RecordingTransport(), clock=clock)
    p.initialize("s1", workspace_id="org_demo")
    p.on_turn_start(1, "hello")
    first = p.system_prompt_block()
    reads = len(fake.calls)
    assert p.system_prompt_block() is first and len(fake.calls) == reads  # served hot
    for change in (lambda: p.core.cache.mark_dirty("org_demo", "own_scratchpad"),
                   lambda: clock.advance(61),
                   lambda: p.core.cache.invalidate("org_demo")):
        change()
        assert p.system_prompt_block() == first and len(fake.calls) > reads
        reads = len(fake.calls)
        assert p.system_prompt_block() == first and len(fake.calls) == reads
    p.shutdown()


def test_a_loop_faster_than_the_database_is_slowed_down_not_robbed():
    """200 writes into an outbox of 10 over a slow transport: the hooks wait, none is lost."""
    import asyncio

    class Slow(RecordingTransport):
        async def write_scratchpad(self, *args, **kwargs):
            await asyncio.sleep(0.001)
            return await super().write_scratchpad(*args, **kwargs)

    transport = Slow()
    p = provider(transport=transport, outbox_capacity=10, outbox_wait_s=5)
    p.on_turn_start(1, "hello")
    for n in range(200):
        p.on_memory_write("add", "memory", f"fact {n}")
    p.shutdown()
    assert [e["content"].rsplit(" ", 1)[-1] for e in transport.scratchpad] == [
        str(n) for n in range(200)]


def test_outbox_wait_zero_turns_the_waiting_off():
    """outbox_wait_s=0: a full outbox drops (and logs) instead of waiting."""
    import asyncio

    class Stuck(RecordingTransport):
        async def write_scratchpad(self, *args, **kwargs):
            await asyncio.sleep(0.2)
            return await super().write_scratchpad(*args, **kwargs)

    p = provider(transport=Stuck(), outbox_capacity=2, outbox_wait_s=0, shutdown_timeout_s=0.1)
    p.on_turn_start(1, "hello")
    started = time.perf_counter()
    for n in range(50):
        p.on_memory_write("add", "memory", f"fact {n}")
    assert time.perf_counter() - started < 0.5
    core = p.core
    p.shutdown()
    assert core.outbox.stats.overflowed > 0


def test_a_hook_whose_writes_cannot_be_queued_says_so_and_is_counted(caplog):
    """user_id of 300 characters: nothing is queued, a WARNING names the hook, the reason
    and a count, and stats() counts the rejection (the loop never sees an exception)."""
    import logging

    p = IsoKronMemoryProvider({"dsn": DSN}, substrate=InMemorySubstrate.with_demo_workspace(),
                              transport=RecordingTransport(), own_stores=True)
    p.initialize("s1", workspace_id="org_demo", user_id="u" * 300)
    with caplog.at_level(logging.WARNING, logger="isokron"):
        p.sync_turn("hello", "hi")
        p.sync_turn("hello", "hi")
    stats = p.stats()
    assert stats["rejected"] == {"sync_turn": 2}
    assert stats["outbox"]["queued"] == 0 and stats["outbox"]["queued_now"] == 0
    assert "isokron sync_turn: write not queued: InvalidInputError" in caplog.text
    assert "(2 sync_turn call(s) rejected so far)" in caplog.text
    p.shutdown()


def test_stats_counts_every_write_per_surface():
    transport = RecordingTransport()
    p = provider(transport=transport)
    p.on_turn_start(1, "hello")
    p.on_memory_write("add", "memory", "fact one")
    p.on_memory_write("add", "memory", "fact two")
    from isokron.engine import loop

    assert loop.submit_and_wait(p.core.flush(2), 3)
    stats = p.stats()
    assert stats["outbox"]["by_surface"]["scratchpad"]["delivered"] == 2
    assert stats["outbox"]["delivered"] == 2 and stats["outbox"]["dead_letters"] == []
    assert stats["breaker"]["state"] == "closed"
    p.shutdown()
    assert p.stats() == {}


@pytest.mark.parametrize(("name", "args", "kwargs"), [
    ("isokron_memory_search", {"query": "a\x00b"}, {}),
    ("isokron_memory_search", {"query": "\ud800"}, {}),
    ("isokron_memory_search", "{not json", {}),
    ("isokron_memory_search", ["not", "a", "dict"], {}),
    ("isokron_memory_search", {"limit": "20"}, {}),
    ("isokron_memory_commit", {"content": "x", "pin": "false"}, {}),
    ("isokron_memory_commit", {"content": "   "}, {}),
    ("no_such_tool", {}, {}),
    (None, None, {}),
    ("isokron_memory_search", {"query": "x"}, {"workspace_id": "ws\x00"}),
])
def test_the_sync_facade_answers_every_bad_tool_call_with_an_envelope(name, args, kwargs):
    import json

    deep: dict = {}
    cursor = deep
    for _ in range(5000):
        cursor["a"] = {}
        cursor = cursor["a"]
    p = provider()
    for call_args in (args, {"query": deep}):
        out = json.loads(p.handle_tool_call(name, call_args, **kwargs))
        assert out["ok"] is False and out["error"]["type"] and out["error"]["message"]
    p.shutdown()
