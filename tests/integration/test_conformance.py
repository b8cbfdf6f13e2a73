"""Run one behaviour suite against both Substrate implementations (PostgreSQL and the fake)."""

from __future__ import annotations

import logging

import asyncpg
import pytest

from isokron.errors import InvalidInputError, NoActiveRoleCharterError, RoleCharterIntegrityError
from isokron.pool import create_pool
from isokron.testing.seed import DEMO_POLICIES, seed_demo_workspace
from tests.substrates import MemoryWorld, PostgresWorld


@pytest.fixture(params=["postgres", "memory"])
async def world(request, db):
    """Yield a seeded world for each implementation."""
    if request.param == "memory":
        yield MemoryWorld()
        return
    owner = await asyncpg.connect(db.dsn)
    pool = await create_pool(db.runtime_dsn)
    try:
        await seed_demo_workspace(owner, "org_demo")
        yield PostgresWorld(owner, pool)
    finally:
        await pool.close()
        await owner.close()


async def test_context_of_the_demo_workspace(world):
    """The fan-out assembles charter, 31 policies, caps, scratchpad, events and constitution."""
    ctx = await world.substrate.read_context("org_demo")
    assert ctx.workspace_id == "org_demo"
    assert ctx.role_charter.charter_version == "2.1.0"
    assert ctx.role_charter.sections.authority_can_do[0].startswith("Delegate engineering")
    assert [p.path for p in ctx.policies] == sorted(DEMO_POLICIES)
    assert ctx.capability_row.has("cap_write_agent_scratchpad")
    assert not ctx.capability_row.has("cap_modify_policy_registry")
    assert len(ctx.own_scratchpad) == 4
    assert {e.actor_kind for e in ctx.cross_agent_scratchpad} == {"sea", "claude_pm"}
    assert all(e.visibility_scope == "cross_agent_dereferenceable"
               for e in ctx.cross_agent_scratchpad)
    assert all(e.event_type.startswith("kora.") for e in ctx.recent_events)
    assert len(ctx.recent_events) == 15
    assert ctx.constitution is not None and ctx.constitution.revision_number == 2
    assert ctx.assembled_at.tzinfo is not None


async def test_policy_values_keep_their_json_types(world):
    """A JSON string stays str, booleans stay bool, objects stay dict (decoded once)."""
    policies = {p.path: p.value for p in await world.substrate.read_policy_registry("org_demo")}
    assert policies == DEMO_POLICIES
    assert policies["policy.kora_pii_redaction"] == "strict"
    assert policies["policy.kora_disabled"] is False


async def test_missing_charter_fails_closed(world):
    """No active charter -> NoActiveRoleCharterError carrying the workspace id."""
    await world.supersede_charter("org_demo")
    with pytest.raises(NoActiveRoleCharterError) as info:
        await world.substrate.read_context("org_demo")
    assert info.value.workspace_id == "org_demo"


async def test_tampered_charter_fails_closed(world):
    """A content_md that no longer matches content_hash raises with both hashes."""
    await world.tamper_charter("org_demo")
    with pytest.raises(RoleCharterIntegrityError) as info:
        await world.substrate.read_active_role_charter("org_demo")
    err = info.value
    assert err.workspace_id == "org_demo"
    assert err.expected_hash != err.actual_hash
    assert len(err.actual_hash or "") == 64


async def test_null_shell_charter_fails_closed(world):
    """A NULL content_md/content_hash shell raises RoleCharterIntegrityError."""
    await world.null_charter("org_demo")
    with pytest.raises(RoleCharterIntegrityError) as info:
        await world.substrate.read_active_role_charter("org_demo")
    assert info.value.expected_hash is None and info.value.actual_hash is None


async def test_policy_drift_is_a_warning_not_an_error(world, caplog):
    """30 policies log one WARNING with expected and actual counts and still return rows."""
    await world.remove_policy("org_demo", "policy.kora_incident_mode")
    with caplog.at_level(logging.WARNING, logger="isokron.readers"):
        policies = await world.substrate.read_policy_registry("org_demo")
    assert len(policies) == 30
    drift = [r for r in caplog.records if "drift" in r.getMessage()]
    assert len(drift) == 1
    assert "expected 31 rows, found 30" in drift[0].getMessage()


async def test_tampered_scratchpad_entry_is_warned_and_returned(world, caplog):
    """An inline entry with a wrong hash is logged with both hashes and still returned."""
    await world.add_scratchpad("org_demo", "kora", content="tampered note", content_hash="0" * 64)
    with caplog.at_level(logging.WARNING, logger="isokron.readers"):
        entries = await world.substrate.read_own_scratchpad("org_demo")
    bad = [e for e in entries if e.content_inline == "tampered note"]
    assert len(bad) == 1
    message = next(r.getMessage() for r in caplog.records if bad[0].id in r.getMessage())
    assert "0" * 64 in message and "integrity" in message


async def test_uri_entry_is_returned_unverified(world, caplog):
    """The content_uri entry comes back without an integrity warning."""
    with caplog.at_level(logging.WARNING, logger="isokron.readers"):
        entries = await world.substrate.read_own_scratchpad("org_demo")
    uri = [e for e in entries if e.content_uri is not None]
    assert len(uri) == 1 and uri[0].content_inline is None
    assert not [r for r in caplog.records if "integrity" in r.getMessage()]


async def test_scratchpad_limits_order_and_status(world):
    """Newest first, limit honoured, non-active entries skipped."""
    await world.add_scratchpad("org_demo", "kora", content="retired", status="superseded")
    entries = await world.substrate.read_own_scratchpad("org_demo", limit=2)
    assert len(entries) == 2
    assert entries[0].created_at >= entries[1].created_at
    all_entries = await world.substrate.read_own_scratchpad("org_demo")
    assert "retired" not in {e.content_inline for e in all_entries}


async def test_long_payload_is_cut_to_300_characters_plus_ellipsis(world):
    """A payload whose pretty form exceeds 300 characters is cut and marked with …"""
    await world.add_event("org_demo", "kora.big.payload", {"text": "x" * 301})
    events = await world.substrate.read_recent_events("org_demo", limit=1)
    assert events[0].event_type == "kora.big.payload"
    assert len(events[0].payload_summary) == 301
    assert events[0].payload_summary.endswith("…")


async def test_actor_kind_wildcards_are_matched_literally(world):
    """Kind claude_pm does not match claudexpm.* events (LIKE wildcards escaped)."""
    await world.add_event("org_demo", "claudexpm.sneaky.event", {})
    events = await world.substrate.read_recent_events("org_demo", actor_kind="claude_pm")
    assert {e.event_type for e in events} == {"claude_pm.plan.published",
                                              "claude_pm.followup.scheduled"}


async def test_fresh_workspace_has_no_constitution(world):
    """A workspace with no revisions returns None."""
    await world.add_tenant("org_fresh")
    assert await world.substrate.read_active_constitution("org_fresh") is None
    assert await world.substrate.read_recent_events("org_fresh") == ()


async def test_unknown_capability_is_not_granted(world):
    """has() is fail-closed for a capability nobody listed."""
    row = await world.substrate.read_capability_row("kora")
    assert not row.has("cap_launch_rockets")
    assert row.total >= 48


async def test_bad_limits_are_rejected_before_reading(world):
    """A zero or negative limit is an InvalidInputError naming the value."""
    with pytest.raises(InvalidInputError, match="limit"):
        await world.substrate.read_recent_events("org_demo", limit=0)
    with pytest.raises(InvalidInputError, match="workspace_id"):
        await world.substrate.read_policy_registry("")
