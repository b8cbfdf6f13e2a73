"""The circuit breaker, the error classification and the outbox's dead letters."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import pytest

from isokron.engine.breaker import CircuitBreaker
from isokron.engine.outbox import Outbox, WriteJob
from isokron.errors import InvalidInputError, QueryTimeoutError, SubstrateUnavailableError
from isokron.pool import is_connection_failure
from tests.unit.helpers import FakeClock


def test_opens_after_n_connection_failures_and_one_probe_closes_it():
    clock = FakeClock()
    breaker = CircuitBreaker(failures=3, open_seconds=30, clock=clock)
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()
    with pytest.raises(SubstrateUnavailableError, match=r"failed 3 times in a row.*30\.0s"):
        breaker.check("reading")
    clock.advance(30)
    assert breaker.state == "half_open"
    assert breaker.allow() and not breaker.allow()  # one probe at a time
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow()


def test_a_failed_probe_opens_it_again_and_a_client_error_frees_the_probe():
    clock = FakeClock()
    breaker = CircuitBreaker(failures=1, open_seconds=5, clock=clock)
    breaker.record_failure()
    clock.advance(5)
    assert breaker.allow()
    breaker.release_probe()  # the probe hit a client error: no verdict
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open" and breaker.retry_in() == 5 and breaker.opened == 2


def test_zero_failures_disables_it_and_bad_settings_are_named():
    breaker = CircuitBreaker(failures=0)
    for _ in range(10):
        breaker.record_failure()
    assert breaker.allow() and breaker.state == "closed"
    with pytest.raises(ValueError, match="failures must be >= 0"):
        CircuitBreaker(failures=-1)


@pytest.mark.parametrize(("exc", "connection"), [
    (ConnectionResetError("reset"), True),
    (OSError("refused"), True),
    (TimeoutError(), True),
    (asyncpg.exceptions.CannotConnectNowError("starting up"), True),
    (asyncpg.exceptions.AdminShutdownError("shutdown"), True),
    (asyncpg.exceptions.TooManyConnectionsError("full"), True),
    (asyncpg.exceptions.ConnectionDoesNotExistError("closed mid-operation"), True),
    (asyncpg.exceptions.QueryCanceledError("statement timeout"), False),
    (asyncpg.exceptions.UniqueViolationError("dup"), False),
    (asyncpg.exceptions.InsufficientPrivilegeError("denied"), False),
    (asyncpg.exceptions.CharacterNotInRepertoireError("nul"), False),
    (QueryTimeoutError("lock"), False),
    (InvalidInputError("bad"), False),
    (ValueError("bad"), False),
])
def test_only_connection_level_failures_count(exc, connection):
    assert is_connection_failure(exc) is connection


def test_a_wrapped_failure_is_judged_by_its_cause():
    wrapped = SubstrateUnavailableError("x")
    wrapped.__cause__ = asyncpg.exceptions.QueryCanceledError("timeout")
    assert not is_connection_failure(wrapped)
    wrapped.__cause__ = ConnectionResetError()
    assert is_connection_failure(wrapped)


async def test_a_client_error_is_dead_lettered_at_once_and_the_queue_moves_on(caplog):
    """Not retried, not blocking the ordered queue; inspectable; logged at WARNING."""
    outbox = Outbox(base_backoff_s=0.001, dead_letter_max=2)
    done: list[str] = []

    async def bad() -> None:
        raise asyncpg.exceptions.CheckViolationError("new row violates check constraint")

    async def good() -> None:
        done.append("good")

    with caplog.at_level(logging.WARNING, logger="isokron.outbox"):
        for n in range(3):
            outbox.submit(WriteJob(name=f"episodic.bad{n}", run=bad, lane="a"))
        outbox.submit(WriteJob(name="session.messages", run=good, lane="a"))
        assert await outbox.wait_idle(1)
    assert done == ["good"] and outbox.stats.retried == 0
    assert outbox.stats.dead_lettered == 3 and outbox.by_surface["episodic"].dead_lettered == 3
    assert [d.name for d in outbox.dead_letters] == ["episodic.bad1", "episodic.bad2"]  # bounded
    assert "not retryable" in outbox.dead_letters[0].reason
    assert "CheckViolationError" in outbox.dead_letters[0].error
    assert "dead-lettered" in caplog.text and "ERROR" not in caplog.text


async def test_connection_failures_are_retried_a_bounded_number_of_times():
    outbox = Outbox(base_backoff_s=0.001, max_backoff_s=0.002, max_attempts=4)
    attempts = 0

    async def down() -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionResetError("reset")

    outbox.submit(WriteJob(name="event.kora.x", run=down))
    assert await outbox.wait_idle(1)
    assert attempts == 4 and outbox.stats.retried == 3 and outbox.stats.dead_lettered == 1
    assert "unreachable after 4 attempt(s)" in outbox.dead_letters[0].reason


async def test_while_the_breaker_is_open_the_outbox_waits_instead_of_burning_attempts():
    clock = FakeClock()
    breaker = CircuitBreaker(failures=1, open_seconds=60, clock=clock)
    breaker.record_failure()
    outbox = Outbox(breaker=breaker, max_attempts=2)
    ran: list[int] = []

    async def write() -> None:
        ran.append(1)

    outbox.submit(WriteJob(name="session.messages", run=write))
    await asyncio.sleep(0.05)
    assert ran == [] and outbox.retrying and len(outbox) == 1
    clock.advance(60)  # half-open: the write is the probe
    assert await outbox.wait_idle(2)
    assert ran == [1] and breaker.state == "closed" and not outbox.retrying


async def test_a_lock_or_statement_timeout_is_retried_and_is_not_an_outage():
    """The database answers 'canceling statement due to lock timeout' twice, then takes the
    write: delivered on the third attempt, the breaker never opened (issue 24, item 5)."""

    breaker = CircuitBreaker(failures=1, open_seconds=60)
    outbox = Outbox(breaker=breaker, base_backoff_s=0.001, max_attempts=5)
    attempts = 0

    async def locked() -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise QueryTimeoutError("the statement ran past statement_timeout (a lock)")

    outbox.submit(WriteJob(name="sessions.append", run=locked))
    assert await outbox.wait_idle(5)
    assert attempts == 3 and outbox.stats.delivered == 1 and outbox.stats.retried == 2
    assert breaker.allow() and outbox.stats.dead_lettered == 0


async def test_dead_lettered_writes_are_reported_lost_by_close():
    """Six writes the database keeps refusing: close() says six were lost, not zero."""

    outbox = Outbox(base_backoff_s=0.001, max_attempts=2)

    async def always_locked() -> None:
        raise QueryTimeoutError("lock timeout")

    for n in range(6):
        outbox.submit(WriteJob(name=f"sessions.append{n}", run=always_locked))
    assert await outbox.wait_idle(5)
    await outbox.drain(1)
    assert outbox.stats.dead_lettered == 6 and outbox.stats.undelivered == 6


async def test_a_quota_refusal_is_dead_lettered_counted_and_no_outage():
    """QuotaExceededError (SQLSTATE IKQ01): not retried, counted as over_quota, and the
    breaker does not open however many there are."""
    from isokron.errors import QuotaExceededError
    from isokron.pool import translate_errors

    breaker = CircuitBreaker(failures=1, open_seconds=30)
    outbox = Outbox(base_backoff_s=0.001, breaker=breaker)
    attempts = 0

    async def over() -> None:
        nonlocal attempts
        attempts += 1
        refusal = asyncpg.exceptions.PostgresError.new(
            {"C": "IKQ01", "M": "quota_messages_per_session exceeded: limit 3",
             "D": "session x would reach 4", "S": "ERROR"})
        async with translate_errors("appending messages"):
            raise refusal

    for n in range(3):
        outbox.submit(WriteJob(name=f"session.messages{n}", run=over, lane="s"))
    assert await outbox.wait_idle(1)
    assert attempts == 3 and outbox.stats.retried == 0
    assert outbox.stats.dead_lettered == 3 and outbox.stats.over_quota == 3
    assert outbox.snapshot()["by_surface"]["session"]["over_quota"] == 3
    assert breaker.state == "closed" and breaker.allow()
    letter = outbox.dead_letters[0]
    assert "quota" in letter.reason and "QuotaExceededError" in letter.error
    assert "quota_messages_per_session exceeded: limit 3" in letter.error
    with pytest.raises(QuotaExceededError) as exc:
        await over()
    assert (exc.value.quota, exc.value.limit) == ("quota_messages_per_session", 3)
