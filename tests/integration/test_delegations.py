"""Pin the delegation ledger and the sweeper against PostgreSQL as the runtime role."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from datetime import datetime, timedelta

import pytest

from isokron.errors import InvalidInputError, InvalidTransitionError
from isokron.ops.cli import main
from isokron.stores import DelegationLedger, DelegationSweeper
from isokron.stores.delegations import TRANSITIONS
from isokron.stores.sweeper import (
    DEFAULT_INTERVAL_S,
    DEFAULT_STUCK_THRESHOLD_S,
    env_seconds,
)

CALLER = uuid.uuid4()
CALLEE = uuid.uuid4()


async def _insert(ledger, did, **kw):
    return await ledger.insert(did, workspace_id="org_a", caller_id=kw.pop("caller", CALLER),
                               callee_id=CALLEE, task_preview=kw.pop("task", "do it"), **kw)


async def _force(owner, did, **columns):
    sets = ", ".join(f"{k} = {v}" for k, v in columns.items())
    await owner.execute(f"UPDATE isokron.delegations SET {sets} WHERE delegation_id = $1", did)


async def test_insert_is_idempotent(runtime_pool):
    """A second insert of the same id returns False and changes nothing."""
    ledger = DelegationLedger(runtime_pool)
    assert await _insert(ledger, "d1", task="first")
    assert not await _insert(ledger, "d1", task="second")
    row = await ledger.get("org_a", "d1")
    assert row.task_preview == "first" and row.status == "queued"


async def test_idempotency_key_is_unique_per_caller(runtime_pool):
    """Same caller + key is a replay; another caller may reuse the key."""
    ledger = DelegationLedger(runtime_pool)
    assert await _insert(ledger, "d1", idempotency_key="k")
    assert not await _insert(ledger, "d2", idempotency_key="k")
    assert await ledger.get("org_a", "d2") is None
    assert await _insert(ledger, "d3", idempotency_key="k", caller=uuid.uuid4())


async def test_task_preview_is_cut_on_a_character_boundary(runtime_pool):
    """A 5,000-character multibyte task is stored as its first 4,096 characters."""
    ledger = DelegationLedger(runtime_pool)
    await _insert(ledger, "d1", task="é🙂" * 2500)
    row = await ledger.get("org_a", "d1")
    assert len(row.task_preview) == 4096 and row.task_preview == ("é🙂" * 2500)[:4096]


async def test_deadline_defaults_to_six_hours(runtime_pool):
    """Without a deadline the row gets now() + 6 h; an explicit naive deadline is refused."""
    ledger = DelegationLedger(runtime_pool)
    await _insert(ledger, "d1")
    row = await ledger.get("org_a", "d1")
    assert timedelta(hours=5, minutes=59) < row.deadline - row.created_at <= timedelta(hours=6)
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        await _insert(ledger, "d2", deadline=datetime(2030, 1, 1))


LEGAL = [(a, b) for a, nexts in TRANSITIONS.items() for b in sorted(nexts)]
ILLEGAL = [(a, b) for a in TRANSITIONS for b in TRANSITIONS
           if b != a and b not in TRANSITIONS[a]]


@pytest.mark.parametrize(("start", "target"), LEGAL)
async def test_every_legal_transition(runtime_pool, owner, start, target):
    """Each documented transition succeeds."""
    ledger = DelegationLedger(runtime_pool)
    await _insert(ledger, "d1")
    await _force(owner, "d1", status=f"'{start}'")
    await ledger.set_status("org_a", "d1", target, result_preview="r" if target == "completed" else None)
    assert (await ledger.get("org_a", "d1")).status == target


@pytest.mark.parametrize(("start", "target"), ILLEGAL)
async def test_every_illegal_transition_raises(runtime_pool, owner, start, target):
    """Anything else raises InvalidTransitionError and leaves the row alone."""
    ledger = DelegationLedger(runtime_pool)
    await _insert(ledger, "d1")
    await _force(owner, "d1", status=f"'{start}'")
    with pytest.raises(InvalidTransitionError) as info:
        await ledger.set_status("org_a", "d1", target)
    assert (info.value.current, info.value.requested) == (start, target)
    assert (await ledger.get("org_a", "d1")).status == start


async def test_same_status_is_a_no_op_that_keeps_updated_at(runtime_pool):
    """Setting the current status again does not touch updated_at."""
    ledger = DelegationLedger(runtime_pool)
    await _insert(ledger, "d1")
    await ledger.set_status("org_a", "d1", "in_progress")
    before = (await ledger.get("org_a", "d1")).updated_at
    await ledger.set_status("org_a", "d1", "in_progress")
    assert (await ledger.get("org_a", "d1")).updated_at == before


async def test_unknown_row_is_a_logged_no_op(runtime_pool, caplog):
    """set_status on an unknown id logs and returns."""
    with caplog.at_level(logging.WARNING, logger="isokron.stores.delegations"):
        await DelegationLedger(runtime_pool).set_status("org_a", "nope", "completed")
    assert "no such delegation" in caplog.text


async def test_unknown_status_is_invalid_input(runtime_pool):
    """A status outside the six is an InvalidInputError naming it."""
    with pytest.raises(InvalidInputError, match="'done'"):
        await DelegationLedger(runtime_pool).set_status("org_a", "d1", "done")


async def test_heartbeat_stamps_in_flight_rows_and_revives_stuck_ones(runtime_pool, owner):
    """heartbeat: True for in-flight (stuck -> in_progress), False for terminal/unknown."""
    ledger = DelegationLedger(runtime_pool)
    await _insert(ledger, "d1")
    assert await ledger.heartbeat("org_a", "d1")
    assert (await ledger.get("org_a", "d1")).last_heartbeat is not None
    await _force(owner, "d1", status="'stuck'")
    assert await ledger.heartbeat("org_a", "d1")
    assert (await ledger.get("org_a", "d1")).status == "in_progress"
    await ledger.set_status("org_a", "d1", "completed", result_preview="ok")
    assert not await ledger.heartbeat("org_a", "d1")
    assert not await ledger.heartbeat("org_a", "unknown")


async def test_sweep_fails_late_rows_and_marks_silent_ones_stuck(runtime_pool, sweeper_pool, owner):
    """Deadline -> failed; stale heartbeat -> stuck; NULL heartbeat passes; deadline wins."""
    ledger = DelegationLedger(runtime_pool)
    for did in ("late", "silent", "null_hb", "both", "done", "fresh"):
        await _insert(ledger, did)
    await _force(owner, "late", deadline="now() - interval '1 minute'")
    await _force(owner, "silent", status="'in_progress'", last_heartbeat="now() - interval '1 hour'")
    await _force(owner, "both", deadline="now() - interval '1 minute'",
                 last_heartbeat="now() - interval '1 hour'")
    await _force(owner, "done", status="'completed'", deadline="now() - interval '1 minute'")
    await _force(owner, "fresh", last_heartbeat="now()")
    result = await DelegationSweeper(sweeper_pool, stuck_threshold_s=600).sweep()
    assert (result.deadline_failures, result.stuck_marked, result.errors) == (2, 1, ())
    rows = {d: await ledger.get("org_a", d) for d in ("late", "silent", "null_hb", "both", "done", "fresh")}
    assert rows["late"].status == rows["both"].status == "failed"
    assert rows["late"].error_detail == "deadline exceeded by sweeper"
    assert rows["silent"].status == "stuck"
    assert rows["silent"].error_detail.startswith("no heartbeat for 36")
    assert rows["null_hb"].status == "queued" and rows["fresh"].status == "queued"
    assert rows["done"].status == "completed"
    # A stuck agent that recovers can still report its result.
    await ledger.set_status("org_a", "silent", "completed", result_preview="late but done")
    assert (await ledger.get("org_a", "silent")).result_preview == "late but done"


async def test_completions_racing_a_sweep_end_in_exactly_one_terminal_state(
        runtime_pool, sweeper_pool, owner):
    """50 set_status(completed) racing the sweeper: each row completed-with-result or failed."""
    ledger = DelegationLedger(runtime_pool)
    ids = [f"race-{i}" for i in range(50)]
    for did in ids:
        await _insert(ledger, did)
    await owner.execute(
        "UPDATE isokron.delegations SET status = 'in_progress', "
        "deadline = now() - interval '1 second'")
    sweeper = DelegationSweeper(sweeper_pool)
    outcomes = await asyncio.gather(
        *(ledger.set_status("org_a", did, "completed", result_preview=f"result {did}") for did in ids),
        sweeper.sweep(),
        return_exceptions=True,
    )
    assert all(o is None or isinstance(o, InvalidTransitionError) for o in outcomes[:-1])
    for did in ids:
        row = await ledger.get("org_a", did)
        assert row.status in ("completed", "failed")
        if row.status == "completed":
            assert row.result_preview == f"result {did}"
        else:
            assert row.error_detail == "deadline exceeded by sweeper"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, 300.0), ("42", 42.0), ("2.5", 2.5), ("soon", 300.0), ("-5", 300.0), ("0", 300.0),
     ("nan", 300.0), ("inf", 300.0)],
)
def test_env_parsing_falls_back_to_the_default(monkeypatch, caplog, raw, expected):
    """Unset, garbage, negative and zero values fall back to the default with one log line."""
    name = "ISOKRON_DELEGATION_SWEEPER_INTERVAL_S"
    if raw is None:
        monkeypatch.delenv(name, raising=False)
    else:
        monkeypatch.setenv(name, raw)
    with caplog.at_level(logging.WARNING, logger="isokron.stores.sweeper"):
        assert env_seconds(name, 300.0) == expected
    fell_back = raw is not None and expected == 300.0
    assert len(caplog.records) == (1 if fell_back else 0)


def test_sweeper_reads_both_variables(monkeypatch):
    """Arguments win; otherwise the two environment variables; otherwise 300/600."""
    monkeypatch.setenv("ISOKRON_DELEGATION_SWEEPER_INTERVAL_S", "7")
    monkeypatch.setenv("ISOKRON_DELEGATION_STUCK_THRESHOLD_S", "11")
    assert (DelegationSweeper(None).interval_s, DelegationSweeper(None).stuck_threshold_s) == (7, 11)
    assert DelegationSweeper(None, interval_s=3, stuck_threshold_s=4).interval_s == 3
    monkeypatch.delenv("ISOKRON_DELEGATION_SWEEPER_INTERVAL_S")
    monkeypatch.delenv("ISOKRON_DELEGATION_STUCK_THRESHOLD_S")
    sweeper = DelegationSweeper(None)
    assert (sweeper.interval_s, sweeper.stuck_threshold_s) == (
        DEFAULT_INTERVAL_S, DEFAULT_STUCK_THRESHOLD_S)


class BrokenDB:
    """A connection whose every statement fails."""

    async def execute(self, *args):
        raise RuntimeError("disk on fire")

    async def fetchrow(self, *args):
        raise RuntimeError("disk on fire")


async def test_loop_survives_failed_passes_and_stops_in_time(caplog):
    """start() is idempotent; failing passes are logged; stop() returns True."""
    sweeper = DelegationSweeper(BrokenDB(), interval_s=0.01)
    with caplog.at_level(logging.ERROR, logger="isokron.stores.sweeper"):
        task = sweeper.start()
        assert sweeper.start() is task
        for _ in range(200):
            if sweeper.passes >= 3:
                break
            await asyncio.sleep(0.01)
        assert await sweeper.stop(timeout=1) is True
    assert sweeper.passes >= 3
    assert "disk on fire" in caplog.text
    assert task.done()


async def _sweep_statements(owner) -> list[str]:
    """The UPDATE statements of the server's sweep function, as the server holds them
    (the function is the one definition; nothing in Python copies its SQL)."""
    body = await owner.fetchval(
        "SELECT prosrc FROM pg_proc WHERE proname = 'sweep_delegations_v1'")
    statements = re.findall(r"(UPDATE isokron\.delegations.*?);", body, re.S)
    return [s.replace("p_stuck_threshold_s", "$1::double precision") for s in statements]


async def test_sweep_query_uses_the_partial_in_flight_index(owner):
    """EXPLAIN on 100,000 terminal + 1,000 in-flight rows: both of the sweep function's
    statements use the partial index."""
    await owner.execute(
        "INSERT INTO isokron.delegations (delegation_id, workspace_id, caller_id, callee_id, "
        "task_preview, status, last_heartbeat) "
        "SELECT 'd' || g, 'org_a', gen_random_uuid(), gen_random_uuid(), 't', "
        "       CASE WHEN g <= 100000 THEN (ARRAY['completed','failed'])[1 + g % 2] "
        "            ELSE 'in_progress' END, now() - make_interval(secs => g % 900) "
        "  FROM generate_series(1, 101000) g")
    await owner.execute("ANALYZE isokron.delegations")
    statements = await _sweep_statements(owner)
    assert len(statements) == 2 and "'failed'" in statements[0] and "'stuck'" in statements[1]
    for sql in statements:
        args = (600.0,) if "$1" in sql else ()
        plan = "\n".join(r[0] for r in await owner.fetch("EXPLAIN " + sql, *args))
        assert "delegations_in_flight_heartbeat_idx" in plan, plan


async def test_the_runtime_role_cannot_run_the_sweep(runtime_pool, owner):
    """Only isokron_sweeper members may sweep: a tenant cannot mark others' rows stuck."""
    await owner.execute(
        "INSERT INTO isokron.delegations (delegation_id, workspace_id, caller_id, callee_id, "
        "task_preview, last_heartbeat) VALUES ('b1', 'org_b', gen_random_uuid(), "
        "gen_random_uuid(), 't', now() - interval '1 minute')")
    result = await DelegationSweeper(runtime_pool, stuck_threshold_s=1e-6).sweep()
    assert "permission denied" in result.errors[0]
    assert await owner.fetchval("SELECT status FROM isokron.delegations") == "queued"


