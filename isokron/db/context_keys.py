"""The operator's context keys: install, list and remove the keys the database verifies
signed tenant contexts with (``isokron context-key``; the schema owner's connection).

The database stores a key's fingerprint and its two HMAC pads, in a table only the
``isokron_context`` role reads; the key itself never leaves the operator's environment.
Two keys may be installed at once: that is how a key is rotated (install the new one,
switch the applications, remove the old one).
"""

from __future__ import annotations

from datetime import datetime

from ..guard.context_token import hmac_pads, key_fingerprint
from ..pool import DB, acquire, translate_errors

__all__ = ["context_mode", "install_context_key", "list_context_keys", "remove_context_key"]


async def install_context_key(db: DB, key: str) -> tuple[str, bool]:
    """Install ``key``; return its fingerprint and whether it was new (the schema owner)."""
    inner, outer = hmac_pads(key)
    fingerprint = key_fingerprint(key)
    async with translate_errors("installing a context key"), acquire(db) as conn:
        added = await conn.fetchval("SELECT isokron.install_context_key_v1($1, $2, $3)",
                                    fingerprint, inner, outer)
    return fingerprint, bool(added)


async def remove_context_key(db: DB, fingerprint: str) -> bool:
    """Remove the key with ``fingerprint``; return whether there was one (the schema owner).
    Removing the last key turns signed contexts off: the plain settings count again."""
    async with translate_errors("removing a context key"), acquire(db) as conn:
        return bool(await conn.fetchval("SELECT isokron.remove_context_key_v1($1)",
                                        fingerprint))


async def list_context_keys(db: DB) -> list[tuple[str, datetime]]:
    """The installed keys as (fingerprint, installed at), oldest first (the schema owner)."""
    async with translate_errors("listing context keys"), acquire(db) as conn:
        rows = await conn.fetch("SELECT fingerprint, created_at FROM isokron.context_keys_v1()")
    return [(r["fingerprint"], r["created_at"]) for r in rows]


async def context_mode(db: DB) -> str:
    """``"signed"`` when a context key is installed, else ``"plain"`` (any role may ask)."""
    async with translate_errors("reading the context mode"), acquire(db) as conn:
        return str(await conn.fetchval("SELECT isokron.context_mode_v1()"))
