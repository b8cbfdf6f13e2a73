"""Read and set the quotas PostgreSQL enforces per workspace (``schema/0028_quotas.sql``,
``0030_quota_gaps.sql``).

``isokron.quota_limits`` holds a row of defaults (``'*'``) and optional rows per workspace;
only the schema's owner may write it, so :func:`apply_quotas` needs the owner's DSN (a
runtime login gets :class:`~isokron.errors.NotOwnedError`). :func:`quota_limits` works for
any runtime login: the effective limits of one workspace, its row over the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import InvalidInputError
from ..guard.quotas import QUOTA_KEYS
from ..guard.validate import check_workspace, shown
from ..pool import DB, acquire, translate_errors

__all__ = ["DEFAULTS_ROW", "apply_quotas", "quota_limits"]

#: the workspace id of the row of defaults
DEFAULTS_ROW = "*"
#: quota key -> column of isokron.quota_limits
_COLUMNS = {key: key.removeprefix("quota_") for key in QUOTA_KEYS}
_LIMITS = ("SELECT " + ", ".join(_COLUMNS.values())
           + " FROM isokron.quota_limits_v2($1)")
_UPSERT = ("INSERT INTO isokron.quota_limits (workspace_id, {cols}) VALUES ($1, {args}) "
           "ON CONFLICT (workspace_id) DO UPDATE SET {sets}, updated_at = now()")


def _target(workspace_id: str | None) -> str:
    if workspace_id is None:
        return DEFAULTS_ROW
    if workspace_id == DEFAULTS_ROW:
        raise InvalidInputError("workspace_id '*' names the defaults: pass None for them")
    return check_workspace(workspace_id)


async def quota_limits(db: DB, workspace_id: str | None = None) -> dict[str, int | None]:
    """The limits in force for ``workspace_id`` (None: the defaults); None means no limit."""
    target = _target(workspace_id)
    async with translate_errors("reading quotas"), acquire(db) as conn:
        row = await conn.fetchrow(_LIMITS, target)
    assert row is not None
    return {key: row[column] for key, column in _COLUMNS.items()}


async def apply_quotas(db: DB, limits: Mapping[str, int | None],
                       workspace_id: str | None = None) -> dict[str, int | None]:
    """Write ``limits`` (quota key -> limit, None: inherit the default, or for the
    defaults no limit) for ``workspace_id`` (None: the defaults); return the limits in
    force afterwards. Connect as the schema's owner: nothing else may write them."""
    target = _target(workspace_id)
    unknown = sorted(set(limits) - set(_COLUMNS))
    if unknown:
        raise InvalidInputError(f"unknown quota(s): {', '.join(shown(k) for k in unknown)} "
                                f"(known: {', '.join(QUOTA_KEYS)})")
    if not limits:
        return await quota_limits(db, workspace_id)
    for key, value in limits.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not 0 <= value < 2**63):
            raise InvalidInputError(f"{key} must be a whole number >= 0 or None, "
                                    f"got {shown(value)}")
    cols = [_COLUMNS[k] for k in limits]
    sql = _UPSERT.format(cols=", ".join(cols),
                         args=", ".join(f"${i + 2}" for i in range(len(cols))),
                         sets=", ".join(f"{c} = EXCLUDED.{c}" for c in cols))
    async with translate_errors("setting quotas"), acquire(db) as conn:
        await conn.execute(sql, target, *limits.values())
    return await quota_limits(db, workspace_id)
