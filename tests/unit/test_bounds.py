"""Pin the memory bounds: the outbox counts bytes as well as jobs; the cache size is set."""

from __future__ import annotations

import asyncio

import pytest

from isokron import AsyncIsoKron
from isokron.engine.outbox import Outbox, WriteJob
from isokron.engine.writes import payload_bytes
from isokron.errors import ConfigError
from isokron.testing import InMemorySubstrate


async def test_the_outbox_refuses_writes_past_its_byte_bound():
    """Jobs are accepted while their payload fits in max_bytes; bytes are released on delivery."""
    gate = asyncio.Event()

    async def slow() -> None:
        await gate.wait()

    outbox = Outbox(capacity=1000, max_bytes=250_000)
    accepted = [outbox.submit(WriteJob(name="m", run=slow, size=100_000)) for _ in range(4)]
    assert accepted == [True, True, False, False]
    assert outbox.queued_bytes == 200_000 and outbox.stats.overflowed == 2
    gate.set()
    assert await outbox.wait_idle(2.0)
    assert outbox.queued_bytes == 0
    assert outbox.submit(WriteJob(name="m", run=slow, size=100_000))
    await outbox.drain(1.0)


def test_payload_bytes_counts_text_and_json():
    """Strings count as UTF-8, containers as their JSON."""
    assert payload_bytes("é") == 2
    assert payload_bytes({"a": [1, 2]}, None, "xy") == len('{"a": [1, 2]}') + 2


async def test_the_core_applies_the_configured_bounds():
    """cache_max_workspaces and outbox_max_bytes reach the cache and the outbox."""
    fake = InMemorySubstrate.with_demo_workspace()
    kron = AsyncIsoKron({"dsn": "postgresql://x/y", "cache_max_workspaces": 2,
                         "outbox_max_bytes": 4096}, substrate=fake)
    assert kron.outbox.max_bytes == 4096
    assert kron.cache.maxsize == 2
    await kron.close()


@pytest.mark.parametrize(("key", "value"), [("cache_max_workspaces", 0),
                                            ("outbox_max_bytes", 10), ("outbox_max_bytes", "x")])
def test_bad_bounds_are_config_errors_naming_the_key(key, value):
    """Out-of-range bounds raise ConfigError with the key."""
    with pytest.raises(ConfigError) as raised:
        AsyncIsoKron({"dsn": "postgresql://x/y", key: value})
    assert raised.value.key == key


def test_a_result_envelope_is_capped_and_says_so():
    """capped_envelope (the MCP server's quota_result_bytes): under the cap nothing
    changes; over it the last items go, the envelope says how many; a result that cannot
    fit becomes an error envelope naming the quota."""
    import json

    from isokron.engine.tools import capped_envelope, ok_envelope

    small = ok_envelope(memories=[{"content": "a"}])
    assert capped_envelope(small, 1024) == small
    big = ok_envelope(memories=[{"content": f"{i}" + "é" * 500} for i in range(50)],
                      untrusted=True, note="n")
    capped = capped_envelope(big, 4096)
    doc = json.loads(capped)
    assert len(capped.encode()) <= 4096 and doc["ok"] and doc["untrusted"]
    assert [m["content"][0] for m in doc["memories"]] == [str(i) for i in
                                                         range(len(doc["memories"]))]
    assert doc["truncated"]["omitted"] == 50 - len(doc["memories"]) > 0
    huge = ok_envelope(memory={"content": "x" * 5000})
    refused = json.loads(capped_envelope(huge, 1024))
    assert not refused["ok"] and "quota_result_bytes exceeded: limit 1024" in refused[
        "error"]["message"]
