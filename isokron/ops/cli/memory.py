"""``isokron memory purge-workspace|export|import|dedup``: operate on namespaced memory."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from ...errors import NotOwnedError
from ...guard.files import write_private_text
from ._args import dsn
from ._interrupt import run
from ._progress import Progress

__all__ = ["cmd_memory"]

_OPERATOR = ("a login in isokron_sweeper, the operator role (the embedded server's "
             "sweeper_dsn), not the runtime login")
#: the role each subcommand connects as, named when the server refuses the DSN's login
_NEEDS = {"purge-workspace": _OPERATOR, "export": _OPERATOR, "dedup": _OPERATOR,
          "import": "the schema owner's DSN (the login that ran isokron migrate)"}


async def _purge(args: argparse.Namespace) -> int:
    from ...pool import create_pool
    from ...stores import purge_workspace

    pool = await create_pool(dsn(args), min_size=1, max_size=1)
    try:
        removed = await purge_workspace(pool, args.workspace)
    finally:
        await pool.close()
    for name, count in removed:
        print(f"removed {name} ({count} memories)")
    if not removed:
        print(f"nothing to remove for workspace {args.workspace}")
    return 0


async def _dedup(args: argparse.Namespace) -> int:
    from ...pool import create_pool
    from ...stores import memory_duplicates

    pool = await create_pool(dsn(args), min_size=1, max_size=1)
    try:
        found = await memory_duplicates(pool, merge=args.merge)
    finally:
        await pool.close()
    verb = "merged" if args.merge else "duplicate"
    for root, namespace, keeper, count in found:
        print(f"{root} {namespace}: {count} {verb} into {keeper}" if args.merge else
              f"{root} {namespace}: {count} {verb}(s) of {keeper}")
    total = sum(count for *_, count in found)
    if not found:
        print("no duplicate memories")
    elif not args.merge:
        print(f"{total} duplicate memory(ies) kept; isokron memory dedup --merge folds them")
    return 0


async def _export(args: argparse.Namespace) -> int:
    from ...pool import create_pool
    from ...stores import export_memory

    with Progress("memory export", unit="items", rate=True, quiet=args.quiet) as progress:
        pool = await create_pool(dsn(args), min_size=1, max_size=1)
        try:  # nothing shown before the connection: a bad DSN gets one line
            progress(0, 0, f"reading the tree of {args.workspace}")
            items = await export_memory(pool, args.workspace)
        finally:
            await pool.close()
        lines = []
        for n, item in enumerate(items, 1):
            lines.append(json.dumps(item, ensure_ascii=False) + "\n")
            if n % 1000 == 0 or n == len(items):
                progress(n, len(items), "encoding")
    text = "".join(lines)
    if args.out:
        write_private_text(args.out, text)  # tenant data: the owner's eyes only
        print(f"exported {len(items)} item(s) to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _lines(path: str) -> int:
    """Count the lines of ``path`` (the total of an import's bar), a MiB at a time."""
    with open(path, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def _counted(items: Iterator[dict[str, Any]], total: int, progress: Progress
             ) -> Iterator[dict[str, Any]]:
    done = 0
    for item in items:
        yield item
        done += 1
        if done % 500 == 0:
            progress(done, total, "reading and writing")
    progress(done, max(total, done), "committing")


async def _import(args: argparse.Namespace) -> int:
    from ...pool import create_pool
    from ...stores import ImportLimits, import_memory, read_import_file

    limits = ImportLimits(max_items=args.max_items, max_item_bytes=args.max_item_bytes,
                          max_total_bytes=args.max_total_bytes)
    read = [0]

    def counted(items: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for item in items:
            read[0] += 1
            yield item

    with Progress("memory import", unit="items", rate=True, quiet=args.quiet) as progress:
        # a file past the limit is refused by the reader, not read through first
        small = os.path.getsize(args.file) <= limits.max_total_bytes
        total = _lines(args.file) if small and not args.quiet else 0
        pool = await create_pool(dsn(args), min_size=1, max_size=1)
        try:  # nothing shown before the connection: a bad DSN gets one line
            progress(0, total, "reading and writing")
            items = _counted(counted(read_import_file(args.file, limits)), total, progress)
            counts = await import_memory(pool, items, workspace_id=args.workspace,
                                         limits=limits)
        finally:
            await pool.close()
    if read[0] == 0:
        print(f"nothing to import: {args.file} holds no items")
        return 0
    existed = read[0] - sum(counts.values())
    print(f"imported {counts['workspaces']} workspace(s), {counts['namespaces']} "
          f"namespace(s), {counts['memories']} memory(ies) into the tree of "
          f"{args.workspace}" + (f"; {existed} item(s) already existed" if existed else ""))
    return 0


_RUN: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "purge-workspace": _purge, "export": _export, "import": _import, "dedup": _dedup}


def cmd_memory(args: argparse.Namespace) -> int:
    """Run the ``memory`` subcommand named by ``args.memory_command``."""
    try:
        return run(_RUN[args.memory_command](args))
    except NotOwnedError as exc:
        if "permission denied" not in str(exc):
            raise
        raise NotOwnedError(f"{exc} (isokron memory {args.memory_command} needs "
                            f"{_NEEDS[args.memory_command]})") from exc
