"""Pin AsyncIsoKron's logic on the in-memory substrate: caching, single-flight, errors, writes."""

from __future__ import annotations

import asyncio
import logging

import pytest

from isokron import (
    AsyncIsoKron,
    NoActiveRoleCharterError,
    RoleCharterIntegrityError,
    SubstrateUnavailableError,
)
from isokron.engine.outbox import Outbox, WriteJob
from isokron.testing import InMemorySubstrate
from tests.unit.helpers import DSN, FakeClock, RecordingTransport


def make(fake=None, clock=None, transport=None, **settings):
    cfg = {"dsn": DSN, **settings}
    return AsyncIsoKron(cfg, substrate=fake or InMemorySubstrate.with_demo_workspace(),
                        transport=transport or RecordingTransport(), clock=clock or FakeClock())


async def test_twenty_concurrent_warms_share_one_fan_out():
    """Single-flight: 20 concurrent warms of one workspace run the fan-out once."""
    fake = InMemorySubstrate.with_demo_workspace()
    fake.delay_s = 0.02
    kron = make(fake)
    contexts = await asyncio.gather(*(kron.warm("org_demo") for _ in range(20)))
    assert fake.count_calls("read_context") == 1
    assert fake.count_calls("read_active_role_charter") == 1
    assert all(c is contexts[0] for c in contexts)


async def test_warm_context_is_served_from_cache_until_the_ttl_expires():
    """Within the TTL no read happens; after it one fan-out runs again."""
    fake, clock = InMemorySubstrate.with_demo_workspace(), FakeClock()
    kron = make(fake, clock, cache_ttl_seconds=60)
    await kron.warm("org_demo")
    clock.advance(59)
    await kron.system_prompt_block("org_demo")
    assert fake.count_calls("read_context") == 1
    clock.advance(2)
    await kron.warm("org_demo")
    assert fake.count_calls("read_context") == 2


async def test_zero_ttl_disables_caching():
    """cache_ttl_seconds=0 reads every time."""
    fake = InMemorySubstrate.with_demo_workspace()
    kron = make(fake, cache_ttl_seconds=0)
    await kron.warm("org_demo")
    await kron.warm("org_demo")
    assert fake.count_calls("read_context") == 2


async def test_invalidate_forces_a_new_fan_out():
    """invalidate() drops the cached context."""
    fake = InMemorySubstrate.with_demo_workspace()
    kron = make(fake)
    await kron.warm("org_demo")
    kron.invalidate("org_demo")
    await kron.warm("org_demo")
    assert fake.count_calls("read_context") == 2


async def test_block_is_rendered_once_per_context():
    """The cached block is the same object on every call."""
    kron = make()
    first = await kron.system_prompt_block("org_demo")
    assert await kron.system_prompt_block("org_demo") is first


async def test_fail_closed_errors_propagate_and_clear_the_cache():
    """A tampered charter raises and is never served from a stale cache."""
    fake, clock = InMemorySubstrate.with_demo_workspace(), FakeClock()
    kron = make(fake, clock)
    await kron.warm("org_demo")
    fake.charters["org_demo"]["content_md"] += "tampered"
    clock.advance(61)
    with pytest.raises(RoleCharterIntegrityError):
        await kron.warm("org_demo")
    fake.fail_with = SubstrateUnavailableError("down")
    with pytest.raises(SubstrateUnavailableError):
        await kron.warm("org_demo")  # nothing verified to fall back on
    fake.fail_with = None
    del fake.charters["org_demo"]
    with pytest.raises(NoActiveRoleCharterError):
        await kron.system_prompt_block("org_demo")


async def test_stale_if_error_serves_a_recent_context_with_one_warning(caplog):
    """Unavailable substrate + verified context younger than the window -> served, warned once."""
    fake, clock = InMemorySubstrate.with_demo_workspace(), FakeClock()
    kron = make(fake, clock, cache_ttl_seconds=10, stale_if_error_seconds=300)
    block = await kron.system_prompt_block("org_demo")
    fake.fail_with = SubstrateUnavailableError("connection refused")
    clock.advance(20)
    with caplog.at_level(logging.WARNING, logger="isokron.core"):
        assert await kron.system_prompt_block("org_demo") == block
        assert await kron.system_prompt_block("org_demo") == block
    assert len([r for r in caplog.records if "stale-if-error" in r.getMessage()]) == 1
    clock.advance(300)
    with pytest.raises(SubstrateUnavailableError):
        await kron.warm("org_demo")


