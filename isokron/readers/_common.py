"""Share the helpers every reader uses: workspace transactions, LIKE escaping, limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..errors import InvalidInputError
from ..pool import DB, Conn, in_transaction, translate_errors

WORKSPACE_GUC = "app.current_workspace_id"


@asynccontextmanager
async def workspace_conn(db: DB | Conn, workspace_id: str, what: str) -> AsyncIterator[Conn]:
    """Yield a connection in a transaction scoped to ``workspace_id`` (for RLS reads)."""
    async with translate_errors(what), in_transaction(db, {WORKSPACE_GUC: workspace_id}) as conn:
        yield conn


def escape_like(value: str) -> str:
    r"""Escape LIKE wildcards (``%``, ``_``) and the escape char ``\`` in ``value``."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def check_limit(limit: int, name: str = "limit") -> int:
    """Return ``limit`` if it is a positive int, else raise InvalidInputError naming it."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {limit!r}")
    return limit


def check_workspace(workspace_id: str) -> str:
    """Return ``workspace_id`` if it is a non-empty string, else raise InvalidInputError."""
    if not isinstance(workspace_id, str) or not workspace_id.strip():
        raise InvalidInputError(f"workspace_id must be a non-empty string, got {workspace_id!r}")
    return workspace_id
