"""A process holding an EmbeddedPostgres dies of SIGTERM or SIGINT: no server remains.
And a directory the user passes keeps its owner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

CHILD = textwrap.dedent("""
    import sys, time
    from isokron.embedded import EmbeddedPostgres
    pg = EmbeddedPostgres(sys.argv[1], durable=False, run_migrations=False)
    pg.start()
    pid = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    print(pid, flush=True)
    time.sleep(120)
""")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_the_server_stops_with_its_process(tmp_path, signame):
    with subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "pg")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        gone = _signal_and_wait(child, signame)
    assert child.returncode != 0  # the signal still ended the process
    print(f"\n[{signame}] server gone {gone:.2f}s after the signal")


def _signal_and_wait(child: subprocess.Popen[str], signame: str) -> float:
    assert child.stdout is not None and child.stderr is not None
    try:
        line = child.stdout.readline()
        assert line.strip().isdigit(), child.stderr.read()
        postmaster = int(line)
        assert _alive(postmaster)
        started = time.monotonic()
        child.send_signal(getattr(signal, signame))
        child.wait(60)
        while _alive(postmaster) and time.monotonic() - started < 30:
            time.sleep(0.05)
        gone = time.monotonic() - started
    finally:
        if child.poll() is None:
            child.kill()
    assert not _alive(postmaster), f"server {postmaster} still running after {signame}"
    return gone


def test_a_directory_the_user_passes_keeps_its_owner(tmp_path):
    from isokron.embedded import EmbeddedPostgres

    mine = tmp_path / "demo"
    mine.mkdir()
    before = mine.stat()
    with EmbeddedPostgres(mine, durable=False, run_migrations=False) as pg:
        assert pg.data_dir == mine / "pgdata"
    after = mine.stat()
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