async def test_slow_substrate_is_bounded_by_prefetch_timeout():
    """A read slower than prefetch_timeout_s raises SubstrateUnavailableError in time."""
    fake = InMemorySubstrate.with_demo_workspace()
    fake.delay_s = 5
    kron = make(fake, prefetch_timeout_s=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(SubstrateUnavailableError, match="longer than"):
        await kron.warm("org_demo")
    assert loop.time() - started < 0.25


async def test_deferred_writes_are_logged_with_the_deviation_id_never_raised(caplog):
    """The deferred transport's errors become one rate-limited WARNING per surface."""
    kron = AsyncIsoKron({"dsn": DSN}, substrate=InMemorySubstrate.with_demo_workspace())
    with caplog.at_level(logging.WARNING, logger="isokron.outbox"):
        for _ in range(3):
            await kron.on_delegation("org_demo", "task", "result", child_session_id="c1")
        await kron.flush()
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "D-kr2-st3-no-scratchpad-write-mcp-tool" in m]) == 1
    assert len([m for m in messages if "D-kr2-st4-no-chain-emit-mcp-tool" in m]) == 1
    assert all("[isokron.deferred]" in m and "direct INSERT" in m for m in messages)
    assert kron.outbox.stats.deferred == 6
    await kron.close()


async def test_successful_writes_invalidate_only_the_parts_they_touch():
    """An event emit re-reads recent events only; a scratchpad write re-reads its parts."""
    fake = InMemorySubstrate.with_demo_workspace()
    kron = make(fake)
    await kron.warm("org_demo")
    fake.calls.clear()
    await kron.on_session_end("org_demo", session_id="s1", turn_count=3)
    await kron.flush()
    await kron.warm("org_demo")
    assert [name for name, _ in fake.calls] == ["read_recent_events"]
    fake.calls.clear()
    await kron.on_memory_write("org_demo", "add", "user", "likes tea")
    await kron.flush()
    await kron.warm("org_demo")
    assert sorted(name for name, _ in fake.calls) == ["read_own_scratchpad", "read_recent_events"]


async def test_sync_turn_records_capability_mentions_cut_with_a_marker():
    """Naming a cap_* writes a reasoning_trail entry with the names, not the answer (the
    scratchpad is the workspace's; the answer is the user's)."""
    transport = RecordingTransport()
    kron = make(transport=transport)
    await kron.sync_turn("org_demo", "hi", "plain answer", session_id="s1", turn_number=1)
    await kron.sync_turn("org_demo", "hi", "using cap_create_ticket " + "x" * 5000,
                         session_id="s1", turn_number=2)
    await kron.flush()
    assert len(transport.scratchpad) == 1
    entry = transport.scratchpad[0]
    assert entry["kind"] == "reasoning_trail"
    assert entry["content"] == "[turn 2 · session s1] capabilities named: cap_create_ticket"


async def test_memory_write_delegation_and_session_end_payloads():
    """Each write hook produces the documented scratchpad text or chain event."""
    transport = RecordingTransport()
    kron = make(transport=transport)
    await kron.on_memory_write("org_demo", "add", "user_profile", "prefers metric units")
    await kron.on_delegation("org_demo", "T" * 300, "R" * 300, child_session_id="child-9")
    await kron.on_session_end("org_demo", session_id="s1", turn_count=4)
    await kron.flush()
    assert transport.scratchpad[0]["content"] == "[memory.add → user_profile] prefers metric units"
    assert transport.scratchpad[1]["kind"] == "route_decision"
    handoff, ended = transport.events
    assert handoff["event_type"] == "kora.handoff.delegated"
    assert handoff["payload"] == {"child_session_id": "child-9", "task_preview": "T" * 200,
                                  "result_preview": "R" * 200}
    assert ended == {"workspace_id": "org_demo", "event_type": "kora.session.ended",
                     "payload": {"session_id": "s1", "turn_count": 4}}


async def test_outbox_keeps_order_and_retries_transient_errors():
    """Writes run in submission order; a transient error is retried, then delivered once."""
    transport = RecordingTransport()
    transport.fail_times = 2
    kron = make(transport=transport)
    kron.outbox.base_backoff_s = 0.001
    for n in range(5):
        await kron.on_session_end("org_demo", session_id=f"s{n}", turn_count=n)
    await kron.flush()
    assert [e["payload"]["session_id"] for e in transport.events] == [f"s{n}" for n in range(5)]
    assert kron.outbox.stats.retried == 2 and kron.outbox.stats.delivered == 5


