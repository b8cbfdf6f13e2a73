"""After every write path, with both transports, no table holds a secret verbatim."""

from __future__ import annotations

import json
import logging

import asyncpg
import pytest

from isokron import IsoKronMemoryProvider
from isokron.embedded import run_coro_sync
from isokron.testing.seed import seed_demo_workspace

SECRETS = {
    "sk": "sk-live-4eC39HqLyjWDarjtT1zdp7dc",
    "slack": "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp",
    "pem": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
    "yaml": "hunter2-yaml-pw",
    "env": "s3cr3t-db-pass",
}
LEAKY = (f"use {SECRETS['sk']} and {SECRETS['slack']}; DB_PASS={SECRETS['env']}\n"
         f"password: {SECRETS['yaml']}\n-----BEGIN PRIVATE KEY-----\n{SECRETS['pem']}")


async def _all_text(dsn: str) -> str:
    """Every row of every table in isokron's and the substrate's schemas, as text."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' "
            "AND n.nspname IN ('isokron', 'kronicle', 'hivex_foundation', 'public')")
        dumps = [await conn.fetchval(f"SELECT coalesce(string_agg(t::text, E'\\n'), '') "
                                     f"FROM {r['t']} t") for r in tables]
        return "\n".join(dumps)
    finally:
        await conn.close()


async def _seed(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await seed_demo_workspace(conn, "org_demo")
    finally:
        await conn.close()


@pytest.mark.parametrize("transport", ["deferred", "substrate"])
def test_no_write_path_stores_a_secret(db, transport, caplog):
    """sync_turn, on_memory_write, on_delegation, session end and the tools redact first."""
    run_coro_sync(_seed(db.dsn))
    caplog.set_level(logging.WARNING, logger="isokron")
    p = IsoKronMemoryProvider({"dsn": db.runtime_dsn, "workspace_id": "org_demo",
                               "write_transport": transport})
    p.initialize("sess-secret", user_id="u1")
    p.on_turn_start(1, "hi")
    p.sync_turn(LEAKY, f"noted {SECRETS['sk']}", messages=[
        {"role": "tool", "content": LEAKY, "tool_calls": [{"arguments": {"token": "t0k3n-x"}}]}])
    p.on_memory_write("add", "user_profile", LEAKY)
    p.on_delegation(f"task with {SECRETS['slack']}", f"result {SECRETS['sk']}",
                    child_session_id="child-1")
    committed = json.loads(p.handle_tool_call("isokron_memory_commit", {"content": LEAKY}))
    assert committed["ok"], committed
    p.on_session_end([{"role": "user", "content": LEAKY}])
    p.shutdown()
    everything = run_coro_sync(_all_text(db.dsn))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "redacted" in logged and "SK_KEY" in logged  # labels and counts only
    for secret in SECRETS.values():
        assert secret not in logged
    assert "[REDACTED:" in everything
    for name, secret in SECRETS.items():
        assert secret not in everything, name
    assert "t0k3n-x" not in everything
