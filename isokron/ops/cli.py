"""Run the ``isokron`` command: migrate, demo, doctor, prompt, sweep, bench, hermes-install."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import asyncpg

from ..errors import IsoKronError
from ..guard.dsn import dsn_secrets, redact_dsn
from ..guard.limits import MAX_ID_CHARS, check_free_text
from ..schema import migrate
from .doctor import run_doctor

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """Report a bad argument in one line (no usage dump), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")



def _dsn_problem(value: str) -> str | None:
    """Say what is wrong with ``value`` as a PostgreSQL URL, or None."""
    if not value.startswith(("postgres://", "postgresql://")):
        return "must start with postgres:// or postgresql://"
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    for host in parts.netloc.rpartition("@")[2].split(","):  # asyncpg allows h1:p1,h2:p2
        _, colon, port = host.rpartition("]")[2].rpartition(":")
        if colon and port and not (port.isdigit() and 0 < int(port) < 65536):
            return f"has a bad port {port!r}"
    return None


def _dsn_type(value: str) -> str:
    problem = _dsn_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(f"{problem}, got {redact_dsn(value)!r}")
    return value


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value!r}")
    return number


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value!r}")
    return number


def _workspace_type(value: str) -> str:
    try:
        return check_free_text(value, "the workspace id", max_chars=MAX_ID_CHARS)
    except IsoKronError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _readable_file(value: str) -> str:
    path = Path(value).expanduser()
    if not path.is_file():
        what = "a directory" if path.is_dir() else "no such file"
        raise argparse.ArgumentTypeError(f"{what}: {value!r}")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"cannot read {value!r}")
    return value


def _program_type(value: str) -> str:
    path = Path(value).expanduser()
    if not path.is_file() or not os.access(path, os.X_OK):
        what = "not an executable file" if path.exists() else "no such file"
        raise argparse.ArgumentTypeError(f"{what}: {value!r}")
    return value


def _writable_file(value: str) -> str:
    path = Path(value).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} is a directory, expected a file name")
    folder = path.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"no such directory {str(folder)!r} for {value!r}")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"cannot write {value!r}")
    return value


def _directory_type(value: str) -> str:
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} exists and is not a directory")
    return value


def _dsn(args: argparse.Namespace) -> str:
    dsn: str | None = args.dsn or os.environ.get("ISOKRON_DSN")
    if not dsn:
        raise _Refused("no DSN given (use --dsn or set ISOKRON_DSN)")
    problem = _dsn_problem(dsn)
    if problem:
        raise _Refused(f"$ISOKRON_DSN {problem}, got {redact_dsn(dsn)!r}")
    return dsn


class _Refused(Exception):
    """Stop a command with one line on stderr (a usage problem found after parsing)."""


def _cmd_migrate(args: argparse.Namespace) -> int:
    applied = asyncio.run(migrate(_dsn(args)))
    print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")
    return 0


async def _doctor(dsn: str, args: argparse.Namespace) -> int:
    from ..readers.events import read_chain_heads
    from .chain_heads import load_chain_heads, write_chain_heads

    heads = load_chain_heads(args.chain_heads) if args.chain_heads else None
    # No statement cache: the doctor also works (and detects it) behind PgBouncer.
    conn = await asyncpg.connect(dsn, statement_cache_size=0)
    try:
        report = await run_doctor(conn, chain_heads=heads, dsn=dsn)
        recorded = await read_chain_heads(conn) if args.record_chain_heads else None
    finally:
        await conn.close()
    print(report.render())
    if recorded is not None:
        write_chain_heads(args.record_chain_heads, recorded)
        print(f"doctor: recorded {len(recorded)} chain head(s) in {args.record_chain_heads}")
    return 0 if report.ok else 1


def _cmd_doctor(args: argparse.Namespace) -> int:
    return asyncio.run(_doctor(_dsn(args), args))


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(workspace_id=args.workspace, data_dir=args.data_dir)


def _cmd_hermes_install(args: argparse.Namespace) -> int:
    from ..integrations.hermes import install_plugin

    folder = install_plugin(args.home, python=args.python)
    print(f"installed the isokron plugin in {folder}")
    print("enable it with `memory: {provider: isokron}` and an `isokron:` section "
          f"(dsn, workspace_id) in {folder.parent.parent / 'config.yaml'}")
    return 0


async def _prompt(args: argparse.Namespace) -> int:
    from ..engine.core import AsyncIsoKron

    async with AsyncIsoKron({"dsn": _dsn(args), "actor_kind": args.actor_kind}) as kron:
        print(await kron.system_prompt_block(args.workspace))
    return 0


def _cmd_prompt(args: argparse.Namespace) -> int:
    return asyncio.run(_prompt(args))


async def _sweep(args: argparse.Namespace) -> int:
    import json

    from ..pool import create_pool
    from ..stores.sweeper import DelegationSweeper

    pool = await create_pool(_dsn(args))
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


def _cmd_sweep(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_sweep(args))
    except KeyboardInterrupt:
        return 0


