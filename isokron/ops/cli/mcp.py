"""``isokron mcp``: serve one workspace's memory and episodes tools over stdio (MCP)."""

from __future__ import annotations

import argparse

from ..._version import install_command
from ._args import Refused, dsn
from ._interrupt import run

__all__ = ["cmd_mcp"]


def cmd_mcp(args: argparse.Namespace) -> int:
    """Serve until stdin closes; Refused when the mcp extra is missing."""
    try:
        import mcp  # noqa: F401  (the extra: refuse early with one line when it is missing)

        from ...integrations.mcp import serve_stdio
    except ImportError:
        raise Refused("the MCP server needs the mcp extra: "
                      f"{install_command('mcp')}") from None
    run(serve_stdio(args.workspace, dsn(args), actor_kind=args.actor_kind,
                            quota_result_bytes=args.quota_result_bytes))
    return 0
