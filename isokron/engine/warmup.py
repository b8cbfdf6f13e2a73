"""Warm a workspace's governed identity: cache first, else one single-flight read.

A failed read serves the last verified context for ``stale_if_error_seconds``; an
identity that fails verification is never served (fail-closed).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import attrs

from .. import telemetry
from ..config import IsoKronConfig
from ..errors import (
    NoActiveRoleCharterError,
    QueryTimeoutError,
    RoleCharterIntegrityError,
    SubstrateUnavailableError,
)
from ..guard.dsn import redact_dsn
from ..models import SessionContext
from ..readers.substrate import Substrate
from .cache import CachedContext, ContextCache
from .fairness import WorkspaceGate
from .prompt import render_prompt_block

__all__ = ["ContextWarmer", "ReadSource"]

log = logging.getLogger("isokron.core")
T = TypeVar("T")


class ReadSource(Protocol):
    """Where a warm-up reads from."""

    async def read_substrate(self, workspace_id: str,
                             read: Callable[[Substrate], Awaitable[T]]) -> T:
        """Run ``read`` on the read seam for ``workspace_id`` (a fresh, caught-up replica,
        else the primary; the primary again when the replica's connection fails)."""
        ...

    async def reset_connections(self) -> bool:
        """Drop the pool's connections after a failure; False when there is no pool."""
        ...


class ContextWarmer:
    """Serve ``SessionContext`` and the rendered block per workspace."""

    def __init__(self, config: IsoKronConfig, cache: ContextCache, gate: WorkspaceGate,
                 source: ReadSource) -> None:
        self.config = config
        self.cache = cache
        self._gate = gate
        self._source = source
        self._stale_warned: set[str] = set()
        #: full reads done (cache misses that were not partial refreshes)
        self.fan_outs = 0

    def cached(self, workspace_id: str) -> CachedContext | None:
        """Return the fresh cached entry without I/O (thread-safe)."""
        if self.cache.dirty_parts(workspace_id):
            return None
        return self.cache.peek(workspace_id)

    async def entry(self, workspace_id: str) -> CachedContext:
        """Return the workspace's entry: cached if fresh, else one single-flight read."""
        entry = self.cached(workspace_id)
        if entry is not None:
            telemetry.record_warm(True)
            return entry
        async with telemetry.span("isokron.warm", **{"isokron.workspace.id": workspace_id,
                                                     "isokron.cache.hit": False}):
            started = telemetry.now()
            entry = await self.cache.single_flight(workspace_id,
                                                   lambda: self._load(workspace_id))
            telemetry.record_warm(False, telemetry.now() - started)
        return entry

    async def _load(self, workspace_id: str) -> CachedContext:
        budget = self.config.prefetch_timeout_s * 0.9
        try:
            async with self._gate.guarded(f"reading workspace {workspace_id}", workspace_id,
                                          timeout=budget):
                context, verified_at = await self._read_with_retry(workspace_id)
        except (NoActiveRoleCharterError, RoleCharterIntegrityError):
            self.cache.invalidate(workspace_id, forget=True)  # never serve an unverified identity
            raise
        except (SubstrateUnavailableError, TimeoutError) as exc:
            return self._serve_stale(workspace_id, exc)
        self._stale_warned.discard(workspace_id)
        block = render_prompt_block(context, max_chars=self.config.prompt_max_chars)
        return self.cache.put(workspace_id, context, block, stored_at=verified_at)

    async def _read_with_retry(self, workspace_id: str) -> tuple[SessionContext, float | None]:
        try:
            return await self._read(workspace_id)
        except QueryTimeoutError:
            raise  # the server answered: asking again would wait as long again
        except SubstrateUnavailableError:
            # After a server restart the pool may hold dead connections: drop them, try once more.
            if not await self._source.reset_connections():
                raise
            return await self._read(workspace_id)

    async def _read(self, workspace_id: str) -> tuple[SessionContext, float | None]:
        """Read the context; a partial refresh also returns the original verification time."""
        cfg = self.config
        fresh = self.cache.peek(workspace_id)
        dirty = self.cache.dirty_parts(workspace_id)
        if fresh is not None and dirty:
            # Re-read only the parts a write made stale (own scratchpad and/or events).
            changes = await self._source.read_substrate(workspace_id, lambda s: s.read_parts(
                workspace_id, dirty, actor_kind=cfg.actor_kind,
                scratchpad_limit=cfg.scratchpad_limit, event_limit=cfg.recent_event_limit))
            return attrs.evolve(fresh.context, **changes), fresh.stored_at
        self.fan_outs += 1
        context = await self._source.read_substrate(workspace_id, lambda s: s.read_context(
            workspace_id, actor_kind=cfg.actor_kind, scratchpad_limit=cfg.scratchpad_limit,
            event_limit=cfg.recent_event_limit,
        ))
        return context, None

    def _serve_stale(self, workspace_id: str, exc: BaseException) -> CachedContext:
        previous = self.cache.last_good(workspace_id)
        max_age = self.config.stale_if_error_seconds
        if previous is not None and self.cache.clock() - previous.stored_at <= max_age:
            if workspace_id not in self._stale_warned:
                self._stale_warned.add(workspace_id)
                log.warning(
                    "substrate unavailable for workspace %s (%s); serving the context verified "
                    "%.0fs ago (stale-if-error up to %.0fs)", workspace_id, type(exc).__name__,
                    self.cache.clock() - previous.stored_at, max_age,
                )
            return previous
        if isinstance(exc, SubstrateUnavailableError):
            raise exc
        raise SubstrateUnavailableError(
            f"reading workspace {workspace_id} from {redact_dsn(self.config.dsn)} took longer "
            f"than {self.config.prefetch_timeout_s:.3g}s"
        ) from exc
