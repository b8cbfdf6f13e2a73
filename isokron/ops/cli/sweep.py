"""``isokron sweep``: run the delegation sweeper (once, or until interrupted)."""

from __future__ import annotations

import argparse
import asyncio

from ._args import dsn
from ._interrupt import run

__all__ = ["cmd_sweep"]


async def _sweep(args: argparse.Namespace) -> int:
    import json

    from ...pool import create_pool
    from ...stores.sweeper import DelegationSweeper

    pool = await create_pool(dsn(args))
    try:
        sweeper = DelegationSweeper(pool, interval_s=args.interval,
                                    stuck_threshold_s=args.stuck_threshold)
        while True:
            result = await sweeper.sweep()
            print(json.dumps({"deadline_failures": result.deadline_failures,
                              "stuck_marked": result.stuck_marked,
                              "errors": list(result.errors)}), flush=True)
            if args.once:
                return 1 if result.errors else 0
            await asyncio.sleep(sweeper.interval_s)
    finally:
        await pool.close()


def cmd_sweep(args: argparse.Namespace) -> int:
    """Sweep; one JSON line per pass. Ctrl-C ends it (status 130, like every command)."""
    return run(_sweep(args))
