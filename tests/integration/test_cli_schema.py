"""Pin the CLI's schema commands: checksums in migrate and the doctor, and schema dump."""

from __future__ import annotations

import asyncio
from importlib import resources

from isokron.ops.cli import main

EDITED = "0006_store_functions"


async def _tamper(owner) -> None:
    await owner.execute("UPDATE isokron.schema_migrations SET checksum = 'x' WHERE name = $1",
                        EDITED)


async def test_migrate_refuses_an_edited_migration_in_one_line(owner, db, capsys):
    """An applied migration whose file changed: exit 1, one line naming the file."""
    await _tamper(owner)
    code = await asyncio.to_thread(main, ["migrate", "--dsn", db.dsn])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1 and err.startswith("isokron migrate: ")
    assert f"{EDITED}.sql" in err and "repair" in err


async def test_migrate_repair_checksum_records_the_file(owner, db, capsys):
    """--repair-checksum NAME records the file's checksum; the next migrate is clean."""
    await _tamper(owner)
    code = await asyncio.to_thread(main, ["migrate", "--dsn", db.dsn,
                                          "--repair-checksum", EDITED])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"repaired the recorded checksum of {EDITED}" in out
    assert await owner.fetchval("SELECT checksum FROM isokron.schema_migrations WHERE name = $1",
                                EDITED) != "x"
    assert await asyncio.to_thread(main, ["migrate", "--dsn", db.dsn]) == 0
    assert "schema is up to date" in capsys.readouterr().out


async def test_migrate_refuses_an_unknown_repair_name(db, capsys):
    """A name that is no migration is refused, naming it."""
    code = await asyncio.to_thread(main, ["migrate", "--dsn", db.dsn,
                                          "--repair-checksum", "0099_nothing"])
    assert code == 1
    assert "'0099_nothing'" in capsys.readouterr().err


async def test_doctor_fails_on_an_edited_migration(owner, db, capsys):
    """The doctor names the migration whose file no longer matches its checksum."""
    await _tamper(owner)
    code = await asyncio.to_thread(main, ["doctor", "--dsn", db.dsn])
    out = capsys.readouterr().out
    assert code == 1
    assert "[FAIL] migration checksums:" in out and f"{EDITED}.sql" in out


async def test_doctor_passes_the_checksums_of_a_clean_database(db, capsys):
    """A database migrated from these files: the checksum check is ok."""
    await asyncio.to_thread(main, ["doctor", "--dsn", db.dsn])
    assert "[ok  ] migration checksums: every applied migration matches its file" in (
        capsys.readouterr().out)


async def test_doctor_as_the_runtime_role_warns_it_cannot_check(db, capsys):
    """The runtime role may not read schema_migrations: a warning, never a false ok."""
    await asyncio.to_thread(main, ["doctor", "--dsn", db.runtime_dsn])
    out = capsys.readouterr().out
    assert "migration checksums: cannot verify migration checksums" in out


async def test_schema_dump_of_a_migrated_database_is_the_packaged_schema(db, tmp_path, capsys):
    """`isokron schema dump --dsn` of a database migrated from zero writes current.sql."""
    out = tmp_path / "schema.sql"
    code = await asyncio.to_thread(main, ["schema", "dump", "--dsn", db.dsn, "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    text = out.read_text()
    assert text == (resources.files("isokron.schema") / "current.sql").read_text()
