"""Shared helpers for unit tests of provider logic (no database)."""

from __future__ import annotations

from typing import Any

DSN = "postgresql://isokron:s3cret@db.invalid/isokron"


class RecordingTransport:
    """A WriteTransport that records writes; ``fail_times`` makes the next N calls fail."""

    def __init__(self) -> None:
        self.scratchpad: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.fail_times = 0
        self.error: BaseException = ConnectionResetError("connection reset")

    def _maybe_fail(self) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise self.error

    async def write_scratchpad(self, workspace_id, *, actor_kind, kind, scope, content):
        self._maybe_fail()
        self.scratchpad.append({"workspace_id": workspace_id, "actor_kind": actor_kind,
                                "kind": kind, "scope": scope, "content": content})
        return f"sp-{len(self.scratchpad)}"

    async def emit_event(self, workspace_id, *, event_type, payload, actor_id=None):
        self._maybe_fail()
        self.events.append({"workspace_id": workspace_id, "event_type": event_type,
                            "payload": payload})
        return f"ev-{len(self.events)}"


class FakeClock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
