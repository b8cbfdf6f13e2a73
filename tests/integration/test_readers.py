"""Pin reader behaviour that only PostgreSQL can show: RLS isolation, codecs, the pool."""

from __future__ import annotations

import asyncio
import logging

import pytest

from isokron.errors import SubstrateUnavailableError
from isokron.models import ConstitutionRevision, hex_digest
from isokron.ops.cli import main
from isokron.pool import create_pool, translate_errors
from isokron.readers import (
    KORA_CAPABILITY_MIRROR,
    read_active_constitution,
    read_active_role_charter,
    read_capability_row,
    read_cross_agent_scratchpad,
    read_own_scratchpad,
    read_policy_registry,
    read_recent_events,
    verify_event_chain,
)
from isokron.testing.seed import seed_demo_workspace


async def test_charter_stored_as_a_json_string_is_decoded(owner, runtime_pool):
    """content_jsonb holding a JSON *string* of the object still yields the sections."""
    await seed_demo_workspace(owner, "org_demo")
    await owner.execute(
        "UPDATE public.kora_role_charter SET content_jsonb = to_jsonb(content_jsonb::text)"
    )
    kind = await owner.fetchval("SELECT jsonb_typeof(content_jsonb) FROM public.kora_role_charter")
    assert kind == "string"
    charter = await read_active_role_charter(runtime_pool, "org_demo")
    assert charter.charter_version == "2.1.0"
    assert charter.sections.identity.startswith("You are Kora")
    assert isinstance(charter.sections.escalation_triggers, tuple)


async def test_readers_accept_a_single_connection(owner, runtime_pool):
    """Every reader takes a connection as well as a pool."""
    await seed_demo_workspace(owner, "org_demo")
    async with runtime_pool.acquire() as conn:
        assert len(await read_policy_registry(conn, "org_demo")) == 31
        assert (await read_active_constitution(conn, "org_demo")).revision_number == 2


async def test_rls_reads_are_isolated_between_workspaces(owner, runtime_pool):
    """As the runtime role, workspace A's policies, scratchpad and constitution are invisible to B."""
    await seed_demo_workspace(owner, "org_a")
    await owner.execute("INSERT INTO hivex_foundation.tenant (clerk_org_id) VALUES ('org_b')")
    assert await read_policy_registry(runtime_pool, "org_b") == ()
    assert await read_own_scratchpad(runtime_pool, "org_b") == ()
    assert await read_cross_agent_scratchpad(runtime_pool, "org_b") == ()
    assert await read_active_constitution(runtime_pool, "org_b") is None
    assert await read_recent_events(runtime_pool, "org_b") == ()
    # And the runtime role really is subject to RLS: a raw read sees nothing without the GUC.
    async with runtime_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM kronicle.agent_scratchpad_entries") == 0
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.current_workspace_id', 'org_b', true)")
            leaked = await conn.fetchval(
                "SELECT count(*) FROM kronicle.workspace_constitution_revisions")
        assert leaked == 0
    assert len(await read_policy_registry(runtime_pool, "org_a")) == 31


async def test_rls_policy_registry_filters_even_without_where_clause(owner, runtime_pool):
    """Two seeded workspaces: the GUC alone decides which rows the runtime role sees."""
    await seed_demo_workspace(owner, "org_a")
    await seed_demo_workspace(owner, "org_b")
    await owner.execute(
        "SELECT set_config('app.current_workspace_id', 'org_b', false)")
    await owner.execute(
        "UPDATE public.kora_policy_registry SET policy_value = '\"b-only\"' "
        "WHERE workspace_id = 'org_b' AND policy_path = 'policy.kora_pii_redaction'")
    a = {p.path: p.value for p in await read_policy_registry(runtime_pool, "org_a")}
    b = {p.path: p.value for p in await read_policy_registry(runtime_pool, "org_b")}
    assert a["policy.kora_pii_redaction"] == "strict"
    assert b["policy.kora_pii_redaction"] == "b-only"


async def test_capability_mirror_is_used_when_the_table_is_empty(owner, runtime_pool, caplog):
    """No kora rows -> the packaged mirror, with a log line saying so."""
    await owner.execute("DELETE FROM public.actor_capability_matrix")
    with caplog.at_level(logging.WARNING, logger="isokron.readers"):
        row = await read_capability_row(runtime_pool, "kora")
    assert row.granted == {c for c, g in KORA_CAPABILITY_MIRROR.items() if g}
    assert row.denied == {c for c, g in KORA_CAPABILITY_MIRROR.items() if not g}
    assert any("packaged mirror" in r.getMessage() for r in caplog.records)


async def test_unknown_actor_kind_without_rows_gets_nothing(owner, runtime_pool, caplog):
    """An actor kind with no rows is fail-closed: nothing granted, and it is logged."""
    await seed_demo_workspace(owner, "org_demo")
    with caplog.at_level(logging.WARNING, logger="isokron.readers"):
        row = await read_capability_row(runtime_pool, "night_watch")
    assert row.granted == frozenset() and not row.has("cap_read_role_charter")
    assert any("night_watch" in r.getMessage() for r in caplog.records)


