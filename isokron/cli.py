"""Run the ``isokron`` command: migrate, demo, doctor, prompt, sweep, bench, hermes-install."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

import asyncpg

from .doctor import run_doctor
from .pool import redact_dsn
from .schema import migrate

__all__ = ["main"]


def _dsn(args: argparse.Namespace) -> str:
    dsn: str | None = args.dsn or os.environ.get("ISOKRON_DSN")
    if not dsn:
        raise SystemExit("isokron: no DSN given (use --dsn or set ISOKRON_DSN)")
    return dsn


def _cmd_migrate(args: argparse.Namespace) -> int:
    applied = asyncio.run(migrate(_dsn(args)))
    print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")
    return 0


async def _doctor(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        report = await run_doctor(conn)
    finally:
        await conn.close()
    print(report.render())
    return 0 if report.ok else 1


def _cmd_doctor(args: argparse.Namespace) -> int:
    return asyncio.run(_doctor(_dsn(args)))


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(workspace_id=args.workspace, data_dir=args.data_dir)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(prog="isokron", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def with_dsn(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--dsn", help="PostgreSQL DSN (default: $ISOKRON_DSN)")
        return p

    with_dsn(sub.add_parser("migrate", help="apply pending schema migrations")).set_defaults(
        func=_cmd_migrate
    )
    with_dsn(sub.add_parser("doctor", help="check schema, roles, RLS and chains")).set_defaults(
        func=_cmd_doctor
    )
    demo = sub.add_parser("demo", help="run isokron end to end on an embedded PostgreSQL")
    demo.add_argument("--workspace", default="org_demo")
    demo.add_argument("--data-dir", default=None, help="reuse this cluster directory")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (OSError, asyncpg.PostgresError) as exc:
        target = redact_dsn(args.dsn) if getattr(args, "dsn", None) else "the database"
        print(f"isokron {args.command}: {type(exc).__name__} on {target}: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
