"""migrate() refuses when an applied migration's file changed, and can repair it."""

from __future__ import annotations

import logging

import asyncpg
import pytest

import isokron.schema as schema
from isokron.errors import InvalidInputError, MigrationChecksumError
from isokron.schema import available_migrations, checksum_problems, migrate, migration_checksum

EDITED = "0006_store_functions"
LAST = available_migrations()[-1][0]


async def _recorded(dsn: str) -> dict[str, str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT name, checksum FROM isokron.schema_migrations")
        return {r["name"]: r["checksum"] for r in rows}
    finally:
        await conn.close()


async def _problems(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return await checksum_problems(conn)
    finally:
        await conn.close()


async def _execute(dsn: str, sql: str, *args: object) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


async def test_an_up_to_date_database_migrates_to_nothing_and_has_no_problems(db):
    """A fresh migrate on an up-to-date database returns [] and checksum_problems is empty."""
    assert await migrate(db.dsn) == []
    assert await _problems(db.dsn) == []


async def test_checksum_problems_is_empty_without_isokron(empty_db):
    """checksum_problems on a database without isokron reports nothing."""
    assert await _problems(empty_db.dsn) == []


async def test_an_edited_applied_migration_is_refused_and_nothing_is_applied(empty_db):
    """A changed checksum stops migrate before any pending migration, naming the file."""
    before_last = available_migrations()[-2][0]
    await migrate(empty_db.dsn, target=before_last)
    await _execute(empty_db.dsn,
                   "UPDATE isokron.schema_migrations SET checksum = 'x' WHERE name = $1", EDITED)
    with pytest.raises(MigrationChecksumError) as refused:
        await migrate(empty_db.dsn)
    message = str(refused.value)
    assert f"{EDITED}.sql" in message
    assert migration_checksum(dict(available_migrations())[EDITED])[:12] in message
    assert f"repair_checksums=({EDITED!r},)" in message
    assert LAST not in await _recorded(empty_db.dsn)
    problems = await _problems(empty_db.dsn)
    assert len(problems) == 1 and f"{EDITED}.sql" in problems[0]


async def test_an_edited_packaged_file_is_refused(db, monkeypatch):
    """A packaged migration whose text changed since it ran is refused with both checksums."""
    recorded = (await _recorded(db.dsn))[EDITED]
    edited = [(name, sql + "\n-- edited\n" if name == EDITED else sql)
              for name, sql in available_migrations()]
    monkeypatch.setattr(schema, "available_migrations", lambda: edited)
    with pytest.raises(MigrationChecksumError, match=f"{EDITED}.sql") as refused:
        await migrate(db.dsn)
    assert recorded[:12] in str(refused.value)
    assert migration_checksum(dict(edited)[EDITED])[:12] in str(refused.value)


async def test_repair_checksums_records_the_file_and_then_migrates_clean(empty_db, caplog):
    """repair_checksums=(name,) records the packaged checksum, warns, applies the rest."""
    before_last = available_migrations()[-2][0]
    await migrate(empty_db.dsn, target=before_last)
    await _execute(empty_db.dsn,
                   "UPDATE isokron.schema_migrations SET checksum = 'x' WHERE name = $1", EDITED)
    with caplog.at_level(logging.WARNING, logger="isokron.schema"):
        assert await migrate(empty_db.dsn, repair_checksums=(EDITED,)) == [LAST]
    assert any(EDITED in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)
    assert (await _recorded(empty_db.dsn))[EDITED] == migration_checksum(
        dict(available_migrations())[EDITED])
    assert await migrate(empty_db.dsn) == []
    assert await _problems(empty_db.dsn) == []


async def test_an_unknown_repair_name_is_refused_before_any_change(empty_db):
    """repair_checksums with a name the package lacks is an InvalidInputError naming it."""
    with pytest.raises(InvalidInputError, match="0099_nope"):
        await migrate(empty_db.dsn, repair_checksums=("0099_nope",))
    with pytest.raises(InvalidInputError, match="migration names"):
        await migrate(empty_db.dsn, repair_checksums="all")
    conn = await asyncpg.connect(empty_db.dsn)
    try:
        assert await conn.fetchval("SELECT to_regnamespace('isokron') IS NULL")
    finally:
        await conn.close()


async def test_an_applied_migration_missing_from_the_package_is_reported(db):
    """A recorded migration the package does not have is refused and reported by name."""
    await _execute(db.dsn, "INSERT INTO isokron.schema_migrations (name, checksum) "
                           "VALUES ('0999_from_the_future', 'abc')")
    with pytest.raises(MigrationChecksumError, match="0999_from_the_future.sql") as refused:
        await migrate(db.dsn)
    assert refused.value.missing == ["0999_from_the_future"]
    problems = await _problems(db.dsn)
    assert len(problems) == 1 and "does not have it" in problems[0]
