"""``isokron doctor``: check schema, roles, RLS and chains; record or check chain heads."""

from __future__ import annotations

import argparse

import asyncpg

from ..doctor import run_doctor
from ._args import dsn
from ._interrupt import run

__all__ = ["cmd_doctor"]


async def _doctor(target: str, args: argparse.Namespace) -> int:
    from ...readers.events import read_chain_heads
    from ..chain_heads import load_chain_heads, write_chain_heads

    heads = load_chain_heads(args.chain_heads) if args.chain_heads else None
    # No statement cache: the doctor also works (and detects it) behind PgBouncer.
    conn = await asyncpg.connect(target, statement_cache_size=0)
    try:
        report = await run_doctor(conn, chain_heads=heads, dsn=target)
        recorded = await read_chain_heads(conn) if args.record_chain_heads else None
    finally:
        await conn.close()
    print(report.render())
    if recorded is not None:
        write_chain_heads(args.record_chain_heads, recorded)
        print(f"doctor: recorded {len(recorded)} chain head(s) in {args.record_chain_heads}")
    return 0 if report.ok else 1


def cmd_doctor(args: argparse.Namespace) -> int:
    """Run the doctor; exit 1 when a check failed."""
    return run(_doctor(dsn(args), args))
