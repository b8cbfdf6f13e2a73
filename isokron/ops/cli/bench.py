"""``isokron bench``: the side-by-side suite, or one of the small benchmarks, as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._args import Refused
from ._progress import Progress

__all__ = ["cmd_bench"]

#: bench options and the suites they apply to (elsewhere they would be silently ignored)
_BENCH_OPTIONS = {"dsn": "all", "out": "all", "quick": "all", "workspaces": "prompt",
                  "warm_calls": "prompt", "records": "rls"}


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the chosen suite and print its JSON (status 2 when the suite's peers are missing)."""
    from ..bench import run_prompt_bench, run_redact_bench, run_rls_bench

    for name, suite in _BENCH_OPTIONS.items():
        if getattr(args, name) not in (None, False) and args.suite != suite:
            raise Refused(f"--{name.replace('_', '-')} applies to --suite {suite} only, "
                          f"not --suite {args.suite}")
    if args.suite == "all":
        from ..bench import run_suite

        try:
            with Progress("bench", quiet=args.quiet) as progress:
                document = run_suite(quick=args.quick, dsn=args.dsn, progress=progress)
        except RuntimeError as exc:
            print(f"isokron bench: {exc}", file=sys.stderr)
            return 2
        text = json.dumps(document, indent=2)
        if args.out:
            Path(args.out).write_text(text + "\n", encoding="utf-8")
        print(text)
    elif args.suite == "rls":
        with Progress("bench", unit="blocks", quiet=args.quiet) as progress:
            document = run_rls_bench(records=args.records or 10_000, progress=progress)
        print(json.dumps(document))
    elif args.suite == "redact":
        print(json.dumps(run_redact_bench()))
    elif args.suite == "redact-corpus":
        from ..bench.redact_corpus import run_redact_corpus

        print(json.dumps(run_redact_corpus()))
    else:
        with Progress("bench", quiet=args.quiet) as progress:
            document = run_prompt_bench(workspaces=args.workspaces or 20,
                                        warm_calls=args.warm_calls or 10_000, progress=progress)
        print(json.dumps(document))
    return 0
