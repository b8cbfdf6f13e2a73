"""``isokron embed --backfill``: embed stored texts that have no vector of the model."""

from __future__ import annotations

import argparse
import json
import sys

from ._args import Refused, dsn, embedder_spec
from ._interrupt import run

__all__ = ["cmd_embed"]


def _bar(done: int, total: int, rate: float) -> str:
    width = 30
    share = done / total if total else 1.0
    filled = int(share * width)
    return (f"isokron embed: [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} "
            f"({share:.0%}, {rate:,.0f} texts/s)")


async def _embed(args: argparse.Namespace) -> int:
    from ...embeddings import load_embedder
    from ...pool import create_pool
    from ..embed_backfill import backfill

    embedder = load_embedder(embedder_spec(args.embedder))
    tty = sys.stderr.isatty()

    def progress(done: int, total: int, rate: float) -> None:
        if args.quiet:
            return
        line = _bar(done, total, rate)
        if tty:
            print("\r" + line, end="", file=sys.stderr, flush=True)
        elif done == total or done % (args.batch_size * 20) < args.batch_size:
            print(line, file=sys.stderr, flush=True)  # a log: a line now and then

    from ...errors import NotOwnedError

    pool = await create_pool(dsn(args), min_size=1, max_size=2)
    try:
        result = await backfill(pool, embedder, batch_size=args.batch_size, progress=progress)
    except NotOwnedError as exc:
        raise Refused(f"{exc} (the backfill runs as the schema owner: give --dsn the DSN "
                      "that ran isokron migrate, not the runtime login)") from None
    finally:
        await pool.close()
        if tty and not args.quiet:
            print(file=sys.stderr)
    print(json.dumps(result.as_dict()))
    return 0 if result.missing_after == 0 else 1


def cmd_embed(args: argparse.Namespace) -> int:
    """Backfill; one JSON line with the counts. Exit 1 when rows are left unembedded."""
    if not args.backfill:
        raise Refused("say what to do: --backfill (embed what has no vector of the model)")
    return run(_embed(args))
