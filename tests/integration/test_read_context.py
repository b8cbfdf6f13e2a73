"""The one-round-trip identity read returns exactly what the seven single reads return."""

from __future__ import annotations

import asyncio

import asyncpg
import attrs

from isokron.readers import PostgresSubstrate, assemble_context
from isokron.testing.seed import seed_demo_workspace


def _comparable(ctx):
    return attrs.evolve(ctx, assembled_at=None)


async def test_one_call_equals_the_seven_reads(owner, runtime_pool):
    """read_context (one function call) and the fan-out of single reads agree field by field."""
    await seed_demo_workspace(owner, "org_demo")
    substrate = PostgresSubstrate(runtime_pool)
    one = await substrate.read_context("org_demo", actor_kind="kora", scratchpad_limit=3,
                                       event_limit=4)
    seven = await assemble_context(substrate, "org_demo", actor_kind="kora",
                                   scratchpad_limit=3, event_limit=4)
    assert _comparable(one) == _comparable(seven)


async def test_other_actor_kinds_never_get_koras_charter(owner, runtime_pool, caplog):
    """The charter table is Kora's: sea, claude_pm or an unknown kind fail closed on both
    paths; an unknown workspace is reported as unknown, with no drift warning first."""
    import pytest

    from isokron.errors import NoActiveRoleCharterError

    await seed_demo_workspace(owner, "org_demo")
    substrate = PostgresSubstrate(runtime_pool)
    for kind in ("sea", "claude_pm", "nobody"):
        with pytest.raises(NoActiveRoleCharterError, match=f"actor kind '{kind}'"):
            await substrate.read_context("org_demo", actor_kind=kind)
        with pytest.raises(NoActiveRoleCharterError, match=f"actor kind '{kind}'"):
            await assemble_context(substrate, "org_demo", actor_kind=kind)
    with pytest.raises(NoActiveRoleCharterError, match="unknown workspace"):
        await substrate.read_context("org_nowhere")
    assert "drift" not in caplog.text


async def test_a_cold_read_is_one_round_trip_and_works_on_one_connection(owner, db):
    """asyncpg's query logger sees one statement; a plain connection (not a pool) works."""
    await seed_demo_workspace(owner, "org_demo")
    conn = await asyncpg.connect(db.runtime_dsn)
    try:
        sent: list[str] = []
        conn.add_query_logger(lambda record: sent.append(record.query))
        ctx = await PostgresSubstrate(conn).read_context("org_demo")
        await asyncio.sleep(0)  # query loggers are called soon after the query
        assert len(sent) == 1 and "read_context_v2" in sent[0]
        assert ctx.role_charter.charter_version == "2.1.0" and len(ctx.policies) == 31
        parts = await PostgresSubstrate(conn).read_parts(
            "org_demo", frozenset({"own_scratchpad", "recent_events"}))
        await asyncio.sleep(0)
        assert set(parts) == {"own_scratchpad", "recent_events"} and len(sent) == 2
    finally:
        await conn.close()


async def _crowd(owner, workspace: str, n: int) -> None:
    """n private kora scratchpad entries, n chain events of another actor, kora events of
    several types spread among them."""
    await owner.execute(
        "INSERT INTO kronicle.agent_scratchpad_entries (workspace_id, actor_id, "
        "scratchpad_kind, content_inline, content_hash, approved_event_id, created_at) "
        "SELECT a.workspace_id, a.actor_id, 'reasoning_trail', 'entry ' || g, "
        "       encode(sha256(convert_to('entry ' || g, 'UTF8')), 'hex'), gen_random_uuid(), "
        "       now() - make_interval(secs => g) "
        "  FROM public.actor_registry a CROSS JOIN generate_series(1, $2) g "
        " WHERE a.workspace_id = $1 AND a.actor_kind = 'kora'", workspace, n)
    await owner.execute(
        "INSERT INTO hivex_foundation.event_log (tenant_id, seq, event_type, payload, "
        "this_event_hash) "
        "SELECT t.tenant_id, m.top + g, CASE WHEN g % 1000 = 0 THEN 'kora.type' || (g % 3000) "
        "       ELSE 'sea.turn' END, jsonb_build_object('g', g), md5(g::text) "
        "  FROM hivex_foundation.tenant t "
        " CROSS JOIN LATERAL (SELECT max(e.seq) AS top FROM hivex_foundation.event_log e "
        "                      WHERE e.tenant_id = t.tenant_id) m "
        " CROSS JOIN generate_series(1, $2) g WHERE t.clerk_org_id = $1", workspace, n)
    await owner.execute("ANALYZE")


