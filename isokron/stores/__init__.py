"""isokron's own stores: episodic events, delegations (+ sweeper), memory, sessions."""

from __future__ import annotations

from ._observe import WriteObserver
from .delegations import DelegationLedger
from .episodic import EpisodicEventStore
from .erasure import ErasureCheck, ErasureReceipt, erase_self, erase_user, verify_erasure
from .memory import NamespaceAccess, NamespaceItem, NamespaceMemory
from .memory_transfer import (
    ImportLimits,
    export_memory,
    import_memory,
    memory_duplicates,
    purge_workspace,
    read_import_file,
)
from .quotas import apply_quotas, quota_limits
from .recall import Recall, RecallItem
from .sessions import AgentSessionStore, RequestContext
from .sweeper import DelegationSweeper, SweepResult
from .vectors import BacklogItem, EmbeddingCounts, Vectors, content_hash

__all__ = [
    "AgentSessionStore",
    "BacklogItem",
    "DelegationLedger",
    "DelegationSweeper",
    "EmbeddingCounts",
    "EpisodicEventStore",
    "ErasureCheck",
    "ErasureReceipt",
    "ImportLimits",
    "NamespaceAccess",
    "NamespaceItem",
    "NamespaceMemory",
    "Recall",
    "RecallItem",
    "RequestContext",
    "SweepResult",
    "Vectors",
    "WriteObserver",
    "apply_quotas",
    "content_hash",
    "erase_self",
    "erase_user",
    "export_memory",
    "import_memory",
    "memory_duplicates",
    "purge_workspace",
    "quota_limits",
    "read_import_file",
    "verify_erasure",
]
