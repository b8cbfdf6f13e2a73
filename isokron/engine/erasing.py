"""What :class:`~isokron.engine.core.AsyncIsoKron` does to finish writes and to forget a
user: wait for the queued writes, then erase with a receipt (issue 26)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg

from ..stores.erasure import ErasureReceipt, erase_self
from ..stores.sessions import RequestContext
from .embedding import Embeddings
from .outbox import Outbox

__all__ = ["Draining"]


class Draining:
    """Mixed into AsyncIsoKron: ``flush`` and ``erase_user``."""

    outbox: Outbox
    embeddings: Embeddings | None

    if TYPE_CHECKING:  # AsyncIsoKron's write pool
        async def pool(self) -> asyncpg.Pool: ...

    async def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued write is handled (and, with an embedder, its texts
        embedded); return False on timeout."""
        done = await self.outbox.wait_idle(timeout)
        if done and self.embeddings is not None:
            done = await self.embeddings.queue.drain(timeout)
        return done

    async def erase_user(self, ctx: RequestContext, *, timeout: float = 10.0) -> ErasureReceipt:
        """Erase everything isokron holds about ``ctx``'s user in its tenant (sessions and
        messages, their episodes, the memories written on the user's behalf, recall
        statistics, quota counters) in one transaction, once this process's queued writes
        have landed, and return the receipt. The database takes the tenant and the user
        from the context (the signed token, with ``signed_context``): no caller erases
        another user this way. The operator's way is ``isokron erase``."""
        await self.flush(timeout)
        return await erase_self(await self.pool(), ctx)
