"""``isokron eval recall PATH``: recall@k, hit@k and MRR beside BM25, as JSON."""

from __future__ import annotations

import argparse
import json

from ..._version import install_command
from ._args import Refused, embedder_spec
from ._progress import Progress

__all__ = ["cmd_eval"]


def cmd_eval(args: argparse.Namespace) -> int:
    """Run the evaluation and print (and with ``--out`` write) its JSON document."""
    try:
        import bm25s  # noqa: F401
        import Stemmer  # noqa: F401
    except ImportError as exc:
        raise Refused(f"needs the eval extra ({exc.name} is missing): "
                      f"{install_command('eval')}") from None
    if args.langgraph and args.embedder is None:
        raise Refused("--langgraph compares vector search: it needs --embedder")
    if args.langgraph:
        try:
            import langgraph.store.postgres  # noqa: F401
        except ImportError:
            raise Refused("--langgraph needs the bench extra (langgraph-checkpoint-postgres): "
                          f"{install_command('bench')}") from None
    from ..eval_recall import run_eval

    spec = None if args.embedder is None else embedder_spec(args.embedder)
    with Progress("eval recall", unit="conversations", quiet=args.quiet) as progress:
        doc = run_eval(args.path, k=args.k, dsn=args.dsn, owner_dsn=args.owner_dsn,
                       progress=progress, embedder=spec, vector_cache=args.vector_cache,
                       langgraph=args.langgraph)
    text = json.dumps(doc, indent=2)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    print(text)
    return 0
