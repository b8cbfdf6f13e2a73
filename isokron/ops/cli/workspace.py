"""``isokron workspace add|list``: the workspaces of a server (connect as the owner).

``add W [--parent P]`` creates W (its tree row, its event-chain tenant and its ``kora``
actor) under P, or says it exists; ``list`` prints every workspace, its parent, its active
charter and its policy count.
"""

from __future__ import annotations

import argparse

from ._owner import as_owner

__all__ = ["cmd_workspace"]


def _add(args: argparse.Namespace) -> int:
    from ...stores.identity import add_workspace

    created = as_owner(args, lambda pool: add_workspace(pool, args.workspace, args.parent,
                                                        args.display_name))
    under = f" under {args.parent}" if args.parent else " (a root)"
    print(f"workspace {args.workspace}{under}: {'created' if created else 'exists, unchanged'}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from ...stores.identity import list_workspaces

    rows = as_owner(args, list_workspaces)
    if not rows:
        print("no workspaces (isokron workspace add W)")
    for row in rows:
        parent = f"parent {row.parent_id}" if row.parent_id else "root"
        charter = (f"charter v{row.charter_version} sha256 {row.charter_hash[:12]}"
                   if row.charter_hash else "no charter")
        print(f"{row.workspace_id}\t{parent}\t{charter}\t{row.policies} policies")
    return 0


def cmd_workspace(args: argparse.Namespace) -> int:
    """Add a workspace, or list them."""
    return _add(args) if args.workspace_command == "add" else _list(args)
