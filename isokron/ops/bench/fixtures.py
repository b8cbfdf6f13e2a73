"""Bring a benchmark server to the sizes the benchmarks measure at: the owner-side bulk
fills and setup statements (the benchmarks' data, not what they time)."""

from __future__ import annotations

import contextlib
import uuid

import asyncpg

from ...stores.quotas import apply_quotas
from ...testing.seed import seed_demo_workspace

__all__ = [
    "fill_recall",
    "add_live_delegations",
    "add_terminal_delegations",
    "fill_episodes",
    "fill_memory",
    "fill_rls_memory",
    "grow_substrate",
    "kora_actor_id",
    "prepare_suite",
    "seed_workspaces",
    "set_row_level_security",
    "settle",
]


async def seed_workspaces(dsn: str, workspaces: int) -> None:
    """Seed demo workspaces ``org_bench_0`` … ``org_bench_<workspaces - 1>``."""
    conn = await asyncpg.connect(dsn)
    try:
        for n in range(workspaces):
            await seed_demo_workspace(conn, f"org_bench_{n}")
    finally:
        await conn.close()


async def prepare_suite(dsn: str) -> None:
    """Seed ``org_bench`` and its workspace namespace (the suite's common ground)."""
    conn = await asyncpg.connect(dsn)
    try:
        await seed_demo_workspace(conn, "org_bench")
        await conn.execute("INSERT INTO isokron.memory_namespaces (name, kind) "
                           "VALUES ('workspace:org_bench', 'workspace') ON CONFLICT DO NOTHING")
        await apply_quotas(conn, {"quota_memory_rows": BENCH_MEMORY_ROWS}, "org_bench")
    finally:
        await conn.close()


async def settle(conn: asyncpg.Connection, *tables: str) -> None:
    """After a bulk fill: vacuum and analyze the tables and write a checkpoint, so neither
    autovacuum nor a checkpoint lands inside the next measurement (a checkpoint needs a
    superuser or pg_checkpoint; without it, skipped)."""
    for table in tables:
        await conn.execute(f"VACUUM (ANALYZE) {table}")
    with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
        await conn.execute("CHECKPOINT")


async def fill_rls_memory(owner: asyncpg.Connection, records: int) -> None:
    """Seed ``org_bench`` with its three namespaces and ``records`` memories across them."""
    await seed_demo_workspace(owner, "org_bench")
    await apply_quotas(owner, {"quota_memory_rows": max(BENCH_MEMORY_ROWS, records)},
                       "org_bench")
    for kind in ("workspace", "team", "org"):
        await owner.execute("INSERT INTO isokron.memory_namespaces (name, kind) "
                            "VALUES ($1, $2)", f"{kind}:org_bench", kind)
    await owner.execute(
        "INSERT INTO isokron.memory_records (namespace, content, created_at) "
        "SELECT (ARRAY['workspace:org_bench','team:org_bench','org:org_bench'])[1 + g % 3], "
        "       'note ' || g || ' about deploys, invoices and the on-call rota', "
        "       now() - make_interval(secs => g) FROM generate_series(1, $1) g", records)
    await owner.execute("ANALYZE isokron.memory_records")


async def set_row_level_security(owner: asyncpg.Connection, tables: tuple[str, ...],
                                 enabled: bool) -> None:
    """ENABLE or DISABLE row-level security on ``tables`` (the owner's switch)."""
    verb = "ENABLE" if enabled else "DISABLE"
    for table in tables:
        await owner.execute(f"ALTER TABLE {table} {verb} ROW LEVEL SECURITY")


