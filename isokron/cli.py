"""Run the ``isokron`` command: migrate, demo, doctor, prompt, sweep, bench, hermes-install."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import asyncpg

from .doctor import run_doctor
from .errors import IsoKronError
from .pool import redact_dsn
from .schema import migrate

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """Report a bad argument in one line (no usage dump), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _dsn_type(value: str) -> str:
    if not value.startswith(("postgres://", "postgresql://")):
        raise argparse.ArgumentTypeError(
            f"--dsn must start with postgres:// or postgresql://, got {redact_dsn(value)!r}")
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


def _dsn(args: argparse.Namespace) -> str:
    dsn: str | None = args.dsn or os.environ.get("ISOKRON_DSN")
    if not dsn:
        raise SystemExit("isokron: no DSN given (use --dsn or set ISOKRON_DSN)")
    return _checked_dsn(dsn)


def _checked_dsn(dsn: str) -> str:
    try:
        return _dsn_type(dsn)
    except argparse.ArgumentTypeError as exc:
        raise SystemExit(f"isokron: {str(exc).replace('--dsn', '$ISOKRON_DSN')}") from None


def _cmd_migrate(args: argparse.Namespace) -> int:
    applied = asyncio.run(migrate(_dsn(args)))
    print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")
    return 0


async def _doctor(dsn: str, args: argparse.Namespace) -> int:
    from .chain_heads import load_chain_heads, write_chain_heads
    from .readers.events import read_chain_heads

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
    from .integrations.hermes import install_plugin

    folder = install_plugin(args.home, python=args.python)
    print(f"installed the isokron plugin in {folder}")
    print("enable it with `memory: {provider: isokron}` and an `isokron:` section "
          f"(dsn, workspace_id) in {folder.parent.parent / 'config.yaml'}")
    return 0


async def _prompt(args: argparse.Namespace) -> int:
    from .core import AsyncIsoKron

    async with AsyncIsoKron({"dsn": _dsn(args), "actor_kind": args.actor_kind}) as kron:
        print(await kron.system_prompt_block(args.workspace))
    return 0


def _cmd_prompt(args: argparse.Namespace) -> int:
    return asyncio.run(_prompt(args))


async def _sweep(args: argparse.Namespace) -> int:
    import json

    from .pool import create_pool
    from .stores.sweeper import DelegationSweeper

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


def _cmd_bench(args: argparse.Namespace) -> int:
    import json

    from .bench import run_prompt_bench, run_redact_bench, run_rls_bench

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
        print(json.dumps(run_rls_bench(records=args.records)))
    elif args.suite == "redact":
        print(json.dumps(run_redact_bench()))
    else:
        print(json.dumps(run_prompt_bench(workspaces=args.workspaces,
                                          warm_calls=args.warm_calls)))
    return 0


async def _purge(args: argparse.Namespace) -> int:
    from .pool import create_pool
    from .stores import purge_workspace

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

    from .pool import create_pool
    from .stores import export_memory

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

    from .pool import create_pool
    from .stores import import_memory

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
    doctor.add_argument("--chain-heads", metavar="FILE",
                        help="check that every head recorded in FILE is still in its chain")
    doctor.add_argument("--record-chain-heads", metavar="FILE",
                        help="write every workspace's current chain head to FILE")
    doctor.set_defaults(func=_cmd_doctor)
    prompt = with_dsn(sub.add_parser("prompt", help="print a workspace's identity block"))
    prompt.add_argument("--workspace", required=True)
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
    bench.add_argument("--workspaces", type=_positive_int, default=20)
    bench.add_argument("--warm-calls", type=_positive_int, default=10_000)
    bench.add_argument("--suite", choices=("all", "prompt", "rls", "redact"), default="all",
                       help="all: the side-by-side suite with pass flags (needs the bench "
                            "extra); prompt: cold warm-up and warm block; rls: memory search "
                            "latency with row-level security on and off; redact: "
                            "redaction time for a 10 KB message")
    bench.add_argument("--quick", action="store_true",
                       help="smaller sizes (under 2 minutes): a smoke test of the JSON shape")
    bench.add_argument("--dsn", type=_dsn_type,
                       help="run on this server (owner DSN) instead of an embedded one")
    bench.add_argument("--out", help="also write the JSON document to this file")
    bench.add_argument("--records", type=_positive_int, default=10_000,
                       help="memory rows for --suite rls")
    bench.set_defaults(func=_cmd_bench)
    memory = sub.add_parser("memory", help="operate on namespaced memory")
    memory_sub = memory.add_subparsers(dest="memory_command", required=True,
                                       parser_class=_Parser)
    purge = with_dsn(memory_sub.add_parser(
        "purge-workspace", help="remove a workspace's memory (its namespace; shared ones "
        "nobody else reads)"))
    purge.add_argument("--workspace", required=True)
    purge.set_defaults(func=_cmd_memory)
    export = with_dsn(memory_sub.add_parser(
        "export", help="write everything a workspace's tree can read as JSON lines"))
    export.add_argument("--workspace", required=True)
    export.add_argument("--out", help="write to this file (default: standard output)")
    export.set_defaults(func=_cmd_memory)
    load = with_dsn(memory_sub.add_parser(
        "import", help="write an export back (idempotent; secrets redacted again)"))
    load.add_argument("file")
    load.set_defaults(func=_cmd_memory)

    hermes = sub.add_parser("hermes-install", help="install the Hermes-style plugin")
    hermes.add_argument("--home", default=None, help="default: $HERMES_HOME or ~/.hermes")
    hermes.add_argument("--python", default=None,
                        help="the Python Hermes runs on (default: the `hermes` executable's)")
    hermes.set_defaults(func=_cmd_hermes_install)
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
    except IsoKronError as exc:
        print(f"isokron {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"isokron {args.command}: interrupted", file=sys.stderr)
        return 130
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        target = redact_dsn(args.dsn) if getattr(args, "dsn", None) else "the database"
        message = " ".join(str(exc).split())
        print(f"isokron {args.command}: {type(exc).__name__} on {target}: {message}",
              file=sys.stderr)
        return 1
    except Exception as exc:  # one line, never a traceback (ISOKRON_DEBUG=1 shows it)
        if os.environ.get("ISOKRON_DEBUG"):
            raise
        message = " ".join(str(exc).split()) or "no detail"
        print(f"isokron {args.command}: {type(exc).__name__}: {message}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
