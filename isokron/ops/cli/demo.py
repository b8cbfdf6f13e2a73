"""``isokron demo``: run isokron end to end on an embedded PostgreSQL."""

from __future__ import annotations

import argparse

__all__ = ["cmd_demo"]


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo (imported late: it needs the embedded extra)."""
    from ..demo import run_demo

    return run_demo(workspace_id=args.workspace, data_dir=args.data_dir)
