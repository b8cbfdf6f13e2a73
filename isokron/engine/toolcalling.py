"""Answer a tool call for the core: every input gets an envelope, writes are noted."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from ..config import IsoKronConfig
from ..errors import SubstrateUnavailableError
from ..guard.validate import check_workspace
from .fairness import WorkspaceGate
from .outbox import Outbox
from .tools import (
    WRITING_TOOLS,
    ToolHost,
    envelope_for,
    error_envelope,
    run_tool,
    unknown_tool,
)

__all__ = ["READ_YOUR_WRITES_TOOLS", "ToolAnswerHost", "answer_tool"]

#: tools that read what the agent's queued writes may change
READ_YOUR_WRITES_TOOLS = frozenset({"isokron_memory_search", "isokron_episodes_recent",
                                    "isokron_memory_forget"})



class ToolAnswerHost(ToolHost, Protocol):
    """What answering a tool call uses of its host (:class:`isokron.AsyncIsoKron`)."""

    @property
    def config(self) -> IsoKronConfig: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def gate(self) -> WorkspaceGate: ...

    async def note_write(self, workspace_id: str) -> None: ...


async def answer_tool(host: ToolAnswerHost, workspace_id: str, name: str, args: Any, *,
                      user_id: str | None = None) -> str:
    """Run one memory tool and return its JSON envelope (never raise: every input, however
    malformed, gets a typed error envelope)."""
    refused = unknown_tool(name)  # before any wait: a bad name needs no database
    if refused is not None:
        return refused
    try:
        check_workspace(workspace_id)
        if name in READ_YOUR_WRITES_TOOLS:
            # The agent must find what it just did: its queued writes land first.
            await host.outbox.wait_for_workspace(workspace_id, host.config.prefetch_timeout_s)
        async with host.gate.guarded(f"tool {name}", workspace_id):
            result = await run_tool(host, workspace_id, name, args,
                                    actor_kind=host.config.actor_kind,
                                    user_id=user_id or host.config.user_id)
            if name in WRITING_TOOLS:  # read-your-writes: the primary until replayed
                await host.note_write(workspace_id)
            return result
    except SubstrateUnavailableError as exc:  # the breaker is open: answer at once
        return error_envelope(type(exc).__name__, str(exc))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the envelope, always: never an exception into the loop
        return envelope_for(exc, name)