async def test_outbox_overflow_is_logged_and_never_blocks(caplog):
    """A full queue drops the new write with a WARNING (hook, reason, count), at once."""
    outbox = Outbox(capacity=2)
    gate = asyncio.Event()

    async def blocked():
        await gate.wait()

    with caplog.at_level(logging.WARNING, logger="isokron.outbox"):
        assert outbox.submit(WriteJob(name="a", run=blocked))
        assert outbox.submit(WriteJob(name="b", run=blocked))
        assert not outbox.submit(WriteJob(name="c.x", run=blocked))
    assert outbox.stats.overflowed == 1 and outbox.by_surface["c"].overflowed == 1
    assert "outbox full" in caplog.text and "dropped write c.x" in caplog.text
    assert "1 c write(s) dropped so far" in caplog.text
    gate.set()
    assert await outbox.drain(1) == 0


async def test_shutdown_drains_within_its_timeout_and_counts_the_rest(caplog):
    """drain() delivers what it can in time and reports undelivered writes."""
    outbox = Outbox()
    done = []

    async def quick():
        done.append(1)

    async def stuck():
        await asyncio.sleep(10)

    outbox.submit(WriteJob(name="quick", run=quick))
    outbox.submit(WriteJob(name="stuck", run=stuck))
    outbox.submit(WriteJob(name="after", run=quick))
    with caplog.at_level(logging.WARNING, logger="isokron.outbox"):
        lost = await outbox.drain(0.1)
    assert done == [1] and lost == 2
    assert "2 undelivered" in caplog.text


async def test_a_caller_giving_up_does_not_cancel_the_shared_load():
    """Cancelling the first warm leaves the single-flight load running for the others."""
    fake = InMemorySubstrate.with_demo_workspace()
    fake.delay_s = 0.05
    kron = make(fake)
    first = asyncio.ensure_future(kron.warm("org_demo"))
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(kron.warm("org_demo"))
    first.cancel()
    context = await second
    assert context.workspace_id == "org_demo"
    assert fake.count_calls("read_context") == 1
    assert kron.cached("org_demo") is not None


async def test_partial_refreshes_never_extend_the_ttl_of_the_rest():
    """Writes every turn re-read their parts only; the charter is still re-verified on time."""
    fake, clock = InMemorySubstrate.with_demo_workspace(), FakeClock()
    kron = make(fake, clock, cache_ttl_seconds=60)
    await kron.warm("org_demo")
    for _ in range(5):
        clock.advance(11)
        await kron.on_session_end("org_demo", session_id="s", turn_count=1)
        await kron.flush()
        await kron.warm("org_demo")
    assert fake.count_calls("read_context") == 1 and fake.count_calls("read_recent_events") == 6
    fake.charters["org_demo"]["content_md"] += "tampered"
    clock.advance(6)  # 61 s after the full read
    with pytest.raises(RoleCharterIntegrityError):
        await kron.warm("org_demo")


async def test_injected_store_fakes_serve_the_tools_without_a_database():
    """AsyncIsoKron(memory=…, sessions=…) uses isokron.testing's fakes: agent code is
    unit-testable end to end with no PostgreSQL."""
    import json
    import uuid

    from isokron.stores import RequestContext
    from isokron.testing import (
        InMemoryDelegationLedger,
        InMemoryEpisodicStore,
        InMemoryNamespaceMemory,
        InMemorySessionStore,
    )

    memory = InMemoryNamespaceMemory()
    memory.add_workspace("org_demo")
    sessions, episodic = InMemorySessionStore(), InMemoryEpisodicStore()
    agent = uuid.uuid4()
    episodic.register_agent("org_demo", agent, "kora")
    kron = AsyncIsoKron({"dsn": DSN}, substrate=InMemorySubstrate.with_demo_workspace(),
                        transport=RecordingTransport(), memory=memory, sessions=sessions,
                        episodic=episodic, ledger=InMemoryDelegationLedger())
    out = json.loads(await kron.handle_tool("org_demo", "isokron_memory_commit",
                                            {"content": "prefers UTC"}))
    assert out["ok"] and out["memory"]["namespace"] == "workspace:org_demo"
    found = json.loads(await kron.handle_tool("org_demo", "isokron_memory_search",
                                              {"query": "UTC"}))
    assert [m["content"] for m in found["memories"]] == ["prefers UTC"]
    await kron.sync_turn("org_demo", "hi", "hello", session_id="s1", user_id="u1")
    assert await kron.flush(2)
    session_id = next(iter(sessions.sessions))[2]
    listed = await sessions.list_messages(RequestContext("org_demo", "u1"), session_id)
    assert [m.content for m in listed] == ["hi", "hello"]
    assert [e.event_type for e in await episodic.list("org_demo", agent)] == ["turn"]
    await kron.close()
