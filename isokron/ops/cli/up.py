"""``isokron up``: a persistent embedded PostgreSQL that runs until Ctrl-C.

The cluster lives in ``--data-dir`` (default: the user's data directory,
``~/.local/share/isokron`` on Linux) and is kept: the next ``up`` reuses it, with its
workspaces, charters and memory. Each start migrates, resets the runtime login's and the
operator login's passwords (the server listens only on a private Unix socket whose path
changes per start, so the DSNs do too) and prints the DSNs and the ``export`` lines.
Ctrl-C (SIGINT) or SIGTERM stops the server: one line ``stopped``, exit status 130 (143).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ...embedded import EmbeddedPostgres, dsn_with
from .setup import DSNs, print_dsns

__all__ = ["cmd_up", "default_data_dir"]

OPERATOR_LOGIN = "isokron_operator"


class _Terminated(Exception):
    """SIGTERM arrived."""


def default_data_dir() -> Path:
    """The user's data directory for isokron (platformdirs when installed)."""
    try:
        from platformdirs import user_data_dir
    except ImportError:  # pragma: no cover - platformdirs comes with the embedded extra
        return Path.home() / ".local" / "share" / "isokron"
    return Path(user_data_dir("isokron", appauthor=False))


async def _operator(owner: str, password: str) -> None:
    import asyncpg

    from ...db.logins import ensure_login

    conn = await asyncpg.connect(owner)
    try:
        await ensure_login(conn, OPERATOR_LOGIN, "isokron_sweeper", password)
    finally:
        await conn.close()


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated


def cmd_up(args: argparse.Namespace) -> int:
    """Start (or reuse) the cluster, print its DSNs, wait for Ctrl-C."""
    import secrets

    data_dir = Path(args.data_dir).expanduser() if args.data_dir else default_data_dir()
    if threading.current_thread() is threading.main_thread():
        # Installed before the server's own handlers, which stop it and then chain to
        # these. SIGINT too: a shell starting `up &` without job control ignores it.
        signal.signal(signal.SIGTERM, _on_sigterm)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    server = EmbeddedPostgres(data_dir)
    try:
        server.start()
        password = secrets.token_urlsafe(24)
        asyncio.run(_operator(server.dsn, password))
        dsns = DSNs(owner=server.dsn, runtime=server.runtime_dsn,
                    operator=dsn_with(server.dsn, user=OPERATOR_LOGIN, password=password))
        print(f"isokron up: PostgreSQL running, data in {server.data_dir} (Ctrl-C stops it)")
        print_dsns(dsns)
        sys.stdout.flush()
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        code = 130
    except _Terminated:
        code = 143
    finally:
        server.close()
    print("stopped", flush=True)
    return code
