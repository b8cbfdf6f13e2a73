"""Apply isokron's numbered SQL migrations, once, under an advisory lock.

Every applied migration's sha256 is recorded in ``isokron.schema_migrations`` and
compared with the packaged file before anything new is applied: a migration edited after
it ran (or one the package no longer has) makes :func:`migrate` refuse with
:class:`~isokron.errors.MigrationChecksumError`. ``current.sql`` in this folder is the
whole schema the migrations leave, in one file (see :mod:`isokron.ops.schema_dump`); it is
not a migration.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from importlib import resources

import asyncpg

from ..errors import InvalidInputError, MigrationChecksumError
from ..pool import Conn, acquire

__all__ = [
    "MIGRATION_LOCK_KEY",
    "available_migrations",
    "checksum_problems",
    "migrate",
    "migration_checksum",
]

log = logging.getLogger(__name__)

#: pg_advisory_lock key: the first 8 bytes of sha256("isokron.schema"), as a signed int.
MIGRATION_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"isokron.schema").digest()[:8], "big", signed=True
)

#: a migration file: four digits, an underscore, a name (``current.sql`` is not one)
_MIGRATION_FILE = re.compile(r"^\d{4}_[A-Za-z0-9_]+\.sql$")
_SHORT = 12

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
        if _MIGRATION_FILE.match(entry.name)
    ]
    return sorted(items)


def migration_checksum(sql: str) -> str:
    """Return the checksum recorded for a migration's text (hex sha256 of its UTF-8)."""
    return hashlib.sha256(sql.encode()).hexdigest()


def _mismatch_line(name: str, recorded: str, packaged: str) -> str:
    return (
        f"{name}.sql was changed after it was applied: the database recorded checksum "
        f"{recorded[:_SHORT]}, the packaged file has {packaged[:_SHORT]}. Restore the file "
        "as it was applied and put the change in a new migration; if the database already "
        "has the edited schema (or the edit is only comments/whitespace), record the file's "
        f"checksum with migrate(..., repair_checksums=({name!r},))"
    )


def _missing_line(name: str) -> str:
    return (
        f"{name}.sql was applied to this database but this isokron package does not have "
        "it: the database was migrated by another (newer?) isokron version; install that "
        "version, or delete its isokron.schema_migrations row if you know the migration "
        "was removed on purpose"
    )


def _problems(
    recorded: dict[str, str], packaged: dict[str, str], repair: frozenset[str] = frozenset()
) -> tuple[list[str], list[str], list[str]]:
    """Return (problem lines, names with a repairable mismatch, names that are missing)."""
    lines: list[str] = []
    to_repair: list[str] = []
    missing: list[str] = []
    for name in sorted(recorded):
        if name not in packaged:
            missing.append(name)
            lines.append(_missing_line(name))
            continue
        current = migration_checksum(packaged[name])
        if recorded[name] == current:
            continue
        if name in repair:
            to_repair.append(name)
        else:
            lines.append(_mismatch_line(name, recorded[name], current))
    return lines, to_repair, missing


async def checksum_problems(conn: Conn) -> list[str]:
    """Describe, one line each, every applied migration whose file changed or is gone.

    Empty when every checksum matches or isokron is not installed in the database. The
    connection's role needs SELECT on ``isokron.schema_migrations`` (the schema owner
    does; ``isokron_runtime`` does not): without it the one line returned says so.
    """
    exists = await conn.fetchval("SELECT to_regclass('isokron.schema_migrations') IS NOT NULL")
    if not exists:
        return []
    try:
        rows = await conn.fetch("SELECT name, checksum FROM isokron.schema_migrations")
    except asyncpg.InsufficientPrivilegeError:
        role = await conn.fetchval("SELECT current_user")
        return [f"cannot verify migration checksums: role {role!r} may not read "
                "isokron.schema_migrations (check as the schema owner)"]
    recorded = {r["name"]: r["checksum"] for r in rows}
    lines, _, _ = _problems(recorded, dict(available_migrations()))
    return lines


def _repair_names(repair_checksums: Iterable[str], known: list[str]) -> frozenset[str]:
    if isinstance(repair_checksums, str):
        raise InvalidInputError(
            "repair_checksums takes migration names, e.g. ('0006_store_functions',), "
            f"not the string {repair_checksums!r}")
    names = frozenset(repair_checksums)
    unknown = sorted(n for n in names if n not in known)
    if unknown:
        raise InvalidInputError(
            f"repair_checksums: unknown migration {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(known)}")
    return names


async def _migrate_connection(
    conn: Conn, target: str | None, repair_checksums: Iterable[str]
) -> list[str]:
    applied: list[str] = []
    migrations = available_migrations()
    known = [name for name, _ in migrations]
    if target is not None and target not in known:
        raise InvalidInputError(f"unknown migration {target!r}; known: {', '.join(known)}")
    repair = _repair_names(repair_checksums, known)
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await conn.execute(_BOOTSTRAP)
        recorded = {r["name"]: r["checksum"] for r in await conn.fetch(
            "SELECT name, checksum FROM isokron.schema_migrations")}
        packaged = dict(migrations)
        lines, to_repair, missing = _problems(recorded, packaged, repair)
        if lines:
            raise MigrationChecksumError(lines, missing=missing)
        for name in to_repair:
            checksum = migration_checksum(packaged[name])
            await conn.execute(
                "UPDATE isokron.schema_migrations SET checksum = $2 WHERE name = $1",
                name, checksum)
            log.warning("migration %s: recorded checksum %s replaced by the packaged file's %s "
                        "(repair_checksums)", name, recorded[name][:_SHORT], checksum[:_SHORT])
        for name, sql in migrations:
            if name in recorded:
                continue
            if target is not None and name > target:
                break
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO isokron.schema_migrations (name, checksum) VALUES ($1, $2)",
                    name,
                    migration_checksum(sql),
                )
            applied.append(name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    return applied


async def migrate(
    dsn_or_pool: str | asyncpg.Pool | asyncpg.Connection,
    *,
    target: str | None = None,
    repair_checksums: Iterable[str] = (),
) -> list[str]:
    """Apply pending migrations (up to and including ``target``) and return their names.

    Returns an empty list when the database is up to date. Each migration runs in its
    own transaction, so an existing database upgrades in place with its rows kept.

    First every applied migration's recorded checksum is compared with the packaged
    file: a changed file, or an applied migration the package lacks, raises
    :class:`~isokron.errors.MigrationChecksumError` and nothing is applied.
    ``repair_checksums`` names migrations (e.g. ``("0006_store_functions",)``) whose
    packaged checksum is recorded instead of refusing, each with a WARNING log; an
    unknown name is an :class:`~isokron.errors.InvalidInputError`.
    """
    if isinstance(dsn_or_pool, str):
        conn = await asyncpg.connect(dsn_or_pool)
        try:
            return await _migrate_connection(conn, target, repair_checksums)
        finally:
            await conn.close()
    async with acquire(dsn_or_pool) as borrowed:
        return await _migrate_connection(borrowed, target, repair_checksums)
