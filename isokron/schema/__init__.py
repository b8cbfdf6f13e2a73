"""Apply isokron's numbered SQL migrations, once, under an advisory lock."""

from __future__ import annotations

import hashlib
from importlib import resources

import asyncpg

from ..errors import InvalidInputError
from ..pool import Conn, acquire

__all__ = ["MIGRATION_LOCK_KEY", "available_migrations", "migrate"]

#: pg_advisory_lock key: the first 8 bytes of sha256("isokron.schema"), as a signed int.
MIGRATION_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"isokron.schema").digest()[:8], "big", signed=True
)

_BOOTSTRAP = """
CREATE SCHEMA IF NOT EXISTS isokron;
CREATE TABLE IF NOT EXISTS isokron.schema_migrations (
    name       text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""


def available_migrations() -> list[tuple[str, str]]:
    """Return ``(name, sql)`` for every packaged migration, in apply order."""
    folder = resources.files(__package__)
    items = [
        (entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(items)


async def _migrate_connection(conn: Conn, target: str | None) -> list[str]:
    applied: list[str] = []
    known = [name for name, _ in available_migrations()]
    if target is not None and target not in known:
        raise InvalidInputError(f"unknown migration {target!r}; known: {', '.join(known)}")
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await conn.execute(_BOOTSTRAP)
        done = {r["name"] for r in await conn.fetch("SELECT name FROM isokron.schema_migrations")}
        for name, sql in available_migrations():
            if name in done:
                continue
            if target is not None and name > target:
                break
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO isokron.schema_migrations (name, checksum) VALUES ($1, $2)",
                    name,
                    hashlib.sha256(sql.encode()).hexdigest(),
                )
            applied.append(name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    return applied


async def migrate(
    dsn_or_pool: str | asyncpg.Pool | asyncpg.Connection, *, target: str | None = None
) -> list[str]:
    """Apply pending migrations (up to and including ``target``) and return their names.

    Returns an empty list when the database is up to date. Each migration runs in its
    own transaction, so an existing database upgrades in place with its rows kept.
    """
    if isinstance(dsn_or_pool, str):
        conn = await asyncpg.connect(dsn_or_pool)
        try:
            return await _migrate_connection(conn, target)
        finally:
            await conn.close()
    async with acquire(dsn_or_pool) as borrowed:
        return await _migrate_connection(borrowed, target)
