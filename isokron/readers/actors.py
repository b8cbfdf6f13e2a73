"""Find the agent's actor id in a workspace (``public.actor_registry``), cached."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ..db.tenancy import workspace_scope
from ..pool import DB

__all__ = ["ActorDirectory", "ActorLookup", "InjectedActors"]


class ActorLookup(Protocol):
    """Resolve the configured actor kind's actor id in a workspace (None: not registered)."""

    async def actor_id(self, workspace_id: str) -> uuid.UUID | None: ...


class ActorDirectory:
    """Look actors up on the pool ``db()`` returns; a found id is cached for good (actor
    ids never change), a missing one is asked again next time."""

    def __init__(self, db: Callable[[], Awaitable[DB]], actor_kind: str) -> None:
        self._db = db
        self.actor_kind = actor_kind
        self._found: dict[str, uuid.UUID] = {}

    async def actor_id(self, workspace_id: str) -> uuid.UUID | None:
        """Return the oldest ``actor_kind`` actor of ``workspace_id``, or None."""
        cached = self._found.get(workspace_id)
        if cached is not None:
            return cached
        db = await self._db()
        async with workspace_scope(db, workspace_id, "resolving the agent's actor id") as conn:
            found = await conn.fetchval(
                "SELECT actor_id FROM public.actor_registry WHERE workspace_id = $1 "
                "AND actor_kind = $2 ORDER BY created_at, actor_id LIMIT 1",
                workspace_id, self.actor_kind,
            )
        if found is None:
            return None
        actor = uuid.UUID(str(found))
        self._found[workspace_id] = actor
        return actor


class InjectedActors:
    """Actor ids from an injected episodic store that knows them (``actor_for``, as
    :class:`isokron.testing.InMemoryEpisodicStore` does)."""

    def __init__(self, store: Any, actor_kind: str) -> None:
        self._store = store
        self.actor_kind = actor_kind

    async def actor_id(self, workspace_id: str) -> uuid.UUID | None:
        """Ask the injected store."""
        found: uuid.UUID | None = self._store.actor_for(workspace_id, self.actor_kind)
        return found
