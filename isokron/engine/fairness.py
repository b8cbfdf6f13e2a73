"""Share the pool fairly between workspaces and fail fast while the database is down."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from ..pool import is_connection_failure
from .breaker import CircuitBreaker

__all__ = ["WorkspaceGate"]


class WorkspaceGate:
    """Hold per-workspace slots on the shared pool and tell the breaker how calls went.

    ``breaker=None`` (an injected, in-memory substrate) means no database: no breaker.
    """

    def __init__(self, concurrency: int, breaker: CircuitBreaker | None) -> None:
        self.concurrency = concurrency
        self.breaker = breaker
        self._slots: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def slot(self, workspace_id: str) -> AsyncIterator[None]:
        """Hold one of the workspace's ``concurrency`` slots.

        A workspace sending many slow calls queues behind its own slots and leaves the
        rest of the pool to the others.
        """
        entry = self._slots.get(workspace_id)
        if entry is None:
            entry = self._slots[workspace_id] = (asyncio.Semaphore(self.concurrency), [0])
        semaphore, users = entry
        users[0] += 1
        try:
            async with semaphore:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0 and self._slots.get(workspace_id) is entry:
                del self._slots[workspace_id]

    @contextlib.asynccontextmanager
    async def guarded(self, what: str, workspace_id: str,
                      timeout: float | None = None) -> AsyncIterator[None]:
        """Fail fast while the breaker is open; hold a workspace slot (within ``timeout``,
        which bounds the wait for the slot and the call); tell the breaker how the call
        went (connection-level failures and timeouts count, client errors do not)."""
        breaker = self.breaker
        if breaker is not None:
            breaker.check(what)
        try:
            async with asyncio.timeout(timeout), self.slot(workspace_id):
                yield
        except BaseException as exc:
            if breaker is not None:
                if is_connection_failure(exc):
                    breaker.record_failure()
                else:
                    breaker.release_probe()
            raise
        if breaker is not None:
            breaker.record_success()
