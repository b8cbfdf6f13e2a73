"""Scope every store and reader transaction to one tenant: the only place settings are set.

Row-level security keys every isokron table on transaction-local settings
(``set_config(name, value, true)``), never session-level ``SET``, which would leak
across pooled connections. Each helper opens (or joins) a transaction, sets the
settings in it, and translates driver failures as :func:`~isokron.pool.translate_errors`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from ..pool import (
    CONTEXT_TOKEN_SETTING,
    DB,
    OWN_TRANSACTION,
    Conn,
    in_transaction,
    translate_errors,
)

__all__ = [
    "TENANT_SETTING",
    "lean_token",
    "signed_call",
    "USER_SETTING",
    "WORKSPACE_SETTING",
    "recall_scope",
    "tenant_scope",
    "workspace_scope",
]

WORKSPACE_SETTING = "app.current_workspace_id"
TENANT_SETTING = "app.current_tenant_id"
USER_SETTING = "app.current_user_id"


@asynccontextmanager
async def workspace_scope(db: DB | Conn, workspace_id: str, what: str) -> AsyncIterator[Conn]:
    """Yield a connection in a transaction that RLS scopes to ``workspace_id``."""
    async with translate_errors(what), in_transaction(
        db, {WORKSPACE_SETTING: workspace_id}
    ) as conn:
        yield conn


@asynccontextmanager
async def tenant_scope(
    db: DB | Conn, tenant_id: str, user_id: str, what: str, *, token: str | None = None
) -> AsyncIterator[Conn]:
    """Yield a connection in a transaction that RLS scopes to ``tenant_id`` and ``user_id``.

    ``token``: a gateway's signed context for them, sent as it is (with a context key
    installed the database reads only the token; the plain settings serve a database
    without one)."""
    settings = {TENANT_SETTING: tenant_id, USER_SETTING: user_id}
    if token is not None:
        settings[CONTEXT_TOKEN_SETTING] = token
    async with translate_errors(what), in_transaction(db, settings) as conn:
        yield conn


@asynccontextmanager
async def recall_scope(
    db: DB | Conn, workspace_id: str, user_id: str | None, what: str
) -> AsyncIterator[Conn]:
    """Yield a connection scoped to ``workspace_id``'s memory and, with ``user_id``, to that
    user's conversations in the workspace (the tenant): what recall may read."""
    settings = {WORKSPACE_SETTING: workspace_id}
    if user_id is not None:
        settings |= {TENANT_SETTING: workspace_id, USER_SETTING: user_id}
    async with translate_errors(what), in_transaction(db, settings) as conn:
        yield conn


def signed_call(sql: str) -> str:
    """Give a lean statement (one call ``isokron.f($1, …)`` that sets the plain settings
    from its arguments, run outside a transaction of ours) a last parameter: the signed
    context, set by ``isokron.in_context_v1`` around ``$1`` before ``f`` runs. Pass
    :func:`lean_token` for it (None: nothing is set)."""
    last = max(int(n) for n in re.findall(r"\$(\d+)", sql))
    if "($1," not in sql:
        raise ValueError(f"not a lean call of isokron.f($1, ...): {sql!r}")
    return sql.replace("($1,", f"(isokron.in_context_v1(${last + 1}, $1),", 1)


def lean_token(conn: Conn, settings: Mapping[str, str], *,
               token: str | None = None) -> str | None:
    """The signed context for a lean statement on ``conn`` scoped to ``settings`` (the
    plain names): ``token`` when a gateway gave one, else the pool's signature (added to
    what a surrounding transaction of ours signed), else None (the pool does not sign)."""
    if token is not None:
        return token
    signer = getattr(conn, "context_signer", None)
    if signer is None:
        return None
    signed: dict[str, str] = getattr(conn, "signed_settings", {})
    outer = ({k: v for k, v in signed.items() if k != OWN_TRANSACTION}
             if conn.is_in_transaction() and OWN_TRANSACTION in signed else {})
    return str(signer.token_for(outer | dict(settings)))
