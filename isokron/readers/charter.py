"""Read the active role charter, fail-closed on a missing charter or anything unhashed.

The identity block shows the charter's version and sections from ``content_jsonb``;
only ``content_md`` is covered by ``content_hash``. So after the hash check, every
section and the version are compared with the same parts parsed from ``content_md``
(format: :mod:`isokron.readers.charter_md`); any disagreement fails closed, naming the section.
"""

from __future__ import annotations

import hashlib
import json

from ..db.tenancy import workspace_scope
from ..errors import NoActiveRoleCharterError, RoleCharterIntegrityError
from ..guard.validate import check_workspace
from ..models import RoleCharter, Row
from ..pool import DB, Conn
from .charter_md import LIST_SECTIONS, TEXT_SECTIONS, CharterFormatError, parse_charter_md

__all__ = ["read_active_role_charter", "verify_charter", "verify_charter_row"]

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


def verify_charter(workspace_id: str, row: Row) -> RoleCharter:
    """Return the charter of ``row`` if its hash and every shown part agree with content_md."""
    verify_charter_row(workspace_id, row["content_md"], row["content_hash"])
    charter = RoleCharter.from_row(row)
    md, digest = row["content_md"], row["content_hash"]

    def refuse(section: str, detail: str) -> RoleCharterIntegrityError:
        return RoleCharterIntegrityError(workspace_id, expected_hash=digest, actual_hash=digest,
                                         section=section, detail=detail)

    try:
        parsed = parse_charter_md(md)
    except CharterFormatError as exc:
        raise refuse(exc.section, f"content_md: {exc}") from None
    if charter.charter_version != parsed.charter_version:
        raise refuse("charter_version", "content_jsonb and content_md name different versions")
    for key in (*TEXT_SECTIONS, *LIST_SECTIONS):
        shown = getattr(charter.sections, key)
        hashed = parsed.sections[key]
        if (shown.strip() if key in TEXT_SECTIONS else list(shown)) != hashed:
            raise refuse(key, "content_jsonb differs from content_md")
    return charter


async def read_active_role_charter(db: DB | Conn, workspace_id: str) -> RoleCharter:
    """Return the workspace's verified active charter or raise (fail-closed)."""
    check_workspace(workspace_id)
    async with workspace_scope(db, workspace_id, "reading the role charter") as conn:
        row = await conn.fetchrow(_SQL, workspace_id)
    if row is None:
        raise NoActiveRoleCharterError(workspace_id)
    data = dict(row)
    data["content_jsonb"] = _decode_content(row["content_jsonb"])
    return verify_charter(workspace_id, data)
