"""Dump the whole schema the migrations leave as one deterministic SQL file.

``current.sql`` (next to the migrations) is that file: every schema, type, table,
sequence, view, function, trigger, policy and grant that ``0001``..``NNNN`` create, plus
the ``isokron.schema_migrations`` rows, so a database loaded from it is one that
:func:`isokron.schema.migrate` considers up to date (and whose checksums verify).

How: the real ``pg_dump --schema-only`` output, normalised. pg_dump already knows every
object kind, the dependency order and how to quote; rebuilding that from catalog queries
would mean re-implementing it, and a hand-written dumper silently misses whatever kind
of object it was not taught. The normalisation makes the text independent of the
server it came from and stable when regenerated:

* no version banner, no ``\\restrict`` keys (random per run), no ``Owner:`` in headers;
* ``ALTER ... OWNER TO <the dumping user>`` is dropped: objects belong to whoever loads
  the file, as they belong to whoever runs the migrations; other owners (the
  ``isokron_definer`` functions) are kept;
* a preamble creates the NOLOGIN roles the grants and owners name when the cluster does
  not have them yet (roles are cluster-wide; the migrations create them the same way),
  and makes a non-superuser loader a member of the owner roles (as ``0004`` does);
* pgvector stays optional, as in ``0003``: the ``CREATE EXTENSION vector`` and the
  ``embedding`` column are replaced by a call of ``isokron.enable_vectors_v1()`` at the
  end (so on a server with pgvector the column is last, not in its migrated position);
* ``SET transaction_timeout`` (PostgreSQL 17+ only) is dropped.

The text still depends on the pg_dump major version (and the server's deparsing): the
packaged file is generated with the embedded server's pg_dump. Which pg_dump runs: the
``pg_dump`` argument; else ``pg_dump`` on PATH, if it is not older than the server
(pg_dump refuses newer servers); else the one in the embedded server's install.

Regenerate the packaged file with ``isokron schema dump`` (a throwaway
embedded server, migrated from zero) or ``--dsn`` for a freshly migrated database.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

from ..errors import IsoKronError

__all__ = [
    "CURRENT_SCHEMA_PATH",
    "SchemaDumpError",
    "catalog_manifest",
    "dump_schema",
    "dump_fresh",
    "find_pg_dump",
    "normalise_dump",
    "write_current_schema",
]

#: the packaged one-file schema
CURRENT_SCHEMA_PATH = Path(__file__).parent.parent / "schema" / "current.sql"

REGENERATE_HINT = ("isokron schema dump --out isokron/schema/current.sql "
                   "--catalog-out isokron/schema/catalog.json")

_HEADER = f"""\
-- isokron: the whole schema its migrations leave, in one file.
-- Generated from a freshly migrated database; do not edit by hand. Regenerate with
--     {REGENERATE_HINT}
-- Load it into an empty database; roles are created when the cluster lacks them.
"""

_BANNER = re.compile(
    r"^--\n-- PostgreSQL database dump(?: complete)?\n--\n"
    r"|^-- Dumped (?:from database|by pg_dump) version .*\n",
    re.MULTILINE,
)
_RESTRICT = re.compile(r"^\\(?:un)?restrict .*\n", re.MULTILINE)
_OWNER_IN_HEADER = re.compile(r"^(-- Name: .*; Type: .*; Schema: [^;]*); Owner: .*$", re.MULTILINE)
_OWNER_LINE = re.compile(r"^ALTER .+ OWNER TO (.+);\n", re.MULTILINE)
_ROLE_REF = re.compile(r"^(?:GRANT .+ TO|REVOKE .+ FROM|ALTER .+ OWNER TO) (.+);$", re.MULTILINE)
_VECTOR_EXTENSION = re.compile(
    r"^--\n-- Name: (?:EXTENSION )?vector; Type: (?:EXTENSION|COMMENT); .*\n--\n\n"
    r"(?:CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA (\S+)"
    r"|COMMENT ON EXTENSION vector IS .*);\n",
    re.MULTILINE,
)
_TRANSACTION_TIMEOUT = re.compile(r"^SET transaction_timeout = .*;\n", re.MULTILINE)
#: functions that name pgvector's type: created by ``enable_vectors_v1()`` (0021)
VECTOR_FUNCTIONS = ("write_embeddings_v1", "store_embeddings_v1", "embedding_backlog_v1",
                    "embedding_counts_v1", "backfill_embeddings_v1", "drop_other_dims_v1",
                    "recall_vectors_v1")
_VECTOR_FUNCTION_BLOCK = re.compile(
    r"^--\n-- Name: (?:FUNCTION )?(?:" + "|".join(VECTOR_FUNCTIONS)
    + r")\(.*?(?=^--\n-- Name: |\Z)",
    re.MULTILINE | re.DOTALL,
)
#: the tables whose ``embedding`` column ``enable_vectors_v1()`` adds
VECTOR_TABLES = ("memory_records", "agent_messages")
_VECTOR_COLUMN_ACL = re.compile(
    r"^--\n-- Name: COLUMN (?:" + "|".join(VECTOR_TABLES)
    + r")\.embedding; Type: ACL; .*?(?=^--\n-- Name: |\Z)",
    re.MULTILINE | re.DOTALL,
)


class SchemaDumpError(IsoKronError):
    """pg_dump could not be found or run, or its output was not understood."""


def _ident(name: str) -> str:
    """Quote ``name`` the way pg_dump does (only when it must)."""
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _unident(text: str) -> str:
    if text.startswith('"') and text.endswith('"'):
        return text[1:-1].replace('""', '"')
    return text


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _roles_preamble(body: str, dump_user: str) -> str:
    roles = sorted({_unident(m.group(1).strip()) for m in _ROLE_REF.finditer(body)}
                   - {"PUBLIC", dump_user})
    owners = sorted({_unident(m.group(1).strip()) for m in _OWNER_LINE.finditer(body)}
                    - {dump_user})
    parts = ["-- Roles are cluster-wide: create the ones this schema names if they are missing."]
    for role in roles:
        parts.append(
            "DO $$\nBEGIN\n"
            f"    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {_literal(role)}) THEN\n"
            f"        CREATE ROLE {_ident(role)} NOLOGIN;\n"
            "    END IF;\nEXCEPTION\n"
            "    WHEN duplicate_object OR unique_violation THEN NULL;\nEND\n$$;\n"
        )
    if owners:
        parts.append("-- A loader that is not a superuser must be a member to hand objects over.")
        grants = "\n".join(
            f"        EXECUTE format('GRANT {_ident(role)} TO %I', current_user);"
            for role in owners)
        parts.append(
            "DO $$\nBEGIN\n"
            "    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN\n"
            f"{grants}\n"
            "    END IF;\nEND\n$$;\n"
        )
    return "\n".join(parts)


def normalise_dump(raw: str, *, dump_user: str, migrations: Sequence[tuple[str, str]]) -> str:
    """Turn ``pg_dump --schema-only`` text into the packaged, server-independent form.

    ``dump_user`` is the role that ran the migrations (its ownership is dropped);
    ``migrations`` are the ``(name, checksum)`` rows of ``isokron.schema_migrations``.
    """
    text = raw.replace("\r\n", "\n")
    text = _RESTRICT.sub("", text)
    text = _BANNER.sub("", text)
    text = _TRANSACTION_TIMEOUT.sub("", text)
    text = _OWNER_IN_HEADER.sub(r"\1", text)
    text = _OWNER_LINE.sub(
        lambda m: "" if _unident(m.group(1).strip()) == dump_user else m.group(0), text)

    vector_schema: str | None = None
    for match in _VECTOR_EXTENSION.finditer(text):
        vector_schema = match.group(1) or vector_schema
    text = _VECTOR_EXTENSION.sub("", text)
    has_vectors = vector_schema is not None
    if has_vectors:
        text = _VECTOR_FUNCTION_BLOCK.sub("", text)
        text = _VECTOR_COLUMN_ACL.sub("", text)
        vector = re.escape(f"{vector_schema}.vector")
        middle = re.compile(rf"^    embedding {vector},\n", re.MULTILINE)
        last = re.compile(rf",\n    embedding {vector}\n\);", re.MULTILINE)
        text, count = middle.subn("", text)
        text, more = last.subn("\n);", text)
        if count + more != len(VECTOR_TABLES) or f"{vector_schema}.vector" in text:
            raise SchemaDumpError(
                "the dump uses pgvector beyond the embedding columns and the functions of "
                "enable_vectors_v1(); teach isokron.ops.schema_dump.normalise_dump about it")

    body = re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"
    rows = ",\n".join(f"    ({_literal(name)}, {_literal(checksum)})"
                      for name, checksum in sorted(migrations))
    epilogue = [
        "-- pgvector is optional (0003, 0021): add the embedding columns and their functions "
        "when the server has it.",
        "RESET search_path;",
        "SELECT isokron.enable_vectors_v1();",
        "",
    ]
    if rows:
        epilogue += [
            "-- The migrations this schema is the result of: migrate() then has nothing to do.",
            "INSERT INTO isokron.schema_migrations (name, checksum) VALUES",
            rows + ";",
            "",
        ]
    return "\n".join([_HEADER, _roles_preamble(body, dump_user), body, *epilogue])


async def _pg_dump_major(exe: str) -> int | None:
    try:
        proc = await asyncio.create_subprocess_exec(
            exe, "--version", stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    except OSError:
        return None
    out, _ = await proc.communicate()
    match = re.search(r"\b(\d+)(?:\.\d+)?", out.decode(errors="replace"))
    if proc.returncode != 0 or match is None:
        return None
    return int(match.group(1))


def _embedded_pg_dump() -> str | None:
    try:
        from ..embedded import _bin_dir

        exe = _bin_dir() / "pg_dump"
    except Exception:  # the embedded extra is not installed (or moved)
        return None
    return str(exe) if exe.exists() else None


async def find_pg_dump(server_major: int, pg_dump: str | None = None) -> str:
    """Return the pg_dump to run against a server of major version ``server_major``.

    An explicit ``pg_dump`` is used as given; otherwise the first of PATH's ``pg_dump``
    and the embedded install's whose major version is at least the server's.
    """
    if pg_dump is not None:
        return pg_dump
    seen: list[str] = []
    for candidate in (shutil.which("pg_dump"), _embedded_pg_dump()):
        if candidate is None:
            continue
        major = await _pg_dump_major(candidate)
        seen.append(f"{candidate} (version {major})")
        if major is not None and major >= server_major:
            return candidate
    raise SchemaDumpError(
        f"no pg_dump of version {server_major} or newer found (tried: "
        f"{', '.join(seen) or 'none on PATH, no embedded install'}); pass pg_dump=")


def _libpq_dsn(dsn: str) -> tuple[str, dict[str, str]]:
    """Split the password out of a URI DSN (into PGPASSWORD, not the command line)."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgres", "postgresql") or parts.password is None:
        return dsn, {}
    host = parts.netloc.rsplit("@", 1)[-1]
    user = parts.netloc.rsplit("@", 1)[0].split(":", 1)[0]
    netloc = f"{user}@{host}" if user else host
    return urlunsplit(parts._replace(netloc=netloc)), {"PGPASSWORD": unquote(parts.password)}