async def fill_memory(dsn: str, items: int) -> None:
    """Bring both stores to ``items`` rows in one namespace (bulk, as the owner)."""
    conn = await asyncpg.connect(dsn)
    try:
        have = await conn.fetchval(
            "SELECT count(*) FROM isokron.memory_records WHERE namespace = 'workspace:org_bench'")
        more = max(0, items - have)
        await conn.execute(
            "INSERT INTO isokron.memory_records (namespace, content, created_at) "
            "SELECT 'workspace:org_bench', 'note ' || g || ' on ' || (ARRAY['invoices', "
            "'deploys', 'rota', 'billing', 'search', 'latency', 'backups', 'payroll', 'tickets', "
            "'alerts'])[1 + g % 10] || ' and ' || md5(g::text) || CASE WHEN g % 100 = 0 THEN "
            "' quarterly audit' ELSE '' END, now() - make_interval(secs => g) "
            "FROM generate_series($2 + 1, $2 + $1) g", more, have)
        await conn.execute(
            "INSERT INTO public.store (prefix, key, value) "
            "SELECT 'org_bench.memories', 'bulk' || g || '-' || $2, "
            "jsonb_build_object('content', 'note ' || g) FROM generate_series(1, $1) g",
            more, uuid.uuid4().hex)
        await settle(conn, "isokron.memory_records", "public.store")
    finally:
        await conn.close()


async def grow_substrate(dsn: str, workspace: str, total: int) -> None:
    """Bring ``workspace``'s chain and kora scratchpad to ``total`` rows each (bulk, owner)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT set_config('app.current_workspace_id', $1, false)", workspace)
        await conn.execute(
            "INSERT INTO hivex_foundation.event_log (tenant_id, seq, event_type, payload, "
            "this_event_hash) "
            "SELECT t.tenant_id, m.top + g, 'kora.turn.completed', "
            "       jsonb_build_object('turn', g, 'note', repeat('x', 200)), md5(g::text) "
            "  FROM hivex_foundation.tenant t "
            " CROSS JOIN LATERAL (SELECT coalesce(max(e.seq), 0) AS top, count(*) AS n "
            "                       FROM hivex_foundation.event_log e "
            "                      WHERE e.tenant_id = t.tenant_id) m "
            " CROSS JOIN LATERAL generate_series(1, greatest(0, $2 - m.n)) g "
            " WHERE t.clerk_org_id = $1", workspace, total)
        await conn.execute(
            "INSERT INTO kronicle.agent_scratchpad_entries (workspace_id, actor_id, "
            "scratchpad_kind, content_inline, content_hash, approved_event_id, created_at) "
            "SELECT a.workspace_id, a.actor_id, 'reasoning_trail', 'entry ' || g, "
            "       encode(sha256(convert_to('entry ' || g, 'UTF8')), 'hex'), "
            "       gen_random_uuid(), now() - make_interval(secs => g) "
            "  FROM public.actor_registry a "
            " CROSS JOIN LATERAL (SELECT count(*) AS n FROM kronicle.agent_scratchpad_entries e "
            "                      WHERE e.actor_id = a.actor_id) m "
            " CROSS JOIN LATERAL generate_series(1, greatest(0, $2 - m.n)) g "
            " WHERE a.workspace_id = $1 AND a.actor_kind = 'kora'", workspace, total)
        await settle(conn, "hivex_foundation.event_log", "kronicle.agent_scratchpad_entries")
    finally:
        await conn.close()


async def kora_actor_id(dsn: str, workspace: str) -> uuid.UUID:
    """The actor id of ``workspace``'s kora (read as the owner)."""
    owner = await asyncpg.connect(dsn)
    try:
        agent: uuid.UUID = await owner.fetchval(
            "SELECT actor_id FROM public.actor_registry WHERE workspace_id = $1 "
            "AND actor_kind = 'kora'", workspace)
    finally:
        await owner.close()
    return agent


