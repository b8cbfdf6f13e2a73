"""`isokron setup`'s DSNs: a login's DSN never carries the owner's password."""

from __future__ import annotations

import pytest

from isokron.db.logins import LoginOutcome, check_login_name, check_password
from isokron.errors import InvalidInputError
from isokron.ops.cli.setup import DSNs, login_dsn, print_dsns


def _outcome(password: str | None) -> LoginOutcome:
    return LoginOutcome(role="isokron_app", action="created", member_of="isokron_runtime",
                        password=password, generated=password is not None)


def test_a_login_dsn_has_its_own_password_or_none():
    owner = "postgresql://postgres:s3cret@db:5432/isokron?sslmode=require&password=s3cret2"
    assert login_dsn(owner, _outcome("p w")) == (
        "postgresql://isokron_app:p%20w@db:5432/isokron?sslmode=require")
    assert login_dsn(owner, _outcome(None)) == (
        "postgresql://isokron_app@db:5432/isokron?sslmode=require")


def test_the_owner_password_is_not_repeated(capsys):
    print_dsns(DSNs(owner="postgresql://postgres:s3cret@db/isokron",
                    runtime="postgresql://isokron_app:rt@db/isokron",
                    operator="postgresql://isokron_operator@db/isokron",
                    unshown=("isokron_operator",)))
    out = capsys.readouterr().out
    assert "s3cret" not in out and "export ISOKRON_OWNER_DSN" not in out
    assert "export ISOKRON_DSN=postgresql://isokron_app:rt@db/isokron" in out
    assert "# isokron_operator: password unchanged" in out


@pytest.mark.parametrize("name", ["Bad", "1abc", "isokron_runtime", "pg_x", "a" * 64, "a-b"])
def test_bad_login_names(name):
    with pytest.raises(InvalidInputError):
        check_login_name(name)


@pytest.mark.parametrize("password", ["", "a\nb", "a\x00b", "x" * 1001])
def test_bad_passwords(password):
    with pytest.raises(InvalidInputError, match=r"\$X must be"):
        check_password(password, "$X")
