"""What a store tells its owner after a write (the engine queues the texts for embedding)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..models import AgentMessage, MemoryRecord

__all__ = ["WriteObserver"]


class WriteObserver(Protocol):
    """Told of every memory and message a store has written (after the commit); must not
    block or raise."""

    def memories_written(self, workspace_id: str, records: Sequence[MemoryRecord]) -> None:
        """Memories ``workspace_id`` committed."""
        ...

    def messages_written(self, tenant_id: str, user_id: str,
                         messages: Sequence[AgentMessage]) -> None:
        """Messages appended for ``user_id`` in ``tenant_id``."""
        ...
