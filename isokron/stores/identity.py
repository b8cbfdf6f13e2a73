"""Write a workspace's identity: the workspace, its role charter, its policies (as the owner).

What ``isokron workspace add``, ``charter set`` and ``policy set`` run. A workspace is three
rows: ``isokron.workspaces`` (the tree: its parent), ``hivex_foundation.tenant`` (its event
chain) and a ``kora`` actor in ``public.actor_registry`` (whose episodes and sessions a turn
writes). The charter and the policies are the substrate's rows the readers verify and show;
the substrate's policies let only a superuser write them, so connect as one (the owner DSN
``isokron setup`` was given). Every call checks its arguments first and writes nothing on a
bad one (InvalidInputError naming the value); each is idempotent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from ..db.tenancy import workspace_scope
from ..errors import InvalidInputError, NotOwnedError
from ..guard.limits import check_free_text
from ..guard.validate import MAX_NAME_CHARS, check_workspace, shown
from ..pool import DB, Conn, acquire, translate_errors

__all__ = ["ACTOR_KIND", "WorkspaceRow", "add_workspace", "list_workspaces", "set_charter",
           "set_policy"]

#: the actor a workspace is created with (the only kind with a charter)
ACTOR_KIND = "kora"
_CHARTER_SCHEMA = "kora-charter/2"


@attrs.frozen(kw_only=True)
class WorkspaceRow:
    """One workspace as ``isokron workspace list`` shows it."""

    workspace_id: str
    parent_id: str | None
    charter_version: str | None
    charter_hash: str | None
    policies: int


async def _exists(conn: Conn, workspace_id: str) -> tuple[bool, str | None]:
    row = await conn.fetchrow(
        "SELECT parent_id FROM isokron.workspaces WHERE workspace_id = $1", workspace_id)
    return (row is not None, None if row is None else row["parent_id"])


async def add_workspace(db: DB | Conn, workspace_id: str, parent_id: str | None = None,
                        display_name: str | None = None) -> bool:
    """Create ``workspace_id`` under ``parent_id`` (None: a root); return False when it
    existed already with that parent (its missing rows are added). A parent that does not
    exist, or an existing workspace with another parent, raises InvalidInputError."""
    check_workspace(workspace_id)
    if workspace_id == "*":
        raise InvalidInputError("workspace id '*' is reserved (it names the quota defaults)")
    if parent_id is not None:
        check_workspace(parent_id)
        if parent_id == workspace_id:
            raise InvalidInputError(f"workspace {workspace_id!r} cannot be its own parent")
    name = display_name if display_name is not None else workspace_id
    check_free_text(name, "the display name", max_chars=MAX_NAME_CHARS)
    async with acquire(db) as conn, conn.transaction():
        if parent_id is not None:
            async with workspace_scope(conn, parent_id, "reading the parent workspace") as c:
                if not (await _exists(c, parent_id))[0]:
                    raise InvalidInputError(f"parent workspace {parent_id!r} does not exist "
                                            f"(add it first)")
        async with workspace_scope(conn, workspace_id, "adding a workspace") as c:
            found, parent = await _exists(c, workspace_id)
            if found and parent != parent_id:
                raise InvalidInputError(
                    f"workspace {workspace_id!r} exists with parent {parent!r}, not "
                    f"{parent_id!r} (isokron does not move a workspace to another tree)")
            if not found:
                await c.execute(
                    "INSERT INTO isokron.workspaces (workspace_id, parent_id, display_name) "
                    "VALUES ($1, $2, $3)", workspace_id, parent_id, name)
            await c.execute(
                "INSERT INTO hivex_foundation.tenant (clerk_org_id, display_name) VALUES "
                "($1, $2) ON CONFLICT (clerk_org_id) DO NOTHING", workspace_id, name)
            await c.execute(
                "INSERT INTO public.actor_registry (workspace_id, actor_kind, display_name) "
                "SELECT $1, $2, 'Kora' WHERE NOT EXISTS (SELECT 1 FROM public.actor_registry "
                "WHERE workspace_id = $1 AND actor_kind = $2)", workspace_id, ACTOR_KIND)
    return not found


async def _superuser(conn: Conn) -> bool:
    return bool(await conn.fetchval("SELECT current_setting('is_superuser') = 'on'"))


async def _require(conn: Conn, workspace_id: str) -> None:
    if not (await _exists(conn, workspace_id))[0]:
        if not await _superuser(conn):  # row-level security may be hiding it
            raise NotOwnedError(f"workspace {workspace_id!r} is not visible to this login, "
                                f"and only a superuser may write the substrate's identity")
        raise InvalidInputError(f"workspace {workspace_id!r} does not exist (isokron "
                                f"workspace add {workspace_id} first)")


async def set_charter(db: DB | Conn, workspace_id: str, content_md: str, content_hash: str,
                      content: Mapping[str, Any]) -> str:
    """Make this the active charter of ``workspace_id`` (the one before is superseded);
    return ``created``, ``replaced`` or ``unchanged`` (the active charter has this hash
    and content). The caller has verified the row as the reader will."""
    check_workspace(workspace_id)
    document = json.dumps(dict(content), sort_keys=True)
    async with workspace_scope(db, workspace_id, "setting the role charter") as conn:
        await _require(conn, workspace_id)
        active = await conn.fetchrow(
            "SELECT id, content_hash, content_jsonb::text AS content FROM "
            "public.kora_role_charter WHERE workspace_id = $1 AND superseded_at IS NULL "
            "FOR UPDATE", workspace_id)
        if active is not None:
            same = json.dumps(json.loads(active["content"]), sort_keys=True) == document
            if active["content_hash"] == content_hash and same:
                return "unchanged"
            await conn.execute("UPDATE public.kora_role_charter SET superseded_at = now() "
                               "WHERE id = $1", active["id"])
        await conn.execute(
            "INSERT INTO public.kora_role_charter (workspace_id, schema_version, content_md, "
            "content_jsonb, content_hash) VALUES ($1, $2, $3, $4::text::jsonb, $5)",
            workspace_id, _CHARTER_SCHEMA, content_md, document, content_hash)
    return "created" if active is None else "replaced"


async def set_policy(db: DB | Conn, workspace_id: str, path: str, value: Any) -> str:
    """Set policy ``path`` of ``workspace_id`` to the JSON ``value``; return ``created``,
    ``updated`` or ``unchanged``."""
    check_workspace(workspace_id)
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidInputError(f"policy value must be JSON, got {shown(value)}") from None
    async with workspace_scope(db, workspace_id, "setting a policy") as conn:
        await _require(conn, workspace_id)
        row = await conn.fetchrow(
            "INSERT INTO public.kora_policy_registry AS p (workspace_id, policy_path, "
            "policy_value) VALUES ($1, $2, $3::text::jsonb) ON CONFLICT (workspace_id, "
            "policy_path) DO UPDATE SET policy_value = EXCLUDED.policy_value, updated_at = "
            "now() WHERE p.policy_value IS DISTINCT FROM EXCLUDED.policy_value "
            "RETURNING (xmax = 0) AS inserted", workspace_id, path, text)
    if row is None:
        return "unchanged"
    return "created" if row["inserted"] else "updated"


async def list_workspaces(db: DB | Conn) -> list[WorkspaceRow]:
    """Every workspace, its parent, active charter and policy count (as a superuser: the
    substrate's row-level security shows anyone else one workspace at a time)."""
    async with translate_errors("listing workspaces"), acquire(db) as conn:
        if not await _superuser(conn):
            raise NotOwnedError("listing workspaces: only a superuser sees every workspace")
        rows = await conn.fetch(
            "SELECT w.workspace_id, w.parent_id, c.content_jsonb ->> 'charter_version' AS "
            "version, c.content_hash, (SELECT count(*) FROM public.kora_policy_registry p "
            "WHERE p.workspace_id = w.workspace_id) AS policies FROM isokron.workspaces w "
            "LEFT JOIN public.kora_role_charter c ON c.workspace_id = w.workspace_id AND "
            "c.superseded_at IS NULL ORDER BY w.workspace_id")
    return [WorkspaceRow(workspace_id=r["workspace_id"], parent_id=r["parent_id"],
                         charter_version=r["version"], charter_hash=r["content_hash"],
                         policies=int(r["policies"])) for r in rows]
