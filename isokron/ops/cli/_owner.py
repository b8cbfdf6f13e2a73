"""Run one owner-side write for ``workspace``, ``charter`` and ``policy``: open a one-
connection pool on the DSN, run, and turn a refused value into a usage error (exit 2)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from ...errors import InvalidInputError, NotOwnedError
from ._args import Refused, dsn

__all__ = ["as_owner"]

T = TypeVar("T")


def as_owner(args: argparse.Namespace, work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """Run ``work(pool)`` on ``--dsn`` (or ``$ISOKRON_DSN``); InvalidInputError -> Refused,
    NotOwnedError (a login that is not the owner) -> the same, saying which DSN to use."""
    from ...pool import create_pool

    async def run() -> T:
        pool = await create_pool(dsn(args), min_size=1, max_size=1)
        try:
            return await work(pool)
        finally:
            await pool.close()

    try:
        return asyncio.run(run())
    except InvalidInputError as exc:
        raise Refused(str(exc)) from None
    except NotOwnedError as exc:
        raise NotOwnedError(f"{exc} (connect as a superuser: the owner DSN isokron setup "
                            f"was given, --dsn \"$ISOKRON_OWNER_DSN\")") from None
