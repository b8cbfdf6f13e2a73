"""Write to the substrate only through a transport: deferred (raises) or substrate (SQL)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ..errors import ChainEventEmitNotAvailableError, ScratchpadWriteNotAvailableError
from ..guard.redact import scrub_json, scrub_text
from ..pool import DB
from .tenancy import workspace_scope

__all__ = ["DeferredTransport", "SubstrateTransport", "WriteTransport", "make_transport"]


@runtime_checkable
class WriteTransport(Protocol):
    """The two substrate writes isokron makes."""

    async def write_scratchpad(
        self, workspace_id: str, *, actor_kind: str, kind: str, scope: str, content: str
    ) -> str:
        """Write one scratchpad entry and return its id."""
        ...

    async def emit_event(
        self, workspace_id: str, *, event_type: str, payload: dict[str, Any],
        actor_id: str | None = None,
    ) -> str:
        """Append one chain event and return its id."""
        ...


class DeferredTransport:
    """Refuse both writes until their tools exist (see BUILD_DEVIATIONS.md)."""

    async def write_scratchpad(
        self, workspace_id: str, *, actor_kind: str, kind: str, scope: str, content: str
    ) -> str:
        """Raise ScratchpadWriteNotAvailableError."""
        raise ScratchpadWriteNotAvailableError(f"workspace {workspace_id}, kind {kind}")

    async def emit_event(
        self, workspace_id: str, *, event_type: str, payload: dict[str, Any],
        actor_id: str | None = None,
    ) -> str:
        """Raise ChainEventEmitNotAvailableError."""
        raise ChainEventEmitNotAvailableError(f"workspace {workspace_id}, event {event_type}")


class SubstrateTransport:
    """Write through ``write_agent_scratchpad_v1`` and ``append_event_v1``.

    Each call runs in a transaction scoped to its workspace; the functions refuse any
    other workspace, and an actor not registered in it, with NotOwnedError.
    """

    def __init__(self, pool: DB) -> None:
        self.pool = pool

    async def write_scratchpad(
        self, workspace_id: str, *, actor_kind: str, kind: str, scope: str, content: str
    ) -> str:
        """Write one scratchpad entry (the function also appends its approval event)."""
        content = scrub_text(content, "a scratchpad entry")
        async with workspace_scope(self.pool, workspace_id, "writing the scratchpad") as conn:
            row = await conn.fetchrow(
                "SELECT scratchpad_entry_id FROM kronicle.write_agent_scratchpad_v1("
                "$1, $2, $3::text::kronicle.scratchpad_kind, "
                "$4::text::kronicle.scratchpad_visibility_scope, $5)",
                workspace_id, actor_kind, kind, scope, content,
            )
        assert row is not None
        return str(row["scratchpad_entry_id"])

    async def emit_event(
        self, workspace_id: str, *, event_type: str, payload: dict[str, Any],
        actor_id: str | None = None,
    ) -> str:
        """Append one chain event through append_event_v1 (secrets redacted: the log is forever)."""
        payload = scrub_json(payload, "a chain event payload")
        async with workspace_scope(self.pool, workspace_id, "emitting a chain event") as conn:
            event_id = await conn.fetchval(
                "SELECT hivex_foundation.append_event_v1($1, $2, $3::jsonb, $4::uuid)",
                workspace_id, event_type, payload, actor_id,
            )
        return str(event_id)


def make_transport(name: str, pool: DB | None) -> WriteTransport:
    """Return the transport configured as ``write_transport``."""
    if name == "deferred":
        return DeferredTransport()
    if name == "substrate":
        if pool is None:
            raise ValueError("the substrate transport needs a pool")
        return SubstrateTransport(pool)
    raise ValueError(f"unknown write_transport {name!r}")