async def test_identity_reads_touch_a_bounded_number_of_rows(owner, db, runtime_pool):
    """20,000 private entries and 20,000 events of another actor: the cold read fetches a
    few hundred rows (the limits), not the workspace (pg_stat_xact_user_tables)."""
    await seed_demo_workspace(owner, "org_demo")
    await _crowd(owner, "org_demo", 20_000)
    conn = await asyncpg.connect(db.runtime_dsn)
    try:
        async with conn.transaction():
            await conn.fetchval("SELECT isokron.read_context_v2('org_demo', 'sea', 100, 50)")
            await conn.fetchval("SELECT isokron.read_context_v2('org_demo', 'kora', 100, 50)")
            touched = {r["relname"]: r for r in await conn.fetch(
                "SELECT relname, coalesce(idx_tup_fetch, 0) AS fetched, "
                "       coalesce(seq_tup_read, 0) AS scanned "
                "  FROM pg_stat_xact_user_tables "
                " WHERE relname IN ('agent_scratchpad_entries', 'event_log')")}
    finally:
        await conn.close()
    for name in ("agent_scratchpad_entries", "event_log"):
        assert touched[name]["scanned"] == 0, touched[name]
        assert touched[name]["fetched"] <= 600, (name, touched[name]["fetched"])


async def test_recent_events_are_the_newest_of_every_type_of_the_actor(owner, runtime_pool):
    """The per-type walk returns what a plain newest-first filter would: same events, order."""
    await seed_demo_workspace(owner, "org_demo")
    await _crowd(owner, "org_demo", 5_000)
    substrate = PostgresSubstrate(runtime_pool)
    ctx = await substrate.read_context("org_demo", actor_kind="kora", event_limit=4)
    expected = await owner.fetch(
        "SELECT e.event_id FROM hivex_foundation.event_log e JOIN hivex_foundation.tenant t "
        "ON t.tenant_id = e.tenant_id WHERE t.clerk_org_id = 'org_demo' "
        "AND e.event_type LIKE 'kora.%' ORDER BY e.seq DESC LIMIT 4")
    assert [str(e.event_id) for e in ctx.recent_events] == [str(r["event_id"]) for r in expected]
    assert {e.event_type for e in ctx.recent_events} >= {"kora.type2000", "kora.type1000"}


async def test_an_unchanged_document_is_not_decoded_and_checked_again(owner, runtime_pool,
                                                                      monkeypatch):
    """The same identity text again (a re-read after the TTL) reuses what it decoded to; a
    changed text is decoded and checked afresh, and a failed check is never remembered."""
    import pytest

    from isokron.errors import RoleCharterIntegrityError
    from isokron.readers import context

    await seed_demo_workspace(owner, "org_cache")
    built = []

    def counting(*args):
        built.append(args[0])
        return real(*args)

    real = context._build
    monkeypatch.setattr(context, "_build", counting)
    substrate = PostgresSubstrate(runtime_pool)
    first = await substrate.read_context("org_cache")
    second = await substrate.read_context("org_cache")
    assert built == ["org_cache"]
    assert _comparable(first) == _comparable(second)
    # another scratchpad limit is another text: decoded
    await substrate.read_context("org_cache", scratchpad_limit=1)
    assert len(built) == 2
    # a tampered charter: the text changes, the check runs and fails, every time
    await owner.execute("UPDATE public.kora_role_charter SET content_md = content_md || 'x' "
                        "WHERE workspace_id = 'org_cache'")
    for _ in range(2):
        with pytest.raises(RoleCharterIntegrityError):
            await substrate.read_context("org_cache")
    assert len(built) == 4
    # repaired to the exact text of before: the earlier verdict holds for that exact text
    await owner.execute("UPDATE public.kora_role_charter SET content_md = "
                        "left(content_md, -1) WHERE workspace_id = 'org_cache'")
    assert _comparable(await substrate.read_context("org_cache")) == _comparable(first)
