"""The outbox delivers queued writes in batches: lanes side by side, merged runs."""

from __future__ import annotations

import asyncio

import pytest

from isokron.engine.outbox import Outbox, WriteJob


def _job(name: str, log: list[str], lane: str = "", merge=None) -> WriteJob:
    async def run() -> None:
        log.append(name)

    return WriteJob(name=name, run=run, lane=lane, item=name, merge=merge)


async def test_a_run_of_mergeable_jobs_is_one_call_with_the_items_in_order():
    calls: list[list[str]] = []

    async def merge(items: list[str]) -> None:
        calls.append(items)

    outbox = Outbox()
    log: list[str] = []
    for n in range(5):
        outbox.submit(_job(f"e{n}", log, lane="episodic:a", merge=merge))
    assert await outbox.wait_idle(1)
    assert calls == [["e0", "e1", "e2", "e3", "e4"]] and log == []
    assert outbox.stats.delivered == 5 and outbox.queued_bytes == 0 and len(outbox) == 0


async def test_a_lone_mergeable_job_runs_its_own_run_function():
    async def merge(items: list[str]) -> None:
        raise AssertionError("not for one job")

    outbox = Outbox()
    log: list[str] = []
    outbox.submit(_job("only", log, lane="episodic:a", merge=merge))
    assert await outbox.wait_idle(1)
    assert log == ["only"]


async def test_a_stuck_lane_does_not_hold_up_another_and_order_holds_within_a_lane():
    gate = asyncio.Event()
    log: list[str] = []

    async def stuck() -> None:
        await gate.wait()
        log.append("slow")

    outbox = Outbox()
    outbox.submit(WriteJob(name="slow", run=stuck, lane="chain:a"))
    outbox.submit(_job("after-slow", log, lane="chain:a"))
    for n in range(3):
        outbox.submit(_job(f"s{n}", log, lane="session:1"))
    for _ in range(20):
        await asyncio.sleep(0)
    assert log == ["s0", "s1", "s2"]  # the other lane went ahead
    assert len(outbox) == 2  # delivered jobs left the queue at once
    gate.set()
    assert await outbox.wait_idle(1)
    assert log == ["s0", "s1", "s2", "slow", "after-slow"]


async def test_a_failing_merged_write_is_retried_as_a_whole():
    attempts: list[list[str]] = []

    async def merge(items: list[str]) -> None:
        attempts.append(items)
        if len(attempts) == 1:
            raise ConnectionResetError("dropped")

    outbox = Outbox(base_backoff_s=0.001)
    log: list[str] = []
    for n in range(3):
        outbox.submit(_job(f"e{n}", log, lane="episodic:a", merge=merge))
    assert await outbox.wait_idle(1)
    assert attempts == [["e0", "e1", "e2"]] * 2
    assert outbox.stats.retried == 1 and outbox.stats.delivered == 3


async def test_batch_max_bounds_one_delivery_and_must_be_positive():
    calls: list[list[str]] = []

    async def merge(items: list[str]) -> None:
        calls.append(items)

    outbox = Outbox(batch_max=2)
    log: list[str] = []
    for n in range(5):
        outbox.submit(_job(f"e{n}", log, lane="x", merge=merge))
    assert await outbox.wait_idle(1)
    assert calls == [["e0", "e1"], ["e2", "e3"]] and log == ["e4"]
    with pytest.raises(ValueError, match="batch_max must be >= 1, got 0"):
        Outbox(batch_max=0)