async def test_sweep_function_fails_deadlines_before_marking_stuck(owner):
    """A row both past its deadline and silent ends failed: the deadline pass runs first."""
    await owner.execute(
        "INSERT INTO isokron.delegations (delegation_id, workspace_id, caller_id, callee_id, "
        "task_preview, status, deadline, last_heartbeat) VALUES ('late', 'org_a', "
        "gen_random_uuid(), gen_random_uuid(), 't', 'in_progress', now() - interval '1 minute', "
        "now() - interval '1 hour')")
    row = await owner.fetchrow("SELECT * FROM isokron.sweep_delegations_v1(600)")
    assert (row["deadline_failures"], row["stuck_marked"]) == (1, 0)
    assert await owner.fetchval("SELECT status FROM isokron.delegations") == "failed"


async def test_sweep_command_prints_one_json_pass(db, owner, capsys):
    """`isokron sweep --once` prints the pass as JSON and exits 0."""
    ledger_sql = ("INSERT INTO isokron.delegations (delegation_id, workspace_id, caller_id, "
                  "callee_id, task_preview, deadline) VALUES ('x', 'org_a', gen_random_uuid(), "
                  "gen_random_uuid(), 't', now() - interval '1 minute')")
    await owner.execute(ledger_sql)
    code = await asyncio.to_thread(main, ["sweep", "--once", "--dsn", db.sweeper_dsn])
    assert code == 0
    assert json.loads(capsys.readouterr().out.strip()) == {
        "deadline_failures": 1, "stuck_marked": 0, "errors": []}


