"""The provider's bridge to the engine's loop thread: the workspace a call is for, bounded
waits for reads, and write hooks validated and queued before they return (never an
exception into the agent loop; back-pressure instead of loss)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Coroutine, Mapping
from typing import Any

from ..config import IsoKronConfig
from ..engine import loop
from ..engine.core import AsyncIsoKron

__all__ = ["LoopBridge"]

log = logging.getLogger("isokron.provider")

#: how long a write hook waits for its writes to be validated and queued (no I/O)
_QUEUE_TIMEOUT_S = 5.0


class LoopBridge:
    """The provider's plumbing (a mixin of :class:`isokron.IsoKronMemoryProvider`)."""

    config: IsoKronConfig | None
    _core: AsyncIsoKron | None
    _locked: dict[str, str]
    writes_allowed: bool
    agent_context: str
    _workspace_id: str | None

    @property
    def core(self) -> AsyncIsoKron:
        """Return the async core (created by ``initialize``)."""
        if self._core is None:
            raise RuntimeError("IsoKronMemoryProvider.initialize() has not been called")
        return self._core

    def workspace_for(self, kwargs: Mapping[str, Any] | None = None) -> str | None:
        """Resolve the workspace: hook kwargs, then initialize(), then config."""
        if kwargs and kwargs.get("workspace_id"):
            return str(kwargs["workspace_id"])
        if self._workspace_id:
            return self._workspace_id
        return self.config.workspace_id if self.config is not None else None

    def _wait(self, coro: Coroutine[Any, Any, Any]) -> Any:
        assert self.config is not None
        return loop.submit_and_wait(coro, self.config.prefetch_timeout_s)

    def _may_write(self, hook: str, workspace: str | None) -> bool:
        """Writes happen only for the primary context and an unlocked identity."""
        if workspace is None or self._core is None:
            return False
        if not self.writes_allowed:
            log.debug("isokron %s skipped: agent_context %r only reads", hook,
                      self.agent_context)
            return False
        if workspace in self._locked:
            log.debug("isokron %s suppressed: workspace %s is locked", hook, workspace)
            return False
        return True

    def _fire(self, hook: str, coro: Coroutine[Any, Any, Any]) -> None:
        """Validate and queue a hook's writes before returning; never raise into the loop.

        The hook's coroutine only checks its inputs and queues jobs (no I/O), so waiting
        for it is quick; a write it cannot queue is logged at WARNING and counted in
        :meth:`stats` (``rejected``).
        """
        try:
            loop.submit_and_wait(coro, _QUEUE_TIMEOUT_S)
        except Exception as exc:  # never into the agent loop
            if self._core is not None:
                self._core.reject(hook, exc)
            else:
                log.warning("isokron %s: write not queued: %s: %s", hook, type(exc).__name__,
                            exc)
            return
        self._backpressure(hook)

    def stats(self) -> dict[str, Any]:
        """A snapshot of queued, delivered, retried, dropped and dead-lettered writes (per
        surface), rejected hook calls and the circuit breaker; {} before initialize()."""
        core = self._core
        if core is None:
            return {}

        async def snapshot() -> dict[str, Any]:
            return core.stats()

        try:
            result: dict[str, Any] = loop.submit_and_wait(snapshot(), _QUEUE_TIMEOUT_S)
        except Exception as exc:
            log.warning("isokron stats unavailable: %s: %s", type(exc).__name__, exc)
            return {}
        return result

    def _backpressure(self, hook: str) -> None:
        """Slow the loop down instead of dropping writes: past half full, wait for room.

        Only while the database is reachable but slower than the loop; during an outage
        hooks return at once. Waits at most ``outbox_wait_s`` (0 turns this off); a loop
        that outruns the database for longer than that starts losing writes, each one
        logged.
        """
        core, config = self._core, self.config
        if core is None or config is None or config.outbox_wait_s <= 0:
            return
        if loop.loop_thread() is threading.current_thread():
            return
        if core.outbox.pressure() < 0.5 or core.outbox.retrying:
            return  # room, or an outage: never stall the agent loop for the database
        try:
            room = loop.submit_and_wait(core.outbox.wait_for_room(0.5, config.outbox_wait_s),
                                        config.outbox_wait_s + 1)
        except Exception as exc:
            log.warning("isokron %s: waiting for room in the outbox failed: %s: %s", hook,
                        type(exc).__name__, exc)
            return
        if not room and not core.outbox.retrying:
            log.warning("isokron %s: the outbox stayed over half full for %.3gs (database "
                        "slower than the agent loop); later writes may be dropped", hook,
                        config.outbox_wait_s)

