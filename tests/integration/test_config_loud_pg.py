"""Issue 25 against real PostgreSQL: the same config file serves when ${ISOKRON_DSN} is
set, and is loudly unavailable (never a silent, identity-less agent) when it is not."""

from __future__ import annotations

import logging

import asyncpg
import pytest

from isokron import IsoKronMemoryProvider
from isokron.embedded import run_coro_sync
from isokron.testing.seed import seed_demo_workspace


async def _seed(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await seed_demo_workspace(conn, "org_demo")
    finally:
        await conn.close()


@pytest.mark.parametrize("typo", [False, True])
def test_a_config_file_serves_or_says_why_not(db, tmp_path, monkeypatch, caplog, typo):
    run_coro_sync(_seed(db.dsn))
    path = tmp_path / "config.yaml"
    path.write_text("memory: {provider: isokron}\nisokron:\n  dsn: ${ISOKRON_DSN}\n"
                    "  workspace_id: org_demo\n" + ("  recal_limit: 3\n" if typo else ""))
    monkeypatch.delenv("ISOKRON_DSN", raising=False)
    with caplog.at_level(logging.DEBUG, logger="isokron"):
        broken = IsoKronMemoryProvider(path)
        broken.initialize("s1")
        broken.on_turn_start(1, "hello")
        assert broken.system_prompt_block() == "" and not broken.is_available()
        broken.shutdown()
    assert "ISOKRON_DSN is not set" in (broken.unavailable_reason() or "")
    assert [r.levelno for r in caplog.records].count(logging.ERROR) == 1
    assert "no workspace" not in caplog.text

    monkeypatch.setenv("ISOKRON_DSN", db.runtime_dsn)
    provider = IsoKronMemoryProvider(path)
    if typo:
        assert "did you mean 'recall_limit'?" in (provider.unavailable_reason() or "")
        assert not provider.is_available()
        return
    assert provider.is_available() and provider.unavailable_reason() is not None  # not init
    provider.initialize("s2")
    provider.on_turn_start(1, "hello")
    assert "Kora Role Charter" in provider.system_prompt_block()
    assert provider.unavailable_reason() is None
    provider.shutdown()