async def test_only_in_progress_becomes_stuck_and_an_empty_task_is_refused(runtime_pool,
                                                                          owner, sweeper_pool):
    """The original transition table: a silent queued/dispatched row waits for its deadline;
    a silent in_progress row becomes stuck; a blank task_preview is refused."""
    for status in ("queued", "dispatched", "in_progress"):
        await owner.execute(
            "INSERT INTO isokron.delegations (delegation_id, workspace_id, caller_id, "
            "callee_id, task_preview, status, last_heartbeat) VALUES ($1, 'org_a', "
            "gen_random_uuid(), gen_random_uuid(), 't', $2, now() - interval '1 hour')",
            f"d-{status}", status)
    result = await DelegationSweeper(sweeper_pool, stuck_threshold_s=60).sweep()
    assert result.stuck_marked == 1
    rows = {r["delegation_id"]: r["status"] for r in await owner.fetch(
        "SELECT delegation_id, status FROM isokron.delegations")}
    assert rows == {"d-queued": "queued", "d-dispatched": "dispatched",
                    "d-in_progress": "stuck"}
    assert "stuck" not in TRANSITIONS["queued"] | TRANSITIONS["dispatched"]
    ledger = DelegationLedger(runtime_pool)
    with pytest.raises(InvalidTransitionError):
        await ledger.set_status("org_a", "d-queued", "stuck")
    with pytest.raises(InvalidInputError, match="task_preview must be a non-blank string"):
        await ledger.insert("d-empty", workspace_id="org_a", caller_id=uuid.uuid4(),
                            callee_id=uuid.uuid4(), task_preview="   ")


