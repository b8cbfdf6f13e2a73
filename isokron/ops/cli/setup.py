"""``isokron setup``: migrate a server and create its runtime and operator logins.

Idempotent: the migrations already applied are skipped, a login that exists keeps its
password (``--reset-passwords`` generates new ones; ``$ISOKRON_RUNTIME_PASSWORD`` /
``$ISOKRON_OPERATOR_PASSWORD`` set them). A password set here is printed once, in the DSNs
and the ``export`` lines, and stored nowhere else.

The runtime login (default ``isokron_app``) is a member of ``isokron_runtime``: agent hosts,
under row-level security. The operator login (default ``isokron_operator``) is a member of
``isokron_sweeper``: ``isokron sweep``, ``memory export`` and ``memory purge-workspace``.
What only the schema's owner may do (migrate, ``memory import``, ``embed --backfill``,
quotas, context keys, workspaces, charters, policies) takes the owner's DSN.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs

from ...db.logins import LoginOutcome, check_login_name, check_password
from ...embedded import dsn_with
from ...errors import InvalidInputError, NotOwnedError
from ...guard.dsn import redact_dsn
from ._args import Refused, dsn

__all__ = ["DSNs", "cmd_setup", "print_dsns"]

RUNTIME_ENV = "ISOKRON_RUNTIME_PASSWORD"
OPERATOR_ENV = "ISOKRON_OPERATOR_PASSWORD"


@attrs.frozen(kw_only=True)
class DSNs:
    """The three DSNs a server hands out, and which of them lack their password."""

    owner: str
    runtime: str
    operator: str
    #: logins whose password was not set now (their DSN carries none)
    unshown: tuple[str, ...] = ()


def login_dsn(owner: str, outcome: LoginOutcome) -> str:
    """The owner's DSN with the login's name and the password set now (or none): the
    owner's password is never carried over, in the URL or in a ``password=`` parameter."""
    parts = urlsplit(dsn_with(owner, user=outcome.role, password=outcome.password or ""))
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k.lower() not in ("password", "user")]
    return urlunsplit(parts._replace(query=urlencode(query, safe="/")))


def print_dsns(dsns: DSNs) -> None:
    """Print the DSNs and the ``export`` lines to paste (the owner's with its password
    masked, and no export line for it then)."""
    owner_has_password = redact_dsn(dsns.owner) != dsns.owner
    shown = redact_dsn(dsns.owner)
    print(f"owner DSN:    {shown}")
    print(f"runtime DSN:  {dsns.runtime}")
    print(f"operator DSN: {dsns.operator}")
    print()
    if owner_has_password:
        print("# ISOKRON_OWNER_DSN: the owner DSN you passed (its password is not repeated)")
    else:
        print(f"export ISOKRON_OWNER_DSN={shlex.quote(dsns.owner)}")
    print(f"export ISOKRON_DSN={shlex.quote(dsns.runtime)}")
    print(f"export ISOKRON_OPERATOR_DSN={shlex.quote(dsns.operator)}")
    for role in dsns.unshown:
        print(f"# {role}: password unchanged, so not shown: add it to the DSN, or rerun "
              f"isokron setup with --reset-passwords")


def _env_password(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None:
        return None
    try:
        return check_password(value, f"${name}")
    except InvalidInputError as exc:
        raise Refused(str(exc)) from None


def _report(kind: str, outcome: LoginOutcome, source: str | None) -> str:
    if outcome.action == "created":
        how = f"password from ${source}" if source else "password generated"
        return f"{kind} login {outcome.role} ({outcome.member_of}): created, {how}"
    if outcome.action == "password set":
        how = f"from ${source}" if source else "generated (--reset-passwords)"
        return f"{kind} login {outcome.role} ({outcome.member_of}): exists, password set {how}"
    return f"{kind} login {outcome.role} ({outcome.member_of}): exists, password unchanged"


async def run_setup(owner: str, runtime_login: str, operator_login: str, *,
                    reset: bool) -> tuple[list[str], Sequence[str], DSNs]:
    """Migrate, ensure both logins; return the migrations applied, the report lines, the
    DSNs."""
    import asyncpg

    from ...db.logins import ensure_login, may_create_roles
    from ...schema import migrate

    runtime_pw, operator_pw = _env_password(RUNTIME_ENV), _env_password(OPERATOR_ENV)
    try:
        conn = await asyncpg.connect(owner)
    except asyncpg.InsufficientPrivilegeError as exc:
        raise NotOwnedError(f"{exc} (setup needs a superuser's DSN: the owner)") from None
    try:
        if not await may_create_roles(conn):
            raise NotOwnedError(f"{conn.get_settings().session_authorization!r} may not "
                                f"create roles: setup needs the owner's DSN (a superuser, "
                                f"or a role with CREATEROLE that may create schemas)")
        applied = await migrate(conn)
        runtime = await ensure_login(conn, runtime_login, "isokron_runtime", runtime_pw,
                                     reset=reset)
        operator = await ensure_login(conn, operator_login, "isokron_sweeper", operator_pw,
                                      reset=reset)
    finally:
        await conn.close()
    lines = [_report("runtime", runtime, RUNTIME_ENV if runtime_pw else None),
             _report("operator", operator, OPERATOR_ENV if operator_pw else None)]
    unshown = tuple(o.role for o in (runtime, operator) if o.password is None)
    return applied, lines, DSNs(owner=owner, runtime=login_dsn(owner, runtime),
                                operator=login_dsn(owner, operator), unshown=unshown)


def check_logins(runtime_login: str, operator_login: str) -> None:
    """Refuse (exit 2) a bad login name, or one name for both logins."""
    try:
        check_login_name(runtime_login)
        check_login_name(operator_login)
    except InvalidInputError as exc:
        raise Refused(str(exc)) from None
    if runtime_login == operator_login:
        raise Refused(f"the runtime and operator logins must differ, both are "
                      f"{runtime_login!r}")


def cmd_setup(args: argparse.Namespace) -> int:
    """Migrate, create or keep the logins, print the DSNs and export lines."""
    owner = dsn(args)
    check_logins(args.runtime_login, args.operator_login)
    applied, lines, dsns = asyncio.run(run_setup(owner, args.runtime_login,
                                                 args.operator_login,
                                                 reset=args.reset_passwords))
    print(f"schema: applied {len(applied)} migration(s), {applied[0]} … {applied[-1]}"
          if applied else "schema: up to date")
    for line in lines:
        print(line)
    print()
    print_dsns(dsns)
    return 0
