"""The provider's tool hooks: the schemas, and a tool call that always answers an envelope."""

from __future__ import annotations

import copy
from typing import Any

from .. import telemetry
from ..engine.tools import (
    TOOL_SCHEMAS,
    WRITING_TOOLS,
    envelope_for,
    error_envelope,
    unknown_tool,
)
from ..guard.validate import shown
from .contract import HostContract

__all__ = ["ToolCalls"]


class ToolCalls(HostContract):
    """Memory tools for the host (a mixin of the provider)."""

    _memories_committed: int
    user_id: str | None

    def get_tool_schemas(self) -> list[dict[str, Any]]:
        """Return the memory tools (OpenAI function format)."""
        return copy.deepcopy(TOOL_SCHEMAS)

    @telemetry.hook("handle_tool_call")
    def handle_tool_call(self, tool_name: str, args: dict[str, Any], **kwargs: Any) -> str:
        """Run a memory tool; always return a JSON envelope, never raise (whatever the name,
        arguments or keyword arguments hold)."""
        try:
            given = kwargs.get("workspace_id")
            if given is not None and not isinstance(given, str):
                return error_envelope("InvalidInputError",
                                      f"workspace_id must be a string, got {shown(given)}")
            refused = unknown_tool(tool_name)
            if refused is not None:
                return refused
            workspace = self.workspace_for(kwargs)
            if self.config is None:
                return error_envelope("ConfigError", f"isokron is not configured: "
                                      f"{self._config_error}")
            if workspace is None or self._core is None:
                return error_envelope("WorkspaceNotResolvedError", "isokron has no workspace "
                                      "for this call (or is not initialized)")
            if workspace in self._locked:
                return error_envelope("IdentityLocked", self._locked[workspace])
            if not self.writes_allowed and tool_name in WRITING_TOOLS:
                return error_envelope(
                    "ReadOnlyContext", f"{tool_name} writes; this agent runs in the "
                    f"{self.agent_context!r} context, where isokron only reads")
            try:
                result: str = self._wait(self.core.handle_tool(workspace, tool_name, args,
                                                                 user_id=self.user_id))
            except TimeoutError:
                return error_envelope("SubstrateUnavailableError",
                                      f"{tool_name} did not finish within "
                                      f"{self.config.prefetch_timeout_s:.3g}s")
            if tool_name in ("isokron_memory_commit", "isokron_memory_commit_summary") and (
                    result.startswith('{"ok": true')):
                self._memories_committed += 1
            return result
        except Exception as exc:  # the envelope, always: never an exception into the loop
            return envelope_for(exc, str(tool_name) if isinstance(tool_name, str) else "tool")

