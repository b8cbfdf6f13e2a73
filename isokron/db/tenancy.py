"""Scope every store and reader transaction to one tenant: the only place settings are set.

Row-level security keys every isokron table on transaction-local settings
(``set_config(name, value, true)``), never session-level ``SET``, which would leak
across pooled connections. Each helper opens (or joins) a transaction, sets the
settings in it, and translates driver failures as :func:`~isokron.pool.translate_errors`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..pool import CONTEXT_TOKEN_SETTING, DB, Conn, in_transaction, translate_errors

__all__ = [
    "TENANT_SETTING",
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
