"""``isokron embed --backfill``: embed stored texts that have no vector of the model."""

from __future__ import annotations

import argparse
import json

from ._args import Refused, dsn, embedder_spec
from ._interrupt import run
from ._progress import Progress

__all__ = ["cmd_embed"]


async def _embed(args: argparse.Namespace) -> int:
    from ...embeddings import load_embedder
    from ...errors import NotOwnedError
    from ...pool import create_pool
    from ..embed_backfill import backfill

    embedder = load_embedder(embedder_spec(args.embedder))
    pool = await create_pool(dsn(args), min_size=1, max_size=2)
    try:
        with Progress("embed", unit="texts", rate=True, quiet=args.quiet) as progress:
            result = await backfill(pool, embedder, batch_size=args.batch_size,
                                    progress=progress)
    except NotOwnedError as exc:
        raise Refused(f"{exc} (the backfill runs as the schema owner: give --dsn the DSN "
                      "that ran isokron migrate, not the runtime login)") from None
    finally:
        await pool.close()
    print(json.dumps(result.as_dict()))
    return 0 if result.missing_after == 0 else 1


def cmd_embed(args: argparse.Namespace) -> int:
    """Backfill; one JSON line with the counts. Exit 1 when rows are left unembedded."""
    if not args.backfill:
        raise Refused("say what to do: --backfill (embed what has no vector of the model)")
    return run(_embed(args))
