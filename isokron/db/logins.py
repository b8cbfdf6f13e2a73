"""Create the LOGIN roles ``isokron setup`` and ``isokron up`` hand out (as the owner).

Two kinds of login, each a member of one of the NOLOGIN group roles the migrations
create: the *runtime* login (``isokron_runtime``: agent hosts; row-level security applies
to it) and the *operator* login (``isokron_sweeper``: ``isokron sweep``, ``memory export``,
``memory purge-workspace``). Neither may be a superuser or BYPASSRLS: an existing role that
is either is refused, never changed. A login that exists keeps its password unless a new
one is passed.
"""

from __future__ import annotations

import re
import secrets

import attrs

from ..errors import InvalidInputError
from ..guard.validate import shown
from ..pool import Conn

__all__ = ["GROUPS", "LoginOutcome", "check_login_name", "check_password", "ensure_login",
           "may_create_roles"]

#: the group roles a login made here may join
GROUPS = ("isokron_runtime", "isokron_sweeper")
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_RESERVED = ("isokron_runtime", "isokron_sweeper", "isokron_definer", "isokron_context")
MAX_PASSWORD_CHARS = 1000


@attrs.frozen(kw_only=True)
class LoginOutcome:
    """What :func:`ensure_login` did (``created``, ``password set`` or ``unchanged``) and
    the password it set, if any (``generated`` when made here)."""

    role: str
    action: str
    member_of: str
    password: str | None
    generated: bool


def check_login_name(value: str) -> str:
    """Return ``value`` if it is a plain lower-case role name that is not a group role."""
    if not isinstance(value, str) or _NAME.fullmatch(value) is None:
        raise InvalidInputError(f"login name must match [a-z_][a-z0-9_]* (at most 63 "
                                f"characters), got {shown(value)}")
    if value in _RESERVED or value.startswith("pg_"):
        raise InvalidInputError(f"login name {value!r} is reserved (a group role of isokron "
                                f"or of PostgreSQL)")
    return value


def check_password(value: str, source: str) -> str:
    """Return ``value`` if it can be a password (1..1000 characters, no NUL, no line break)."""
    if not value or len(value) > MAX_PASSWORD_CHARS or any(c in value for c in "\x00\r\n"):
        raise InvalidInputError(f"{source} must be 1..{MAX_PASSWORD_CHARS} characters without "
                                f"NUL or line breaks (got {len(value)} characters)")
    return value


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


async def may_create_roles(conn: Conn) -> bool:
    """Tell whether the connected role may create the logins (superuser or CREATEROLE)."""
    return bool(await conn.fetchval("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE "
                                    "rolname = current_user"))


async def ensure_login(conn: Conn, role: str, member_of: str, password: str | None = None,
                       *, reset: bool = False) -> LoginOutcome:
    """Make ``role`` a LOGIN member of ``member_of``.

    A missing role is created with ``password`` (or a generated one). An existing role
    gets ``password`` when one is passed, a generated one when ``reset``, and otherwise
    keeps its own. An existing superuser or BYPASSRLS role raises InvalidInputError and
    nothing changes.
    """
    check_login_name(role)
    if member_of not in GROUPS:
        raise InvalidInputError(f"member_of must be one of {', '.join(GROUPS)}, got "
                                f"{shown(member_of)}")
    if password is not None:
        check_password(password, f"the password of {role}")
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = $1::name",
            role)
        generated = password is None and (row is None or reset)
        if generated:
            password = secrets.token_urlsafe(24)
        if row is None:
            assert password is not None
            await conn.execute(f"CREATE ROLE {_ident(role)} LOGIN INHERIT NOSUPERUSER "
                               f"NOBYPASSRLS PASSWORD {_literal(password)}")
            action = "created"
        else:
            if row["rolsuper"] or row["rolbypassrls"]:
                raise InvalidInputError(
                    f"role {role!r} exists and is a superuser or BYPASSRLS: row-level "
                    f"security would not apply to it; choose another login name")
            changes = [] if row["rolcanlogin"] else ["LOGIN"]
            if password is not None:
                changes.append(f"PASSWORD {_literal(password)}")
            if changes:
                await conn.execute(f"ALTER ROLE {_ident(role)} {' '.join(changes)}")
            action = "password set" if password is not None else "unchanged"
        await conn.execute(f"GRANT {member_of} TO {_ident(role)}")
    return LoginOutcome(role=role, action=action, member_of=member_of, password=password,
                        generated=generated)
