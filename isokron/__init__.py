"""isokron: governed memory for AI agent loops on PostgreSQL."""

from __future__ import annotations

from .errors import (
    ChainEventEmitNotAvailableError,
    ConfigError,
    DeferredWriteError,
    InvalidInputError,
    InvalidTransitionError,
    IsoKronError,
    NoActiveRoleCharterError,
    NotFoundError,
    NotOwnedError,
    RoleCharterIntegrityError,
    ScratchpadWriteNotAvailableError,
    SubstrateUnavailableError,
    WorkspaceNotResolvedError,
)
from .models import (
    CapabilityRow,
    ChainEvent,
    ConstitutionRevision,
    PolicyEntry,
    RoleCharter,
    RoleCharterSections,
    ScratchpadEntry,
    SessionContext,
)

__version__ = "0.1.0"

__all__ = [
    "CapabilityRow",
    "ChainEvent",
    "ChainEventEmitNotAvailableError",
    "ConfigError",
    "ConstitutionRevision",
    "DeferredWriteError",
    "InvalidInputError",
    "InvalidTransitionError",
    "IsoKronError",
    "NoActiveRoleCharterError",
    "NotFoundError",
    "NotOwnedError",
    "PolicyEntry",
    "RoleCharter",
    "RoleCharterIntegrityError",
    "RoleCharterSections",
    "ScratchpadEntry",
    "ScratchpadWriteNotAvailableError",
    "SessionContext",
    "SubstrateUnavailableError",
    "WorkspaceNotResolvedError",
]