async def test_a_completion_that_raced_the_sweeper_is_counted_and_logged(runtime_pool, owner,
                                                                        caplog):
    await owner.execute(
        "INSERT INTO isokron.delegations (delegation_id, workspace_id, caller_id, callee_id, "
        "task_preview, status, error_detail) VALUES ('late', 'org_a', gen_random_uuid(), "
        "gen_random_uuid(), 't', 'failed', 'deadline exceeded by sweeper')")
    ledger = DelegationLedger(runtime_pool)
    with caplog.at_level(logging.WARNING), pytest.raises(InvalidTransitionError):
        await ledger.set_status("org_a", "late", "completed", result_preview="done")
    assert ledger.raced_completions == 1
    assert "completed after the sweeper had failed it" in caplog.text


def test_the_original_environment_names_are_read_when_isokron_ones_are_unset(monkeypatch):
    from isokron.stores.sweeper import INTERVAL_ENV, THRESHOLD_ENV

    monkeypatch.delenv(INTERVAL_ENV, raising=False)
    monkeypatch.delenv(THRESHOLD_ENV, raising=False)
    monkeypatch.setenv("DELEGATION_SWEEPER_INTERVAL_S", "7")
    monkeypatch.setenv("DELEGATION_STUCK_THRESHOLD_S", "42")
    sweeper = DelegationSweeper(object())
    assert (sweeper.interval_s, sweeper.stuck_threshold_s) == (7.0, 42.0)
    monkeypatch.setenv(INTERVAL_ENV, "9")
    assert DelegationSweeper(object()).interval_s == 9.0


