"""isokron's own stores: episodic events, delegations (+ sweeper), memory, sessions."""

from __future__ import annotations

from .delegations import DelegationLedger
from .episodic import EpisodicEventStore
from .memory import NamespaceAccess, NamespaceItem, NamespaceMemory
from .memory_transfer import export_memory, import_memory, purge_workspace
from .recall import Recall, RecallItem
from .sessions import AgentSessionStore, RequestContext
from .sweeper import DelegationSweeper, SweepResult

__all__ = [
    "AgentSessionStore",
    "DelegationLedger",
    "DelegationSweeper",
    "EpisodicEventStore",
    "NamespaceAccess",
    "NamespaceItem",
    "NamespaceMemory",
    "Recall",
    "RecallItem",
    "RequestContext",
    "SweepResult",
    "export_memory",
    "import_memory",
    "purge_workspace",
]
