"""``isokron memory purge-workspace|export|import``: operate on namespaced memory."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from ...guard.files import write_private_text
from ._args import dsn
from ._interrupt import run

__all__ = ["cmd_memory"]


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
    pool = await create_pool(dsn(args), min_size=1, max_size=1)
    try:
        counts = await import_memory(pool, read_import_file(args.file, limits),
                                     workspace_id=args.workspace, limits=limits)
    finally:
        await pool.close()
    print(f"imported {counts['workspaces']} workspace(s), {counts['namespaces']} "
          f"namespace(s), {counts['memories']} memory(ies) into the tree of "
          f"{args.workspace}; the rest already existed")
    return 0


_RUN: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "purge-workspace": _purge, "export": _export, "import": _import}


def cmd_memory(args: argparse.Namespace) -> int:
    """Run the ``memory`` subcommand named by ``args.memory_command``."""
    return run(_RUN[args.memory_command](args))
