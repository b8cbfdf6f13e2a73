"""Fixtures for the integration suites (run with the ``integrations-test`` extra):
the same real PostgreSQL fixtures as ``tests/`` (embedded, or ``ISOKRON_TEST_DSN``)."""

from tests.conftest import (  # noqa: F401  (pytest finds fixtures by name)
    cluster,
    db,
    owner,
    runtime_pool,
    seeded,
    sweeper_pool,
)
