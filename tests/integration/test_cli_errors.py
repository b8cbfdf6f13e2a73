"""Every bad argument or DSN gets one line on stderr and a non-zero exit, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

CASES = [
    (["doctor", "--dsn", "garbage"], "--dsn must start with postgres://"),
    (["migrate", "--dsn", "garbage"], "--dsn must start with postgres://"),
    (["prompt", "--dsn", "mysql://x@h/db", "--workspace", "w"], "postgres://"),
    (["bench", "--suite", "prompt", "--warm-calls", "0"], "--warm-calls: expected a whole"),
    (["bench", "--suite", "prompt", "--workspaces", "0"], "--workspaces: expected a whole"),
    (["bench", "--suite", "rls", "--records", "-5"], "--records: expected a whole"),
    (["sweep", "--dsn", "postgresql://u@h/d", "--interval", "0"], "--interval: expected a"),
    (["sweep", "--dsn", "postgresql://u@h/d", "--stuck-threshold", "nan"], "expected a number"),
    (["doctor", "--dsn", "postgresql://u:s3cret@127.0.0.1:1/db"], "ConnectionRefusedError"),
    (["migrate", "--dsn", "postgresql://u:s3cret@127.0.0.1:1/db"], "ConnectionRefusedError"),
    (["migrate", "--dsn", "postgresql://u:s3cret@[::1"], "Invalid IPv6 URL"),
    (["nosuch"], "invalid choice"),
]


@pytest.mark.parametrize(("argv", "fragment"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_one_line_and_a_non_zero_exit(argv, fragment):
    proc = subprocess.run([sys.executable, "-m", "isokron.cli", *argv], capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert fragment in lines[0] and "Traceback" not in proc.stderr
    assert "s3cret" not in proc.stderr + proc.stdout
