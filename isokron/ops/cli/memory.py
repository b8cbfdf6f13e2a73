"""``isokron memory purge-workspace|export|import``: operate on namespaced memory."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from ...errors import NotOwnedError
from ...guard.files import write_private_text
from ._args import dsn

__all__ = ["cmd_memory"]

_OPERATOR = ("a login in isokron_sweeper, the operator role (the embedded server's "
             "sweeper_dsn), not the runtime login")
#: the role each subcommand connects as, named when the server refuses the DSN's login
_NEEDS = {"purge-workspace": _OPERATOR, "export": _OPERATOR,
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


async def _export(args: argparse.Namespace) -> int:
    from ...pool import create_pool
    from ...stores import export_memory

    pool = await create_pool(dsn(args), min_size=1, max_size=1)
    try:
        items = await export_memory(pool, args.workspace)
    finally:
        await pool.close()
    lines = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    if args.out:
        write_private_text(args.out, lines)  # tenant data: the owner's eyes only
        print(f"exported {len(items)} item(s) to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(lines)
    return 0


async def _import(args: argparse.Namespace) -> int:
    from ...pool import create_pool
    from ...stores import ImportLimits, import_memory, read_import_file

    limits = ImportLimits(max_items=args.max_items, max_item_bytes=args.max_item_bytes,
                          max_total_bytes=args.max_total_bytes)
    read = 0

    def counted() -> Iterator[Any]:
        nonlocal read
        for item in read_import_file(args.file, limits):
            read += 1
            yield item

    pool = await create_pool(dsn(args), min_size=1, max_size=1)
    try:
        counts = await import_memory(pool, counted(), workspace_id=args.workspace,
                                     limits=limits)
    finally:
        await pool.close()
    if read == 0:
        print(f"nothing to import: {args.file} holds no items")
        return 0
    existed = read - sum(counts.values())
    print(f"imported {counts['workspaces']} workspace(s), {counts['namespaces']} "
          f"namespace(s), {counts['memories']} memory(ies) into the tree of "
          f"{args.workspace}" + (f"; {existed} item(s) already existed" if existed else ""))
    return 0


_RUN: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "purge-workspace": _purge, "export": _export, "import": _import}


def cmd_memory(args: argparse.Namespace) -> int:
    """Run the ``memory`` subcommand named by ``args.memory_command``."""
    try:
        return asyncio.run(_RUN[args.memory_command](args))
    except NotOwnedError as exc:
        if "permission denied" not in str(exc):
            raise
        raise NotOwnedError(f"{exc} (isokron memory {args.memory_command} needs "
                            f"{_NEEDS[args.memory_command]})") from exc
