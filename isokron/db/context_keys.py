"""The operator's context keys: install, list and remove the keys the database verifies
signed tenant contexts with (``isokron context-key``; the schema owner's connection).

The database stores a key's fingerprint and its two HMAC pads, in a table only the
``isokron_context`` role reads; the key itself never leaves the operator's environment.
Two keys may be installed at once: that is how a key is rotated (install the new one,
switch the applications, remove the old one).
"""

from __future__ import annotations

import logging
from datetime import datetime

from ..errors import ConfigError, IsoKronError
from ..guard.context_token import hmac_pads, key_fingerprint
from ..pool import DB, acquire, translate_errors

__all__ = ["check_context_mode", "context_mode", "install_context_key", "list_context_keys",
           "remove_context_key"]

log = logging.getLogger("isokron.core")


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


async def check_context_mode(db: DB, signing: bool) -> None:
    """Refuse a pool whose signing does not match the database (one round trip, when the
    pool opens): either way every read would silently find nothing. A database too old to
    know (before migration 0022) is logged, not refused."""
    try:
        mode = await context_mode(db)
    except IsoKronError as exc:
        log.warning("cannot tell whether tenant contexts must be signed: %s", exc)
        return
    if mode == "signed" and not signing:
        raise ConfigError("the database requires signed tenant contexts (a context key is "
                          "installed): set signed_context: true and context_signing_key",
                          key="signed_context")
    if mode == "plain" and signing:
        raise ConfigError("signed_context is true but the database has no context key: run "
                          "`isokron context-key set --dsn OWNER_DSN` with the same key",
                          key="signed_context")
