"""Run `isokron demo`, `isokron bench` and `isokron prompt` end to end."""

from __future__ import annotations

import asyncio
import json
import re

import asyncpg

from isokron.engine.prompt import HONEST_LABEL
from isokron.ops.cli import main
from isokron.testing.seed import seed_demo_workspace


def test_demo_prints_a_real_identity_block(capsys):
    """The demo seeds, runs a session through the provider and shows the block and stores."""
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "§1 Identity (Kora Role Charter v2.1.0)" in out and HONEST_LABEL in out
    assert "[REDACTED:SECRET_ASSIGNMENT]" in out and "abc123" not in out
    assert re.search(r"\[MEMORY \d{4}-\d\d-\d\d memory id=", out)
    assert "chain intact" in out and "2 session messages" in out


def test_bench_prints_json(capsys):
    """`isokron bench` prints one JSON object with the timings."""
    assert main(["bench", "--suite", "prompt", "--workspaces", "2", "--warm-calls", "50"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["benchmark"] == "prompt" and result["workspaces"] == 2
    assert result["cold_warm_ms"]["median"] > 0 and result["warm_block_us_mean"] > 0


async def test_prompt_prints_the_block(db, capsys):
    """`isokron prompt` prints a workspace's block; a missing charter fails closed (exit 1)."""
    conn = await asyncpg.connect(db.dsn)
    try:
        await seed_demo_workspace(conn, "org_demo")
    finally:
        await conn.close()
    code = await asyncio.to_thread(main, ["prompt", "--dsn", db.runtime_dsn,
                                          "--workspace", "org_demo"])
    captured = capsys.readouterr()
    assert code == 0 and captured.out.strip().endswith(HONEST_LABEL)
    code = await asyncio.to_thread(main, ["prompt", "--dsn", db.runtime_dsn,
                                          "--workspace", "org_none"])
    assert code == 1 and "no active role charter" in capsys.readouterr().err


def test_bench_rls_suite_prints_both_sides_and_a_pass_flag(capsys):
    """`isokron bench --suite rls` reports search p50 with RLS on and off, and a pass flag."""
    assert main(["bench", "--suite", "rls", "--records", "300"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["benchmark"] == "rls_search" and result["records"] == 300
    for name in ("recent", "fts"):
        side = result[name]
        assert side["p50_ms_with_rls"] > 0 and side["p50_ms_without_rls"] > 0
        assert abs(side["ratio"] - side["p50_ms_with_rls"] / side["p50_ms_without_rls"]) < 0.02
    assert isinstance(result["pass"], bool)


def test_bench_redact_suite_prints_timings_and_a_pass_flag(capsys):
    """`isokron bench --suite redact` times a 10 KB message with and without secrets."""
    assert main(["bench", "--suite", "redact"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["benchmark"] == "redact" and result["chars"] == 10_000
    assert result["prose"]["labels"] == [] and "SK_KEY" in result["with_secrets"]["labels"]
    assert result["prose"]["p50_ms"] > 0 and isinstance(result["pass"], bool)
