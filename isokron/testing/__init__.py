"""Ship the test helpers: the in-memory substrate fake and the demo seed."""

from __future__ import annotations

from .fake import InMemorySubstrate
from .seed import SeedSummary, seed_demo_workspace

__all__ = ["InMemorySubstrate", "SeedSummary", "seed_demo_workspace"]
