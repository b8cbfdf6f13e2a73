"""Define MemoryProvider: the sync lifecycle contract agent loops call (Hermes-style names)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

__all__ = ["MemoryProvider"]


class MemoryProvider(ABC):
    """Be the memory of an agent loop; hooks other than fail-closed reads never raise.

    Abstract: :attr:`name`, :meth:`is_available`, :meth:`initialize` and
    :meth:`get_tool_schemas`. Every other hook has a safe default that does
    nothing, so a provider implements only what it supports.
    """

    @property
    @abstractmethod
    def name(self) -> str:
        """Return the provider's registered name."""

    @abstractmethod
    def is_available(self) -> bool:
        """Tell whether the provider can run here (configuration and imports; no network)."""

    @abstractmethod
    def initialize(self, session_id: str, **kwargs: Any) -> None:
        """Prepare for a session; must not block on or raise for the network."""

    @abstractmethod
    def get_tool_schemas(self) -> list[dict[str, Any]]:
        """Return the tools this provider offers, in OpenAI function format."""

    def system_prompt_block(self) -> str:
        """Return text to put in the system prompt ("" for none)."""
        return ""

    def prefetch(self, query: str, *, session_id: str = "") -> str:
        """Return recalled context for ``query`` ("" for none)."""
        return ""

    def queue_prefetch(self, query: str, *, session_id: str = "") -> None:
        """Start recalling for the next turn in the background."""
        return None

    def sync_turn(
        self,
        user_content: str,
        assistant_content: str,
        *,
        session_id: str = "",
        messages: list[dict[str, Any]] | None = None,
    ) -> None:
        """Record a completed turn (must return at once)."""
        return None

    def handle_tool_call(self, tool_name: str, args: dict[str, Any], **kwargs: Any) -> str:
        """Run one of this provider's tools and return a JSON string."""
        return '{"ok": false, "error": {"type": "UnknownTool", "message": "no tools"}}'

    def shutdown(self) -> None:
        """Flush pending writes and release resources."""
        return None

    def on_turn_start(self, turn_number: int, message: str, **kwargs: Any) -> None:
        """Prepare for a turn before the model is called."""
        return None

    def on_session_end(self, messages: list[dict[str, Any]]) -> None:
        """Record the end of a session."""
        return None

    def on_session_switch(
        self,
        new_session_id: str,
        *,
        parent_session_id: str = "",
        reset: bool = False,
        rewound: bool = False,
        **kwargs: Any,
    ) -> None:
        """Follow the loop to another session (``reset`` drops cached state; ``rewound``:
        turns were undone)."""
        return None

    def on_pre_compress(self, messages: list[dict[str, Any]]) -> str:
        """Return text to keep before the loop compresses its context ("" for none)."""
        return ""

    def on_memory_write(
        self, action: str, target: str, content: str, metadata: dict[str, Any] | None = None
    ) -> None:
        """Mirror a write the loop made to its own memory."""
        return None

    def on_delegation(
        self, task: str, result: str, *, child_session_id: str = "", **kwargs: Any
    ) -> None:
        """Record a task delegated to a child agent and its result."""
        return None

    def get_config_schema(self) -> list[dict[str, Any]]:
        """Describe the provider's settings for setup wizards."""
        return []

    def save_config(self, values: dict[str, Any], home: str) -> None:
        """Persist settings under ``home``."""
        return None

    def initialize_for_inspection(self, session_id: str = "", **kwargs: Any) -> None:
        """Set up for status inspection only (no writes, no warm-up)."""
        self.initialize(session_id, **kwargs)

    def unavailable_reason(self) -> str | None:
        """Why the provider cannot serve now, in one line (None when it can)."""
        return None if self.is_available() else "not available"

    def recall_status(self) -> dict[str, Any]:
        """What recall can do now."""
        return {"available": self.unavailable_reason() is None}

    def backup_paths(self) -> list[str]:
        """Extra on-disk paths a host should back up (none by default)."""
        return []
