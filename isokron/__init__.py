"""isokron: governed memory for AI agent loops on PostgreSQL."""

from __future__ import annotations

from .base import MemoryProvider
from .config import IsoKronConfig, load_config
from .core import AsyncIsoKron
from .errors import (
    ChainEventEmitNotAvailableError,
    ConfigError,
    DatabaseError,
    DeferredWriteError,
    InvalidInputError,
    InvalidTransitionError,
    IsoKronError,
    NoActiveRoleCharterError,
    NotFoundError,
    NotOwnedError,
    QueryTimeoutError,
    RoleCharterIntegrityError,
    ScratchpadWriteNotAvailableError,
    SubstrateUnavailableError,
    WorkspaceNotResolvedError,
)
from .models import (
    AgentMessage,
    AgentSession,
    CapabilityRow,
    ChainEvent,
    ConstitutionRevision,
    Delegation,
    EpisodicEvent,
    MemoryRecord,
    PolicyEntry,
    RoleCharter,
    RoleCharterSections,
    ScratchpadEntry,
    SessionContext,
)
from .provider import IsoKronMemoryProvider
from .registry import load_provider

__version__ = "0.1.0"

__all__ = [
    "AgentMessage",
    "AgentSession",
    "AsyncIsoKron",
    "CapabilityRow",
    "ChainEvent",
    "ChainEventEmitNotAvailableError",
    "ConfigError",
    "ConstitutionRevision",
    "DatabaseError",
    "DeferredWriteError",
    "Delegation",
    "EpisodicEvent",
    "InvalidInputError",
    "InvalidTransitionError",
    "IsoKronConfig",
    "IsoKronError",
    "IsoKronMemoryProvider",
    "MemoryProvider",
    "MemoryRecord",
    "NoActiveRoleCharterError",
    "NotFoundError",
    "NotOwnedError",
    "PolicyEntry",
    "QueryTimeoutError",
    "RoleCharter",
    "RoleCharterIntegrityError",
    "RoleCharterSections",
    "ScratchpadEntry",
    "ScratchpadWriteNotAvailableError",
    "SessionContext",
    "SubstrateUnavailableError",
    "WorkspaceNotResolvedError",
    "load_config",
    "load_provider",
]
