"""The core's tool entry point: every input answered with an envelope, writes noted."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from .. import telemetry
from ..config import IsoKronConfig
from ..errors import SubstrateUnavailableError
from ..guard.validate import check_workspace
from ..stores.episodic import EpisodicEventStore
from ..stores.memory import NamespaceMemory
from .fairness import WorkspaceGate
from .outbox import Outbox
from .tools import (
    WRITING_TOOLS,
    annotate_tool_span,
    envelope_for,
    error_envelope,
    run_tool,
    unknown_tool,
)

__all__ = ["READ_YOUR_WRITES_TOOLS", "ToolCalling"]

#: tools that read what the agent's queued writes may change
READ_YOUR_WRITES_TOOLS = frozenset({"isokron_memory_search", "isokron_episodes_recent",
                                    "isokron_memory_forget"})



class ToolCalling:
    """``handle_tool`` (a mixin of :class:`isokron.AsyncIsoKron`)."""

    config: IsoKronConfig
    outbox: Outbox
    gate: WorkspaceGate

    async def note_write(self, workspace_id: str) -> None:
        raise NotImplementedError

    async def memory(self, *, read_of: str | None = None) -> NamespaceMemory:
        raise NotImplementedError

    async def episodic(self, *, read_of: str | None = None) -> EpisodicEventStore:
        raise NotImplementedError

    async def actor_id(self, workspace_id: str) -> uuid.UUID | None:
        raise NotImplementedError

    @telemetry.traced("isokron.tool", operation="execute_tool", annotate=annotate_tool_span)
    async def handle_tool(self, workspace_id: str, name: str, args: Any) -> str:
        """Run one memory tool and return its JSON envelope (never raise: every input, however
        malformed, gets a typed error envelope)."""
        refused = unknown_tool(name)  # before any wait: a bad name needs no database
        if refused is not None:
            return refused
        try:
            check_workspace(workspace_id)
            if name in READ_YOUR_WRITES_TOOLS:
                # The agent must find what it just did: its queued writes land first.
                await self.outbox.wait_for_workspace(workspace_id,
                                                     self.config.prefetch_timeout_s)
            async with self.gate.guarded(f"tool {name}", workspace_id):
                result = await run_tool(self, workspace_id, name, args,
                                        actor_kind=self.config.actor_kind)
                if name in WRITING_TOOLS:  # read-your-writes: the primary until replayed
                    await self.note_write(workspace_id)
                return result
        except SubstrateUnavailableError as exc:  # the breaker is open: answer at once
            return error_envelope(type(exc).__name__, str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the envelope, always: never an exception into the loop
            return envelope_for(exc, name)

