"""A process holding an EmbeddedPostgres dies of SIGTERM or SIGINT: no server remains.
And a directory the user passes keeps its owner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from isokron.embedded import EmbeddedPostgres, EmbeddedPostgresError

#: start a server (sync or async), print the postmaster pid, then wait to be signalled
CHILD = textwrap.dedent("""
    import asyncio, signal, sys, time
    from isokron.embedded import EmbeddedPostgres

    data_dir, mode = sys.argv[1], sys.argv[2]

    def announce(pg):
        pid = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
        print(pid, pg.data_dir, flush=True)

    if mode == "previous-handler":
        def previous(signum, frame):
            print("previous handler ran", flush=True)
            sys.exit(3)
        signal.signal(signal.SIGTERM, previous)
    if mode == "ignored":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    if mode == "async":
        async def main():
            async with EmbeddedPostgres(data_dir, durable=False, run_migrations=False) as pg:
                announce(pg)
                await asyncio.sleep(120)
        asyncio.run(main())
    else:
        pg = EmbeddedPostgres(data_dir, durable=False, run_migrations=False)
        pg.start()
        announce(pg)
        time.sleep(120)
""")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


Spawn = Callable[[Path, str], tuple[subprocess.Popen[str], int, Path]]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start children that hold a server; kill what is left and close their pipes after."""
    children: list[subprocess.Popen[str]] = []
    servers: list[int] = []

    def start(data_dir: Path, mode: str) -> tuple[subprocess.Popen[str], int, Path]:
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(data_dir), mode],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        children.append(child)
        assert child.stdout is not None and child.stderr is not None
        line = child.stdout.readline().split()
        if not line:
            child.kill()
            pytest.fail(f"the child did not start its server: {child.stderr.read()}")
        postmaster, pgdata = int(line[0]), Path(line[1])
        servers.append(postmaster)
        assert _alive(postmaster)
        return child, postmaster, pgdata

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
        child.communicate()
    for postmaster in servers:  # a failed test must not leave its server behind
        if _alive(postmaster):
            os.kill(postmaster, signal.SIGTERM)


def _signal_and_wait(child: subprocess.Popen[str], postmaster: int, signum: int) -> float:
    """Send ``signum``, wait for the child and the server; return seconds until both were gone."""
    started = time.monotonic()
    try:
        child.send_signal(signum)
        child.wait(60)
        while _alive(postmaster) and time.monotonic() - started < 30:
            time.sleep(0.02)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    gone = time.monotonic() - started
    assert not _alive(postmaster), f"server {postmaster} still running after signal {signum}"
    return gone


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_the_server_stops_with_its_process(spawn, server_dir, signame, mode):
    """SIGTERM or SIGINT ends the process (the signal's usual effect) and its server."""
    signum = getattr(signal, signame)
    child, postmaster, pgdata = spawn(server_dir / "pg", mode)
    gone = _signal_and_wait(child, postmaster, signum)
    assert child.returncode != 0  # the signal still ended the process
    if signame == "SIGTERM":
        assert child.returncode == -signal.SIGTERM  # killed by the signal, as without isokron
    assert not (pgdata / "postmaster.pid").exists()  # a clean shutdown, not a crash
    print(f"\n[{signame}, {mode}] server gone {gone:.2f}s after the signal, "
          f"exit {child.returncode}")


def test_a_previous_handler_still_runs(spawn, server_dir):
    """A SIGTERM handler installed before the server is called after the server stops."""
    child, postmaster, _ = spawn(server_dir / "pg", "previous-handler")
    gone = _signal_and_wait(child, postmaster, signal.SIGTERM)
    assert child.stdout is not None
    assert "previous handler ran" in child.stdout.read()
    assert child.returncode == 3
    print(f"\n[SIGTERM, previous handler] server gone {gone:.2f}s, exit {child.returncode}")


def test_an_ignored_signal_leaves_the_server_running(spawn, server_dir):
    """SIGTERM ignored by the process is ignored for its server too; SIGINT still stops it."""
    child, postmaster, _ = spawn(server_dir / "pg", "ignored")
    try:
        child.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        assert child.poll() is None and _alive(postmaster)
    finally:
        gone = _signal_and_wait(child, postmaster, signal.SIGINT)
    print(f"\n[SIGTERM ignored] process and server kept; SIGINT stopped it in {gone:.2f}s")


def test_a_directory_the_user_passes_keeps_its_owner(server_dir):
    """The cluster lives in <dir>/pgdata; only that directory may change owner."""
    mine = server_dir / "demo"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine\n")
    before = mine.stat()
    with EmbeddedPostgres(mine, durable=False, run_migrations=False) as pg:
        assert pg.data_dir == mine / "pgdata"
        server_uid = pg.data_dir.stat().st_uid
    after = mine.stat()
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
    assert (mine / "notes.txt").stat().st_uid == before.st_uid
    print(f"\n[owner] {mine.name}: uid {before.st_uid} -> {after.st_uid}; "
          f"pgdata/ runs as uid {server_uid}")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_an_old_layout_cluster_is_not_chowned(tmp_path):
    """As root, a cluster directly in the passed directory is refused, not handed over."""
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "PG_VERSION").write_text("16\n")
    before = legacy.stat().st_uid
    with pytest.raises(EmbeddedPostgresError, match="will not change the owner"):
        EmbeddedPostgres(legacy, durable=False, run_migrations=False).start()
    assert legacy.stat().st_uid == before
    print(f"\n[owner, old layout] refused; uid stays {before}")