async def dump_schema(dsn: str, *, pg_dump: str | None = None) -> str:
    """Return the normalised schema of the database at ``dsn`` (see the module docstring).

    ``dsn`` should be a database that holds isokron's migrations and nothing else.
    """
    conn = await asyncpg.connect(dsn)
    try:
        server_major = int(await conn.fetchval("SHOW server_version_num")) // 10000
        dump_user = str(await conn.fetchval("SELECT current_user"))
        migrations: list[tuple[str, str]] = []
        if await conn.fetchval("SELECT to_regclass('isokron.schema_migrations') IS NOT NULL"):
            migrations = [(r["name"], r["checksum"]) for r in await conn.fetch(
                "SELECT name, checksum FROM isokron.schema_migrations ORDER BY name")]
    finally:
        await conn.close()
    exe = await find_pg_dump(server_major, pg_dump)
    target, extra_env = _libpq_dsn(dsn)
    try:
        proc = await asyncio.create_subprocess_exec(
            exe, "--schema-only", "--no-password", "--encoding=UTF8", f"--dbname={target}",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env={**os.environ, **extra_env})
    except OSError as exc:
        raise SchemaDumpError(f"could not run {exe}: {exc}") from exc
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise SchemaDumpError(
            f"{exe} failed (exit {proc.returncode}): {err.decode(errors='replace').strip()}")
    return normalise_dump(out.decode("utf-8"), dump_user=dump_user, migrations=migrations)


