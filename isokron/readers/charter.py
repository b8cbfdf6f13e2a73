"""Read the active role charter, fail-closed on a missing charter or a hash mismatch."""

from __future__ import annotations

import hashlib
import json

from ..errors import NoActiveRoleCharterError, RoleCharterIntegrityError
from ..models import RoleCharter
from ..pool import DB, Conn, acquire, translate_errors
from ._common import check_workspace

__all__ = ["read_active_role_charter", "verify_charter_row"]

_SQL = """
SELECT id, workspace_id, schema_version, content_md, content_jsonb::text AS content_jsonb,
       content_hash, created_at
  FROM public.kora_role_charter
 WHERE workspace_id = $1 AND superseded_at IS NULL
"""


def verify_charter_row(workspace_id: str, content_md: str | None, content_hash: str | None) -> None:
    """Raise RoleCharterIntegrityError unless sha256(content_md) equals content_hash."""
    actual = (
        hashlib.sha256(content_md.encode("utf-8")).hexdigest() if content_md is not None else None
    )
    if content_md is None or content_hash is None or actual != content_hash:
        raise RoleCharterIntegrityError(
            workspace_id, expected_hash=content_hash, actual_hash=actual
        )


def _decode_content(text: str) -> object:
    value = json.loads(text)
    # A charter stored as a JSON *string* holding the object is decoded once more.
    if isinstance(value, str):
        value = json.loads(value)
    return value


async def read_active_role_charter(db: DB | Conn, workspace_id: str) -> RoleCharter:
    """Return the workspace's verified active charter or raise (fail-closed)."""
    check_workspace(workspace_id)
    async with translate_errors("reading the role charter"), acquire(db) as conn:
        row = await conn.fetchrow(_SQL, workspace_id)
    if row is None:
        raise NoActiveRoleCharterError(workspace_id)
    verify_charter_row(workspace_id, row["content_md"], row["content_hash"])
    data = dict(row)
    data["content_jsonb"] = _decode_content(row["content_jsonb"])
    return RoleCharter.from_row(data)
