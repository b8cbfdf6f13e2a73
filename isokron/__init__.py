"""isokron: governed memory for AI agent loops on PostgreSQL."""

from __future__ import annotations

from ._version import __version__
from .base import MemoryProvider
from .config import IsoKronConfig, load_config
from .engine.core import AsyncIsoKron
from .errors import (
    ChainEventEmitNotAvailableError,
    ConfigError,
    ContextTokenError,
    DatabaseError,
    DeferredWriteError,
    DuplicateMemoryError,
    InvalidInputError,
    InvalidTransitionError,
    IsoKronError,
    NoActiveRoleCharterError,
    NotFoundError,
    NotOwnedError,
    PromptBlockTooLargeError,
    QueryTimeoutError,
    QuotaExceededError,
    RoleCharterIntegrityError,
    ScratchpadWriteNotAvailableError,
    SubstrateUnavailableError,
    SupersededError,
    WorkspaceNotResolvedError,
)
from .guard.context_token import mint_context_token
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
from .stores.recall import RecallItem

__all__ = [
    "AgentMessage",
    "AgentSession",
    "AsyncIsoKron",
    "CapabilityRow",
    "ChainEvent",
    "ChainEventEmitNotAvailableError",
    "ConfigError",
    "ConstitutionRevision",
    "ContextTokenError",
    "DatabaseError",
    "DeferredWriteError",
    "Delegation",
    "DuplicateMemoryError",
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
    "PromptBlockTooLargeError",
    "QueryTimeoutError",
    "QuotaExceededError",
    "RecallItem",
    "RoleCharter",
    "RoleCharterIntegrityError",
    "RoleCharterSections",
    "ScratchpadEntry",
    "ScratchpadWriteNotAvailableError",
    "SessionContext",
    "SubstrateUnavailableError",
    "SupersededError",
    "WorkspaceNotResolvedError",
    "__version__",
    "load_config",
    "load_provider",
    "mint_context_token",
]
