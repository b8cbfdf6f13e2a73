"""isokron's own stores: episodic events, delegations (+ sweeper), memory, sessions."""

from __future__ import annotations

from .delegations import DelegationLedger
from .episodic import EpisodicEventStore
from .sweeper import DelegationSweeper, SweepResult

__all__ = ["DelegationLedger", "DelegationSweeper", "EpisodicEventStore", "SweepResult"]
