"""Define the Substrate seam (the seven reads) and its PostgreSQL implementation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from ..errors import NoActiveRoleCharterError
from ..guard.validate import check_limit, check_workspace
from ..models import (
    CapabilityRow,
    ChainEvent,
    ConstitutionRevision,
    PolicyEntry,
    RoleCharter,
    ScratchpadEntry,
    SessionContext,
)
from ..pool import DB
from .capabilities import read_capability_row
from .charter import read_active_role_charter
from .constitution import read_active_constitution
from .context import CHARTER_ACTOR_KIND, read_context_parts
from .events import read_recent_events
from .policies import read_policy_registry
from .scratchpad import read_cross_agent_scratchpad, read_own_scratchpad

__all__ = ["PostgresSubstrate", "Substrate", "assemble_context", "read_parts_one_by_one"]


@runtime_checkable
class Substrate(Protocol):
    """The seven reads that make up an agent's governed identity."""

    async def read_active_role_charter(self, workspace_id: str) -> RoleCharter:
        """Return the verified active charter (fail-closed)."""
        ...

    async def read_policy_registry(self, workspace_id: str) -> tuple[PolicyEntry, ...]:
        """Return the workspace's policies ordered by path."""
        ...

    async def read_capability_row(self, actor_kind: str = "kora") -> CapabilityRow:
        """Return the actor kind's capabilities."""
        ...

    async def read_own_scratchpad(
        self, workspace_id: str, *, actor_kind: str = "kora", limit: int = 100
    ) -> tuple[ScratchpadEntry, ...]:
        """Return the actor kind's own active entries, newest first."""
        ...

    async def read_cross_agent_scratchpad(
        self, workspace_id: str, *, actor_kind: str = "kora", limit: int = 100
    ) -> tuple[ScratchpadEntry, ...]:
        """Return other kinds' cross-agent entries, newest first."""
        ...

    async def read_recent_events(
        self, workspace_id: str, *, actor_kind: str = "kora", limit: int = 50
    ) -> tuple[ChainEvent, ...]:
        """Return recent ``<actor_kind>.*`` chain events, newest first."""
        ...

    async def read_active_constitution(self, workspace_id: str) -> ConstitutionRevision | None:
        """Return the active constitution revision or None."""
        ...

    async def read_context(
        self,
        workspace_id: str,
        *,
        actor_kind: str = "kora",
        scratchpad_limit: int = 100,
        event_limit: int = 50,
    ) -> SessionContext:
        """Run all seven reads in one fan-out and return the assembled context."""
        ...

    async def read_parts(
        self,
        workspace_id: str,
        parts: frozenset[str],
        *,
        actor_kind: str = "kora",
        scratchpad_limit: int = 100,
        event_limit: int = 50,
    ) -> dict[str, Any]:
        """Re-read only the named SessionContext fields (a partial refresh)."""
        ...


async def read_parts_one_by_one(
    substrate: Substrate,
    workspace_id: str,
    parts: frozenset[str],
    *,
    actor_kind: str = "kora",
    scratchpad_limit: int = 100,
    event_limit: int = 50,
) -> dict[str, Any]:
    """Re-read the refreshable parts (own scratchpad, recent events) with the single reads."""
    changes: dict[str, Any] = {}
    if "own_scratchpad" in parts:
        changes["own_scratchpad"] = await substrate.read_own_scratchpad(
            workspace_id, actor_kind=actor_kind, limit=scratchpad_limit)
    if "recent_events" in parts:
        changes["recent_events"] = await substrate.read_recent_events(
            workspace_id, actor_kind=actor_kind, limit=event_limit)
    return changes


