"""The console script's entry point: parse, run the subcommand, turn every failure into
one line on stderr and an exit status."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

import asyncpg

from ...errors import IsoKronError
from ...guard.dsn import redact_dsn
from ._args import Refused, fail
from ._interrupt import handling_sigint, interrupted
from .parser import build_parser

__all__ = ["NO_DSN_FALLBACK", "main"]

#: commands whose --dsn does not fall back to $ISOKRON_DSN: without one they start a
#: throwaway embedded server (a benchmark never writes into the database it names)
NO_DSN_FALLBACK = ("bench", "eval recall", "schema dump")


def _command(args: argparse.Namespace) -> str:
    sub: str | None = (getattr(args, "memory_command", None)
                       or getattr(args, "schema_command", None)
                       or getattr(args, "eval_command", None)
                       or getattr(args, "workspace_command", None)
                       or getattr(args, "charter_command", None)
                       or getattr(args, "policy_command", None))
    return f"{args.command} {sub}" if sub else str(args.command)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script: every failure is one line on stderr."""
    args = build_parser().parse_args(argv)
    command = _command(args)
    dsn: str | None = getattr(args, "dsn", None)
    if dsn is None and command not in ("demo", "up", "hermes-install", *NO_DSN_FALLBACK):
        dsn = os.environ.get("ISOKRON_DSN")
    target = f" on {redact_dsn(dsn)}" if dsn else ""
    try:
        with handling_sigint():
            code: int = args.func(args)
    except Refused as exc:
        fail(command, str(exc), dsn)
        return 2
    except IsoKronError as exc:
        return fail(command, str(exc), dsn)
    except KeyboardInterrupt:  # one line, status 130 (see _interrupt)
        return interrupted(command)
    except OSError as exc:
        if exc.filename is not None:  # a file, not the database
            return fail(command, f"{exc.strerror or exc}: {exc.filename!r}", dsn)
        detail = str(exc) or ("timed out" if isinstance(exc, TimeoutError) else "")
        return fail(command, f"{type(exc).__name__}{target}: {detail}", dsn)
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return fail(command, f"{type(exc).__name__}{target}: {exc}", dsn)
    except Exception as exc:  # one line, never a traceback (ISOKRON_DEBUG=1 shows it)
        if os.environ.get("ISOKRON_DEBUG"):
            raise
        return fail(command, f"{type(exc).__name__}{target}: {exc}", dsn)
    return code
