"""``isokron migrate``: apply pending schema migrations (checksums verified)."""

from __future__ import annotations

import argparse

from ...schema import migrate
from ._args import dsn
from ._interrupt import run

__all__ = ["cmd_migrate"]


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply the pending migrations and say which; ``--repair-checksum NAME`` records an
    applied migration's changed file as its checksum first (an operator's repair)."""
    repair = tuple(args.repair_checksum or ())
    applied = run(migrate(dsn(args), repair_checksums=repair))
    for name in repair:
        print(f"repaired the recorded checksum of {name}")
    print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")
    return 0