#: bench options and the suites they apply to (elsewhere they would be silently ignored)
_BENCH_OPTIONS = {"dsn": "all", "out": "all", "quick": "all", "workspaces": "prompt",
                  "warm_calls": "prompt", "records": "rls"}


def _cmd_bench(args: argparse.Namespace) -> int:
    import json

    from .bench import run_prompt_bench, run_redact_bench, run_rls_bench

    for name, suite in _BENCH_OPTIONS.items():
        if getattr(args, name) not in (None, False) and args.suite != suite:
            raise _Refused(f"--{name.replace('_', '-')} applies to --suite {suite} only, "
                           f"not --suite {args.suite}")
    if args.suite == "all":
        from .bench_suite import run_suite

        try:
            document = run_suite(quick=args.quick, dsn=args.dsn)
        except RuntimeError as exc:
            print(f"isokron bench: {exc}", file=sys.stderr)
            return 2
        text = json.dumps(document, indent=2)
        if args.out:
            Path(args.out).write_text(text + "\n", encoding="utf-8")
        print(text)
    elif args.suite == "rls":
        print(json.dumps(run_rls_bench(records=args.records or 10_000)))
    elif args.suite == "redact":
        print(json.dumps(run_redact_bench()))
    else:
        print(json.dumps(run_prompt_bench(workspaces=args.workspaces or 20,
                                          warm_calls=args.warm_calls or 10_000)))
    return 0


async def _purge(args: argparse.Namespace) -> int:
    from ..pool import create_pool
    from ..stores import purge_workspace

    pool = await create_pool(_dsn(args), min_size=1, max_size=1)
    try:
        removed = await purge_workspace(pool, args.workspace)
    finally:
        await pool.close()
    for name, count in removed:
        print(f"removed {name} ({count} memories)")
    if not removed:
        print(f"nothing to remove for workspace {args.workspace}")
    return 0


