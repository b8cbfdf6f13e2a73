"""Read an agent's governed identity from the substrate (async; pool or connection first)."""

from __future__ import annotations

from .capabilities import read_capability_row
from .capability_mirror import KORA_CAPABILITY_MIRROR
from .charter import read_active_role_charter
from .constitution import read_active_constitution
from .events import read_chain_heads, read_recent_events, verify_event_chain
from .policies import EXPECTED_POLICY_COUNT, read_policy_registry
from .scratchpad import read_cross_agent_scratchpad, read_own_scratchpad
from .substrate import PostgresSubstrate, Substrate, assemble_context

__all__ = [
    "EXPECTED_POLICY_COUNT",
    "KORA_CAPABILITY_MIRROR",
    "PostgresSubstrate",
    "Substrate",
    "assemble_context",
    "read_active_constitution",
    "read_active_role_charter",
    "read_capability_row",
    "read_chain_heads",
    "read_cross_agent_scratchpad",
    "read_own_scratchpad",
    "read_policy_registry",
    "read_recent_events",
    "verify_event_chain",
]