async def assemble_context(
    substrate: Substrate,
    workspace_id: str,
    *,
    actor_kind: str = "kora",
    scratchpad_limit: int = 100,
    event_limit: int = 50,
) -> SessionContext:
    """Run the seven reads of ``substrate`` in one asyncio.gather and build the context."""
    check_workspace(workspace_id)
    check_limit(scratchpad_limit, "scratchpad_limit")
    check_limit(event_limit, "event_limit")
    if actor_kind != CHARTER_ACTOR_KIND:
        raise NoActiveRoleCharterError(
            workspace_id, detail=f"for actor kind {actor_kind!r} (the substrate's charter "
            f"table holds {CHARTER_ACTOR_KIND!r}'s charter only)")
    charter = asyncio.ensure_future(substrate.read_active_role_charter(workspace_id))
    policies = asyncio.ensure_future(substrate.read_policy_registry(workspace_id))
    caps = asyncio.ensure_future(substrate.read_capability_row(actor_kind))
    own = asyncio.ensure_future(
        substrate.read_own_scratchpad(workspace_id, actor_kind=actor_kind, limit=scratchpad_limit)
    )
    cross = asyncio.ensure_future(
        substrate.read_cross_agent_scratchpad(
            workspace_id, actor_kind=actor_kind, limit=scratchpad_limit
        )
    )
    events = asyncio.ensure_future(
        substrate.read_recent_events(workspace_id, actor_kind=actor_kind, limit=event_limit)
    )
    constitution = asyncio.ensure_future(substrate.read_active_constitution(workspace_id))
    await asyncio.gather(charter, policies, caps, own, cross, events, constitution)
    return SessionContext(
        workspace_id=workspace_id,
        assembled_at=datetime.now(UTC),
        role_charter=charter.result(),
        policies=policies.result(),
        capability_row=caps.result(),
        own_scratchpad=own.result(),
        cross_agent_scratchpad=cross.result(),
        recent_events=events.result(),
        constitution=constitution.result(),
    )


class PostgresSubstrate:
    """Implement :class:`Substrate` on an asyncpg pool with the ``readers`` functions."""

    def __init__(self, pool: DB) -> None:
        self.pool = pool

    async def read_active_role_charter(self, workspace_id: str) -> RoleCharter:
        """Return the verified active charter (fail-closed)."""
        return await read_active_role_charter(self.pool, workspace_id)

    async def read_policy_registry(self, workspace_id: str) -> tuple[PolicyEntry, ...]:
        """Return the workspace's policies ordered by path."""
        return await read_policy_registry(self.pool, workspace_id)

    async def read_capability_row(self, actor_kind: str = "kora") -> CapabilityRow:
        """Return the actor kind's capabilities."""
        return await read_capability_row(self.pool, actor_kind)

    async def read_own_scratchpad(
        self, workspace_id: str, *, actor_kind: str = "kora", limit: int = 100
    ) -> tuple[ScratchpadEntry, ...]:
        """Return the actor kind's own active entries, newest first."""
        return await read_own_scratchpad(
            self.pool, workspace_id, actor_kind=actor_kind, limit=limit
        )

    async def read_cross_agent_scratchpad(
        self, workspace_id: str, *, actor_kind: str = "kora", limit: int = 100
    ) -> tuple[ScratchpadEntry, ...]:
        """Return other kinds' cross-agent entries, newest first."""
        return await read_cross_agent_scratchpad(
            self.pool, workspace_id, actor_kind=actor_kind, limit=limit
        )

    async def read_recent_events(
        self, workspace_id: str, *, actor_kind: str = "kora", limit: int = 50
    ) -> tuple[ChainEvent, ...]:
        """Return recent ``<actor_kind>.*`` chain events, newest first."""
        return await read_recent_events(
            self.pool, workspace_id, actor_kind=actor_kind, limit=limit
        )

    async def read_active_constitution(self, workspace_id: str) -> ConstitutionRevision | None:
        """Return the active constitution revision or None."""
        return await read_active_constitution(self.pool, workspace_id)

    async def read_context(
        self,
        workspace_id: str,
        *,
        actor_kind: str = "kora",
        scratchpad_limit: int = 100,
        event_limit: int = 50,
    ) -> SessionContext:
        """Run all seven reads in one round trip (``isokron.read_context_v2``).

        Works on a pool or a single connection.
        """
        parts = await read_context_parts(
            self.pool, workspace_id, actor_kind=actor_kind,
            scratchpad_limit=scratchpad_limit, event_limit=event_limit)
        return SessionContext(workspace_id=workspace_id, assembled_at=datetime.now(UTC), **parts)

    async def read_parts(
        self,
        workspace_id: str,
        parts: frozenset[str],
        *,
        actor_kind: str = "kora",
        scratchpad_limit: int = 100,
        event_limit: int = 50,
    ) -> dict[str, Any]:
        """Re-read only the named SessionContext fields, in one round trip."""
        return await read_context_parts(
            self.pool, workspace_id, actor_kind=actor_kind, scratchpad_limit=scratchpad_limit,
            event_limit=event_limit, parts=parts)

