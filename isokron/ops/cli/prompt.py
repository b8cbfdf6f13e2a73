"""``isokron prompt``: print a workspace's identity block."""

from __future__ import annotations

import argparse

from ._args import dsn
from ._interrupt import run

__all__ = ["cmd_prompt"]


async def _prompt(args: argparse.Namespace) -> int:
    from ...engine.core import AsyncIsoKron

    async with AsyncIsoKron({"dsn": dsn(args), "actor_kind": args.actor_kind}) as kron:
        print(await kron.system_prompt_block(args.workspace))
    return 0


def cmd_prompt(args: argparse.Namespace) -> int:
    """Print the block."""
    return run(_prompt(args))