async def _export(args: argparse.Namespace) -> int:
    import json

    from ..pool import create_pool
    from ..stores import export_memory

    pool = await create_pool(_dsn(args), min_size=1, max_size=1)
    try:
        items = await export_memory(pool, args.workspace)
    finally:
        await pool.close()
    lines = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    if args.out:
        Path(args.out).write_text(lines, encoding="utf-8")
        print(f"exported {len(items)} item(s) to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(lines)
    return 0


async def _import(args: argparse.Namespace) -> int:
    import json

    from ..pool import create_pool
    from ..stores import import_memory

    items = []
    for number, line in enumerate(Path(args.file).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                items.append(json.loads(line))
            except ValueError:
                raise IsoKronError(f"{args.file}:{number}: not a JSON line") from None
    pool = await create_pool(_dsn(args), min_size=1, max_size=1)
    try:
        counts = await import_memory(pool, items)
    finally:
        await pool.close()
    print(f"imported {counts['workspaces']} workspace(s), {counts['namespaces']} "
          f"namespace(s), {counts['memories']} memory(ies); the rest already existed")
    return 0


def _cmd_memory(args: argparse.Namespace) -> int:
    run = {"purge-workspace": _purge, "export": _export, "import": _import}
    return asyncio.run(run[args.memory_command](args))


def _cmd_mcp(args: argparse.Namespace) -> int:
    try:
        import mcp  # noqa: F401  (the extra: refuse early with one line when it is missing)

        from ..integrations.mcp import serve_stdio
    except ImportError:
        raise _Refused("the MCP server needs the mcp extra: pip install 'isokron[mcp]'") from None
    asyncio.run(serve_stdio(args.workspace, _dsn(args), actor_kind=args.actor_kind))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser (exposed for tests and docs)."""
    parser = _Parser(prog="isokron", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def with_dsn(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--dsn", type=_dsn_type, help="PostgreSQL DSN (default: $ISOKRON_DSN)")
        return p

    with_dsn(sub.add_parser("migrate", help="apply pending schema migrations")).set_defaults(
        func=_cmd_migrate
    )
    doctor = with_dsn(sub.add_parser("doctor", help="check schema, roles, RLS and chains"))
    doctor.add_argument("--chain-heads", metavar="FILE", type=_readable_file,
                        help="check that every head recorded in FILE is still in its chain")
    doctor.add_argument("--record-chain-heads", metavar="FILE", type=_writable_file,
                        help="write every workspace's current chain head to FILE")
    doctor.set_defaults(func=_cmd_doctor)
    prompt = with_dsn(sub.add_parser("prompt", help="print a workspace's identity block"))
    prompt.add_argument("--workspace", required=True, type=_workspace_type)
    prompt.add_argument("--actor-kind", default="kora")
    prompt.set_defaults(func=_cmd_prompt)
    sweep = with_dsn(sub.add_parser("sweep", help="run the delegation sweeper"))
    sweep.add_argument("--once", action="store_true", help="run one pass and exit")
    sweep.add_argument("--interval", type=_positive_float, default=None,
                       help="seconds between passes")
    sweep.add_argument("--stuck-threshold", type=_positive_float, default=None,
                       help="seconds without a heartbeat before a row is stuck")
    sweep.set_defaults(func=_cmd_sweep)
    bench = sub.add_parser("bench", help="time cold warm-up and warm block; print JSON")
    bench.add_argument("--workspaces", type=_positive_int,
                       help="workspaces for --suite prompt (default 20)")
    bench.add_argument("--warm-calls", type=_positive_int,
                       help="warm-block calls for --suite prompt (default 10000)")
    bench.add_argument("--suite", choices=("all", "prompt", "rls", "redact"), default="all",
                       help="all: the side-by-side suite with pass flags (needs the bench "
                            "extra); prompt: cold warm-up and warm block; rls: memory search "
                            "latency with row-level security on and off; redact: "
                            "redaction time for a 10 KB message")
    bench.add_argument("--quick", action="store_true",
                       help="smaller sizes (under 2 minutes): a smoke test of the JSON shape")
    bench.add_argument("--dsn", type=_dsn_type,
                       help="run on this server (owner DSN) instead of an embedded one")
    bench.add_argument("--out", type=_writable_file,
                       help="also write the JSON document to this file")
    bench.add_argument("--records", type=_positive_int,
                       help="memory rows for --suite rls (default 10000)")
    bench.set_defaults(func=_cmd_bench)
    memory = sub.add_parser("memory", help="operate on namespaced memory")
    memory_sub = memory.add_subparsers(dest="memory_command", required=True,
                                       parser_class=_Parser)
    purge = with_dsn(memory_sub.add_parser(
        "purge-workspace", help="remove a workspace's memory (its namespace; shared ones "
        "nobody else reads)"))
    purge.add_argument("--workspace", required=True, type=_workspace_type)
    purge.set_defaults(func=_cmd_memory)
    export = with_dsn(memory_sub.add_parser(
        "export", help="write everything a workspace's tree can read as JSON lines"))
    export.add_argument("--workspace", required=True, type=_workspace_type)
    export.add_argument("--out", type=_writable_file,
                        help="write to this file (default: standard output)")
    export.set_defaults(func=_cmd_memory)
    load = with_dsn(memory_sub.add_parser(
        "import", help="write an export back (idempotent; secrets redacted again)"))
    load.add_argument("file", type=_readable_file)
    load.set_defaults(func=_cmd_memory)

    mcp = with_dsn(sub.add_parser(
        "mcp", help="serve the memory and episodes tools of one workspace over stdio (MCP)"))
    mcp.add_argument("--workspace", required=True, type=_workspace_type)
    mcp.add_argument("--actor-kind", default="kora",
                     help="whose episodes isokron_episodes_recent lists (default kora)")
    mcp.set_defaults(func=_cmd_mcp)
    hermes = sub.add_parser("hermes-install", help="install the Hermes-style plugin")
    hermes.add_argument("--home", default=None, type=_directory_type,
                        help="default: $HERMES_HOME or ~/.hermes")
    hermes.add_argument("--python", default=None, type=_program_type,
                        help="the Python Hermes runs on (default: the `hermes` executable's)")
    hermes.set_defaults(func=_cmd_hermes_install)
    demo = sub.add_parser("demo", help="run isokron end to end on an embedded PostgreSQL")
    demo.add_argument("--workspace", default="org_demo", type=_workspace_type)
    demo.add_argument("--data-dir", default=None, type=_directory_type,
                      help="reuse this cluster directory")
    demo.set_defaults(func=_cmd_demo)
    return parser


def _fail(command: str, message: str, dsn: str | None) -> int:
    """Print ``isokron <command>: <message>`` as one line, no password in it; return 1."""
    line = " ".join(message.split()) or "failed (no detail)"
    for secret in dsn_secrets(dsn):
        line = line.replace(secret, "***")
    print(f"isokron {command}: {line}", file=sys.stderr)
    return 1


def _command(args: argparse.Namespace) -> str:
    sub: str | None = getattr(args, "memory_command", None)
    return f"{args.command} {sub}" if sub else str(args.command)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script: every failure is one line on stderr."""
    args = build_parser().parse_args(argv)
    command = _command(args)
    dsn: str | None = getattr(args, "dsn", None)
    if dsn is None and command not in ("demo", "hermes-install", "bench"):
        dsn = os.environ.get("ISOKRON_DSN")
    target = f" on {redact_dsn(dsn)}" if dsn else ""
    try:
        code: int = args.func(args)
    except _Refused as exc:
        _fail(command, str(exc), dsn)
        return 2
    except IsoKronError as exc:
        return _fail(command, str(exc), dsn)
    except KeyboardInterrupt:
        print(f"isokron {command}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        if exc.filename is not None:  # a file, not the database
            return _fail(command, f"{exc.strerror or exc}: {exc.filename!r}", dsn)
        detail = str(exc) or ("timed out" if isinstance(exc, TimeoutError) else "")
        return _fail(command, f"{type(exc).__name__}{target}: {detail}", dsn)
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return _fail(command, f"{type(exc).__name__}{target}: {exc}", dsn)
    except Exception as exc:  # one line, never a traceback (ISOKRON_DEBUG=1 shows it)
        if os.environ.get("ISOKRON_DEBUG"):
            raise
        return _fail(command, f"{type(exc).__name__}{target}: {exc}", dsn)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
