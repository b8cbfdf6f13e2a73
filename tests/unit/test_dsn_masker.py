"""The one DSN masker: no password survives, whatever shape the DSN has."""

from __future__ import annotations

import pytest

from isokron.guard.dsn import dsn_secrets, redact_dsn


@pytest.mark.parametrize("dsn", [
    "postgresql://alice:s3cret-pw@db:5432/app",
    "postgresql://:s3cret-pw@db/app",
    "other?l://alice:s3cret-pw@db/app",          # a malformed scheme: urlsplit keeps no netloc
    "postgresql://alice:s3cret-pw@db:99999999/app",  # a port urlsplit refuses
    "host=db user=alice password=s3cret-pw dbname=app",
    "host=db password='s3cret-pw' dbname=app",
    "postgresql://alice@db/app?password=s3cret-pw",
])
def test_no_password_survives_the_masker(dsn):
    masked = redact_dsn(dsn)
    assert "s3cret-pw" not in masked and "***" in masked
    assert "s3cret-pw" in dsn_secrets(dsn)


def test_a_dsn_without_a_password_is_unchanged():
    assert redact_dsn("postgresql://alice@db/app") == "postgresql://alice@db/app"
