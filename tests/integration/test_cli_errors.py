"""Every bad argument or DSN gets one line on stderr and a non-zero exit, no traceback."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from isokron.embedded import dsn_with
from isokron.ops.cli import build_parser

SECRET = "s3cret"
REFUSED = f"postgresql://u:{SECRET}@127.0.0.1:1/db"


def _isokron(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a fresh interpreter (no ISOKRON_DSN unless given) and time it."""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "isokron.ops.cli", *argv], capture_output=True,
                          text=True, timeout=120,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})})
    shown = " ".join("<dsn>" if "://" in arg or "password=" in arg else arg for arg in argv)
    print(f"\n[isokron {shown[:70]}] exit {proc.returncode} "
          f"in {time.monotonic() - started:.2f}s: {proc.stderr.strip()[:160]}")
    return proc


def _assert_one_line(proc: subprocess.CompletedProcess[str], fragment: str) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert SECRET not in proc.stderr + proc.stdout
    assert fragment in lines[0], lines[0]
    return lines[0]


CASES = [
    (["doctor", "--dsn", "garbage"], "must start with postgres://"),
    (["migrate", "--dsn", "garbage"], "must start with postgres://"),
    (["migrate", "--dsn", ""], "must start with postgres://"),
    (["migrate"], "no DSN given"),
    (["prompt", "--dsn", f"mysql://x:{SECRET}@h/db", "--workspace", "w"], "postgres://"),
    (["doctor", "--dsn", f"host=localhost password={SECRET}"], "password=***"),
    (["migrate", "--dsn", f"postgresql://u:{SECRET}@[::1"], "not a valid URL"),
    (["migrate", "--dsn", f"mysql://u:{SECRET}@[::1"], "mysql://u:***@"),
    (["migrate", "--dsn", f"postgresql://u:{SECRET}@h:notaport/db"], "bad port 'notaport'"),
    (["migrate", "--dsn", f"postgresql://u:{SECRET}@h:99999/db"], "bad port '99999'"),
    (["bench", "--suite", "prompt", "--warm-calls", "0"], "--warm-calls: expected a whole"),
    (["bench", "--suite", "prompt", "--workspaces", "0"], "--workspaces: expected a whole"),
    (["bench", "--suite", "prompt", "--workspaces", "-3"], "--workspaces: expected a whole"),
    (["bench", "--suite", "rls", "--records", "-5"], "--records: expected a whole"),
    (["bench", "--suite", "rls", "--records", "1", "--dsn", REFUSED], "--dsn applies to"),
    (["bench", "--suite", "redact", "--out", "/tmp/x.json"], "--out applies to --suite all"),
    (["bench", "--warm-calls", "5"], "--warm-calls applies to --suite prompt"),
    (["bench", "--out", "/nonexistent/dir/bench.json"], "no such directory '/nonexistent/dir'"),
    (["bench", "--suite", "nope"], "invalid choice: 'nope'"),
    (["sweep", "--dsn", "postgresql://u@h/d", "--interval", "0"], "--interval: expected a"),
    (["sweep", "--dsn", "postgresql://u@h/d", "--interval", "inf"], "--interval: expected a"),
    (["sweep", "--dsn", "postgresql://u@h/d", "--stuck-threshold", "nan"], "expected a number"),
    (["doctor", "--dsn", REFUSED], "ConnectionRefusedError on postgresql://u:***@127.0.0.1:1"),
    (["migrate", "--dsn", REFUSED], "ConnectionRefusedError on postgresql://u:***@127.0.0.1:1"),
    (["migrate", "--dsn", f"postgresql://u@127.0.0.1:1/db?password={SECRET}"], "password=***"),
    (["prompt", "--dsn", REFUSED, "--workspace", "w"], "database unavailable"),
    (["sweep", "--once", "--dsn", REFUSED], "postgresql://u:***@127.0.0.1:1"),
    (["memory", "export", "--dsn", REFUSED, "--workspace", "w"], "database unavailable"),
    (["memory", "purge-workspace", "--dsn", REFUSED, "--workspace", "w"], "unavailable"),
    (["memory", "import", "/nonexistent/items.jsonl", "--dsn", REFUSED], "no such file"),
    (["memory", "import", "/", "--dsn", REFUSED], "a directory: '/'"),
    (["memory", "export", "--dsn", REFUSED, "--workspace", "w", "--out", "/nonexistent/d/x"],
     "no such directory"),
    (["memory", "export", "--dsn", REFUSED, "--workspace", " "], "non-blank"),
    (["memory"], "required: memory_command"),
    (["prompt", "--dsn", REFUSED, "--workspace", ""], "the workspace id must be a non-blank"),
    (["prompt", "--dsn", REFUSED, "--workspace", "w" * 200], "the limit is 128"),
    (["doctor", "--dsn", REFUSED, "--chain-heads", "/nonexistent/heads.json"], "no such file"),
    (["doctor", "--dsn", REFUSED, "--record-chain-heads", "/nonexistent/d/h.json"],
     "no such directory"),
    (["demo", "--data-dir", "/etc/passwd"], "exists and is not a directory"),
    (["demo", "--workspace", ""], "non-blank"),
    (["hermes-install", "--home", "/etc/passwd"], "exists and is not a directory"),
    (["hermes-install", "--python", "/nonexistent/python"], "no such file"),
    (["nosuch"], "invalid choice"),
    ([], "required: command"),
]