async def write_current_schema(
    dsn: str, path: str | os.PathLike[str] = CURRENT_SCHEMA_PATH, *, pg_dump: str | None = None
) -> Path:
    """Dump the schema at ``dsn`` into ``path`` (the packaged ``current.sql`` by default)."""
    text = await dump_schema(dsn, pg_dump=pg_dump)
    out = Path(path)
    out.write_text(text, encoding="utf-8", newline="\n")
    return out


async def catalog_manifest(dsn: str) -> dict[str, Any]:
    """The manifest of what the migrations installed at ``dsn`` (see :mod:`.catalog`)."""
    from .catalog import manifest_from_facts
    from .doctor import _PRIVILEGES, RLS_TABLES
    from .doctor_checks import catalog_facts

    conn = await asyncpg.connect(dsn)
    try:
        return manifest_from_facts(await catalog_facts(conn, _PRIVILEGES, RLS_TABLES))
    finally:
        await conn.close()


async def dump_fresh(pg_dump: str | None, *, with_catalog: bool = False
                     ) -> tuple[str, dict[str, Any] | None]:
    """Migrate a throwaway embedded server from zero; dump it (and its manifest)."""
    from ..embedded import EmbeddedPostgres, dsn_with
    from ..schema import migrate

    async with EmbeddedPostgres(durable=False, run_migrations=False) as server:
        admin = await asyncpg.connect(server.dsn)
        try:
            await admin.execute("CREATE DATABASE isokron_schema_dump TEMPLATE template0")
        finally:
            await admin.close()
        dsn = dsn_with(server.dsn, database="isokron_schema_dump")
        await migrate(dsn)
        manifest = await catalog_manifest(dsn) if with_catalog else None
        return await dump_schema(dsn, pg_dump=pg_dump), manifest