async def fill_episodes(dsn: str, workspace: str, agent: uuid.UUID, total: int) -> None:
    """Bring ``agent``'s episodic events to ``total`` rows (bulk, as the owner)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT set_config('app.current_workspace_id', $1, false)", workspace)
        have = await conn.fetchval(
            "SELECT count(*) FROM isokron.agent_episodic_events WHERE agent_id = $1", agent)
        await conn.execute(
            "INSERT INTO isokron.agent_episodic_events (workspace_id, agent_id, event_type, "
            "body, created_at) "
            "SELECT $1, $2, (ARRAY['turn','tool','delegation','note'])[1 + g % 4], "
            "       jsonb_build_object('n', g), now() - make_interval(secs => g) "
            "  FROM generate_series(1, $3) g", workspace, agent, max(0, total - have))
        await settle(conn, "isokron.agent_episodic_events")
    finally:
        await conn.close()


async def add_live_delegations(owner: asyncpg.Connection) -> None:
    """Scope ``owner`` to ``org_bench`` and add 1000 in-flight delegations with a heartbeat."""
    await owner.execute("SELECT set_config('app.current_workspace_id', 'org_bench', false)")
    await owner.execute(
        "INSERT INTO isokron.delegations (delegation_id, workspace_id, caller_id, "
        "callee_id, task_preview, status, last_heartbeat) "
        "SELECT 'bench-live-' || g, 'org_bench', gen_random_uuid(), gen_random_uuid(), "
        "       't', 'in_progress', now() + interval '1 day' "
        "  FROM generate_series(1, 1000) g ON CONFLICT DO NOTHING")
    await settle(owner, "isokron.delegations")


async def add_terminal_delegations(owner: asyncpg.Connection, total: int) -> None:
    """Add ``total`` completed or failed delegations to ``org_bench`` (``owner`` scoped)."""
    await owner.execute(
        "INSERT INTO isokron.delegations (delegation_id, workspace_id, caller_id, "
        "callee_id, task_preview, status, last_heartbeat) "
        "SELECT 'bench-done-' || g, 'org_bench', gen_random_uuid(), "
        "       gen_random_uuid(), 't', (ARRAY['completed','failed'])[1 + g % 2], "
        "       now() - interval '1 day' "
        "  FROM generate_series(1, $1) g ON CONFLICT DO NOTHING", total)
    await settle(owner, "isokron.delegations")


#: the memories a benchmark workspace may hold: the full suite fills 100,000 and commits
#: more (the default quota_memory_rows is 100,000)
BENCH_MEMORY_ROWS = 10_000_000


#: a Zipf-like text: 12 words drawn from 6,000, the low numbers far more often
_ZIPF_TEXT = ("(SELECT string_agg('w' || floor(6000 * power(random(), 4))::int, ' ') "
              "FROM generate_series(1, 12) WHERE g > 0)")


async def fill_recall(owner: asyncpg.Connection, rows: int) -> None:
    """Give ``org_recall`` ``rows`` memories and ``rows`` messages of user ``u1`` (Zipf-like
    texts), settled, with fresh recall statistics."""
    await owner.execute("INSERT INTO isokron.workspaces (workspace_id) VALUES ('org_recall') "
                        "ON CONFLICT DO NOTHING")
    await apply_quotas(owner, {"quota_memory_rows": BENCH_MEMORY_ROWS}, "org_recall")
    await owner.execute("INSERT INTO isokron.memory_namespaces (name, kind) "
                        "VALUES ('workspace:org_recall', 'workspace') ON CONFLICT DO NOTHING")
    await owner.execute(
        "INSERT INTO isokron.memory_records (namespace, content) "
        f"SELECT 'workspace:org_recall', {_ZIPF_TEXT} FROM generate_series(1, $1) g "
        # two draws of the same text are one memory (the live dedup key): keep the first
        "ON CONFLICT DO NOTHING", rows)
    await owner.execute(
        "INSERT INTO isokron.agent_sessions (id, tenant_id, user_id, agent_name) VALUES "
        "('00000000-0000-0000-0000-00000000feed', 'org_recall', 'u1', 'kora') "
        "ON CONFLICT DO NOTHING")
    await owner.execute(
        "INSERT INTO isokron.agent_messages (session_id, seq, role, content, tenant_id, user_id)"
        f" SELECT '00000000-0000-0000-0000-00000000feed', g, 'user', {_ZIPF_TEXT}, "
        "'org_recall', 'u1' FROM generate_series(1, $1) g", rows)
    await settle(owner, "isokron.memory_records", "isokron.agent_messages")
    await owner.execute("SELECT isokron.refresh_recall_corpus_v1('m', 'org_recall', "
                        "'workspace:org_recall')")
    await owner.execute("SELECT isokron.refresh_recall_corpus_v1('s', 'org_recall', 'u1')")
