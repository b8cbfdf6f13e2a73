"""Read one actor kind's column of the capability matrix (mirror as fallback)."""

from __future__ import annotations

import logging

import asyncpg

from ..models import CapabilityRow
from ..pool import DB, Conn, acquire, translate_errors
from .capability_mirror import KORA_CAPABILITY_MIRROR

__all__ = ["mirror_capability_row", "read_capability_row"]

log = logging.getLogger("isokron.readers")

_SQL = """
SELECT cap_name, granted FROM public.actor_capability_matrix WHERE actor_kind = $1
"""


def mirror_capability_row(actor_kind: str) -> CapabilityRow:
    """Build the fallback row: the packaged kora mirror, or nothing granted for other kinds."""
    if actor_kind != "kora":
        log.warning(
            "capability matrix has no rows for actor kind %s and the mirror covers only "
            "kora: nothing is granted (fail-closed)", actor_kind,
        )
        return CapabilityRow(actor_kind=actor_kind, granted=frozenset(), denied=frozenset())
    log.warning(
        "capability matrix has no rows for actor kind kora: using the packaged mirror "
        "(%d capabilities)", len(KORA_CAPABILITY_MIRROR),
    )
    return CapabilityRow.from_rows(
        actor_kind,
        ({"cap_name": cap, "granted": granted} for cap, granted in KORA_CAPABILITY_MIRROR.items()),
    )


async def read_capability_row(db: DB | Conn, actor_kind: str = "kora") -> CapabilityRow:
    """Return the actor kind's granted and denied capabilities."""
    try:
        async with translate_errors("reading the capability matrix"), acquire(db) as conn:
            rows = await conn.fetch(_SQL, actor_kind)
    except asyncpg.UndefinedTableError:
        rows = []
    if not rows:
        return mirror_capability_row(actor_kind)
    return CapabilityRow.from_rows(actor_kind, rows)