async def test_event_timestamps_are_timezone_aware(owner, runtime_pool):
    """occurred_at values carry a timezone."""
    await seed_demo_workspace(owner, "org_demo")
    events = await read_recent_events(runtime_pool, "org_demo", limit=3)
    assert len(events) == 3
    assert all(e.occurred_at.tzinfo is not None for e in events)
    assert events[0].occurred_at >= events[-1].occurred_at


async def test_verify_event_chain_reports_the_first_tampered_seq(owner, runtime_pool):
    """verify_event_chain is None when intact and the seq of a forged row otherwise."""
    await seed_demo_workspace(owner, "org_demo")
    assert await verify_event_chain(runtime_pool, "org_demo") is None
    await owner.execute("ALTER TABLE hivex_foundation.event_log DISABLE TRIGGER event_log_append_only")
    await owner.execute("UPDATE hivex_foundation.event_log SET payload = '{}' WHERE seq = 9")
    assert await verify_event_chain(runtime_pool, "org_demo") == 9


async def test_constitution_hash_is_lower_case_hex(owner, runtime_pool):
    """rules_hash (bytea) comes back as 64 lower-case hex digits."""
    await seed_demo_workspace(owner, "org_demo")
    rev = await read_active_constitution(runtime_pool, "org_demo")
    assert rev is not None
    assert len(rev.rules_hash) == 64 and rev.rules_hash == rev.rules_hash.lower()


def test_rules_hash_accepts_bytes_like_and_hex_text_and_rejects_the_rest():
    """bytes, bytearray and memoryview are encoded; a hex str passes through (as the
    original encoder allows); any other str or type is a TypeError."""
    for value in (b"\xab\xcd", bytearray(b"\xab\xcd"), memoryview(b"\xab\xcd"), "ABCD"):
        assert hex_digest(value) == "abcd"
    assert ConstitutionRevision.from_row(
        {"revision_id": "r", "revision_number": 1, "rules_hash": "abcd"}).rules_hash == "abcd"
    for bad in ("not hex", "abc", 1234, None):
        with pytest.raises(TypeError, match="expected bytes"):
            hex_digest(bad)


async def test_pool_decodes_json_once(owner, runtime_pool):
    """The pool's codecs hand JSONB over decoded: a JSON string is a str."""
    value = await runtime_pool.fetchval("SELECT '\"strict\"'::jsonb")
    assert value == "strict"
    assert await runtime_pool.fetchval("SELECT $1::jsonb", {"a": [1]}) == {"a": [1]}


async def test_pool_sets_statement_timeout_and_application_name(db):
    """Connections carry isokron's statement_timeout and application_name."""
    pool = await create_pool(db.runtime_dsn, statement_timeout_ms=1234, application_name="kr-test")
    try:
        assert await pool.fetchval("SHOW statement_timeout") == "1234ms"
        assert await pool.fetchval("SHOW application_name") == "kr-test"
    finally:
        await pool.close()


async def test_unreachable_database_is_substrate_unavailable(tmp_path):
    """Connecting to nothing raises SubstrateUnavailableError from the driver error."""
    with pytest.raises(SubstrateUnavailableError) as info:
        await create_pool(f"postgresql://nobody@/x?host={tmp_path}", connect_timeout_s=1)
    assert info.value.__cause__ is not None


async def test_statement_timeout_is_substrate_unavailable(db):
    """A query cancelled by statement_timeout surfaces as SubstrateUnavailableError."""
    pool = await create_pool(db.runtime_dsn, statement_timeout_ms=50)
    try:
        with pytest.raises(SubstrateUnavailableError):
            async with translate_errors("sleeping"):
                await pool.fetchval("SELECT pg_sleep(1)")
    finally:
        await pool.close()


async def test_doctor_reports_capability_drift_in_both_directions(owner, db, capsys):
    """Extra, missing and differing capabilities are each named by doctor."""
    await seed_demo_workspace(owner, "org_demo")
    await owner.execute(
        "INSERT INTO public.actor_capability_matrix VALUES ('cap_brand_new', 'kora', true)")
    await owner.execute(
        "DELETE FROM public.actor_capability_matrix WHERE actor_kind = 'kora' "
        "AND cap_name = 'cap_send_email'")
    await owner.execute(
        "UPDATE public.actor_capability_matrix SET granted = true WHERE actor_kind = 'kora' "
        "AND cap_name = 'cap_disable_kora'")
    code = await asyncio.to_thread(main, ["doctor", "--dsn", db.dsn])
    out = capsys.readouterr().out
    assert code == 1
    assert "cap_brand_new in table but not in mirror" in out
    assert "cap_send_email in mirror but not in table" in out
    assert "cap_disable_kora: table granted=True, mirror granted=False" in out
