"""Issue 25: re-running ``isokron demo --data-dir`` reuses what the first run stored."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import asyncpg

from isokron.embedded import EmbeddedPostgres, run_coro_sync
from isokron.ops.cli import main


async def _demo_memories(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM isokron.memory_records WHERE content LIKE 'Deploys freeze on Fridays%'")
        return count
    finally:
        await conn.close()


def test_a_second_demo_on_the_same_data_dir_stores_the_memory_once(capsys):
    # outside pytest's base temp: as root the server runs as another user, who must
    # traverse the directory's parents (see tests/reliability/test_sigterm.py's server_dir)
    data = Path(tempfile.mkdtemp(prefix="isokron-demo-"))
    try:
        _twice(data, capsys)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def _twice(data: Path, capsys) -> None:
    assert main(["demo", "--data-dir", str(data)]) == 0
    first = capsys.readouterr().out
    assert "tool isokron_memory_commit -> ok=True" in first
    assert main(["demo", "--data-dir", str(data)]) == 0
    second = capsys.readouterr().out
    assert "already seeded; reusing it" in second
    assert "the demo memory is already stored" in second
    assert "isokron_memory_commit" not in second
    with EmbeddedPostgres(str(data)) as pg:
        assert run_coro_sync(_demo_memories(pg.dsn)) == 1