@pytest.mark.parametrize(("argv", "fragment"), CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_one_line_and_a_non_zero_exit(argv, fragment):
    """A bad argument, file or unreachable DSN: one line naming it, non-zero exit."""
    _assert_one_line(_isokron(*argv), fragment)


@pytest.mark.parametrize(("value", "fragment"), [
    (f"host=db password={SECRET}", "$ISOKRON_DSN must start with postgres://"),
    (REFUSED, "ConnectionRefusedError on postgresql://u:***@"),
])
def test_a_bad_dsn_from_the_environment_is_named_as_such(value, fragment):
    """$ISOKRON_DSN is checked like --dsn, and its password is not shown either."""
    _assert_one_line(_isokron("migrate", env={"ISOKRON_DSN": value}), fragment)


def _commands_with_dsn() -> Iterator[list[str]]:
    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> Iterator[list[str]]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    yield from walk(child, [*prefix, name])
            elif "--dsn" in action.option_strings:
                yield prefix

    yield from walk(build_parser(), [])


@pytest.mark.parametrize("command", list(_commands_with_dsn()), ids=" ".join)
def test_every_command_refuses_a_non_postgres_dsn(command):
    """Every subcommand with --dsn (found in the parser) rejects a non-postgres DSN in one line."""
    proc = _isokron(*command, "--dsn", f"mysql://root:{SECRET}@localhost/db")
    assert proc.returncode == 2
    _assert_one_line(proc, f"isokron {' '.join(command)}: argument --dsn: must start with")


@pytest.fixture
def not_postgres() -> Iterator[int]:
    """A TCP port that answers like an HTTP server, not PostgreSQL."""
    server = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    threading.Thread(target=answer, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


@pytest.mark.parametrize("command", [["doctor"], ["migrate"], ["prompt", "--workspace", "w"]])
def test_a_server_that_is_not_postgres(not_postgres, command):
    """A DSN pointing at something that is not PostgreSQL: one line, no traceback."""
    dsn = f"postgresql://u:{SECRET}@127.0.0.1:{not_postgres}/db"
    _assert_one_line(_isokron(*command, "--dsn", dsn), f"127.0.0.1:{not_postgres}")


async def test_a_real_server_refusing_the_request(db):
    """A missing database, a missing role, a role without rights: one line each, named."""
    cases = [
        (dsn_with(db.dsn, database="isokron_no_such_db", password=SECRET), ["migrate"],
         'InvalidCatalogNameError on postgresql://postgres:***@/isokron_no_such_db'),
        (dsn_with(db.dsn, user="isokron_no_such_role", password=SECRET), ["doctor"],
         'role "isokron_no_such_role" does not exist'),
        (dsn_with(db.runtime_dsn, password=SECRET), ["migrate"], "InsufficientPrivilegeError"),
        (dsn_with(db.runtime_dsn, password=SECRET),
         ["memory", "purge-workspace", "--workspace", "w"], "permission denied"),
        (db.runtime_dsn, ["prompt", "--workspace", "no_such_workspace"],
         "'no_such_workspace' has no active role charter"),
    ]
    for dsn, command, fragment in cases:
        proc = _isokron(*command, "--dsn", dsn)
        line = _assert_one_line(proc, fragment)
        name = command[:2] if command[0] == "memory" else command[:1]
        assert line.startswith(f"isokron {' '.join(name)}: ")
        assert db.cluster.runtime_password not in proc.stderr