async def test_the_sweeper_deletes_expired_memories_after_the_grace_and_audits_org(
        owner, sweeper_pool, runtime_pool, monkeypatch):
    """Past expires_at + grace: memories and namespaces are deleted (org memories and shared
    namespaces audited);
    within the grace they stay; the runtime role cannot run the expiry sweep."""
    monkeypatch.setenv("ISOKRON_MEMORY_EXPIRY_GRACE_S", "3600")
    await owner.execute(
        "INSERT INTO isokron.memory_namespaces (name, kind, expires_at) VALUES "
        "('workspace:org_a', 'workspace', NULL), ('org:org_a', 'org', NULL), "
        "('team:old', 'team', now() - interval '2 hours')")
    await owner.execute(
        "INSERT INTO isokron.memory_records (namespace, content, expires_at) VALUES "
        "('workspace:org_a', 'long gone', now() - interval '2 hours'), "
        "('workspace:org_a', 'in grace', now() - interval '10 minutes'), "
        "('workspace:org_a', 'forever', NULL), "
        "('org:org_a', 'org rule gone', now() - interval '2 hours'), "
        "('team:old', 'with its namespace', NULL)")
    result = await DelegationSweeper(sweeper_pool).sweep()
    assert result.errors == () and result.memories_expired == 2
    assert result.namespaces_expired == 1
    left = {r["content"] for r in await owner.fetch("SELECT content FROM isokron.memory_records")}
    assert left == {"in grace", "forever"}
    audit = await owner.fetch("SELECT namespace, action FROM isokron.memory_audit ORDER BY id")
    assert [tuple(r) for r in audit] == [("org:org_a", "expire"), ("team:old", "expire_namespace")]
    denied = await DelegationSweeper(runtime_pool).sweep()
    assert "permission denied" in denied.errors[0]
    with pytest.raises(Exception, match="permission denied"):
        await runtime_pool.fetchval("SELECT * FROM isokron.sweep_memory_expiry_v1(0)")
