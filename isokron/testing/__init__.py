"""Ship the test helpers: in-memory fakes of the substrate and of every store, a
deterministic embedder, and the demo seed."""

from __future__ import annotations

from .embedder import HashingEmbedder
from .fake import InMemorySubstrate
from .seed import SeedSummary, seed_demo_workspace
from .stores import (
    InMemoryDelegationLedger,
    InMemoryEpisodicStore,
    InMemoryNamespaceMemory,
    InMemorySessionStore,
)

__all__ = [
    "HashingEmbedder",
    "InMemoryDelegationLedger",
    "InMemoryEpisodicStore",
    "InMemoryNamespaceMemory",
    "InMemorySessionStore",
    "InMemorySubstrate",
    "SeedSummary",
    "seed_demo_workspace",
]
