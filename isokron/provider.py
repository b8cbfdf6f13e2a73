"""IsoKronMemoryProvider: the sync provider agent loops plug in (a facade over AsyncIsoKron)."""

from __future__ import annotations

import concurrent.futures
import logging
import os
from collections.abc import Mapping
from typing import Any

import attrs

from . import telemetry
from .base import MemoryProvider
from .config import PROVIDER_NAME, IsoKronConfig, default_config_path, load_config
from .engine import loop
from .engine.core import AsyncIsoKron
from .errors import (
    ConfigError,
    NoActiveRoleCharterError,
    RoleCharterIntegrityError,
    SubstrateUnavailableError,
)
from .facade.toolcalls import ToolCalls
from .models import SessionContext

__all__ = ["IsoKronMemoryProvider"]

log = logging.getLogger("isokron.provider")
_FAIL_CLOSED = (NoActiveRoleCharterError, RoleCharterIntegrityError)


class IsoKronMemoryProvider(ToolCalls, MemoryProvider):
    """Give a sync agent loop isokron's governed memory; hooks never crash the loop.

    Only :class:`NoActiveRoleCharterError` and :class:`RoleCharterIntegrityError`
    (fail-closed), and :class:`SubstrateUnavailableError` from ``on_turn_start``
    on a cold workspace, reach the caller.
    """

    def __init__(
        self,
        config: IsoKronConfig | Mapping[str, Any] | str | os.PathLike[str] | None = None,
        *,
        integrity_failure: str | None = None,
        **core_options: Any,
    ) -> None:
        self._config_error: ConfigError | None = None
        self.config: IsoKronConfig | None = None
        try:
            if config is None:
                path = default_config_path()
                if path.exists():
                    self.config = load_config(path)
                else:
                    self._config_error = ConfigError(f"no configuration given and {path} is absent")
            else:
                self.config = load_config(config)
        except ConfigError as exc:
            self._config_error = exc
        if self._config_error is not None:  # reported once, here; unavailable_reason() keeps it
            log.error("isokron is not configured, so the agent runs without its governed "
                      "identity and memory: %s", self._config_error)
        if integrity_failure is not None and self.config is not None:
            # A host that catches provider exceptions (Hermes) asks for "lock".
            self.config = attrs.evolve(self.config, integrity_failure=integrity_failure)
        self._core_options = core_options
        #: workspaces whose identity failed verification, with the reason (lock mode)
        self._locked: dict[str, str] = {}
        #: False for Hermes's non-primary contexts (subagent, cron, flush): read only
        self.writes_allowed = True
        self.agent_context = "primary"
        self._messages_queued = 0
        self._memories_committed = 0
        self._core: AsyncIsoKron | None = None
        self._pool_key: tuple[Any, ...] | None = None
        self.session_id = ""
        self._workspace_id: str | None = None
        self.user_id: str | None = None
        self._queued: dict[tuple[str, str], concurrent.futures.Future[str]] = {}
        self._turns = 0  # turns completed (sync_turn calls) in this session
        self._turn_number = 0  # the latest turn number on_turn_start reported
        #: (cache generation, expires at, block) of the block served last
        self._hot: tuple[int, float, str] | None = None

    # -- identity ----------------------------------------------------------------
    @property
    def name(self) -> str:
        """Return ``isokron``."""
        return PROVIDER_NAME

    def is_available(self) -> bool:
        """Tell whether the configuration loaded and asyncpg imports (no network)."""
        if self.config is None:
            return False
        try:
            import asyncpg  # noqa: F401
        except ImportError:  # pragma: no cover - a hard dependency
            return False
        return True

    # -- lifecycle -----------------------------------------------------------------
    @telemetry.hook("initialize")
    def initialize(self, session_id: str, **kwargs: Any) -> None:
        """Bind the session; start nothing slow (the pool opens lazily on first use)."""
        self.session_id = session_id
        self._hot = None
        if kwargs.get("workspace_id"):
            self._workspace_id = str(kwargs["workspace_id"])
        user = kwargs.get("user_id") or kwargs.get("user_id_alt")
        if user:
            self.user_id = str(user)
        context = kwargs.get("agent_context")
        self.agent_context = str(context) if context else "primary"
        self.writes_allowed = self.agent_context == "primary"
        if self.config is None:
            return  # the configuration error was logged once, by __init__
        if self._core is None:
            cfg = self.config
            signer = cfg.context_signer()
            key = (cfg.dsn, cfg.pool_min_size, cfg.pool_max_size, cfg.statement_timeout_ms,
                   cfg.prepared_statements, signer.fingerprint if signer else None)
            self._pool_key = key

            async def open_pool() -> Any:
                return await loop.pools.acquire(
                    key, min_size=cfg.pool_min_size, max_size=cfg.pool_max_size,
                    statement_timeout_ms=cfg.statement_timeout_ms,
                    prepared_statements=cfg.prepared_statements, context_signer=signer,
                )

            self._core = AsyncIsoKron(cfg, pool_opener=open_pool, **self._core_options)
        loop.get_loop()  # start the shared loop thread now; it costs nothing later

    @telemetry.hook("shutdown")
    def shutdown(self) -> None:
        """Drain queued writes within ``shutdown_timeout_s`` and release the shared pool."""
        core, self._core = self._core, None
        self._hot = None
        if core is None or self.config is None:
            return
        timeout = self.config.shutdown_timeout_s

        async def close() -> int:
            opened = core._pool is not None
            lost = await core.close(timeout)
            if opened and self._pool_key is not None:
                await loop.pools.release(self._pool_key)
            return lost

        try:
            lost = loop.submit_and_wait(close(), timeout + 5)
        except Exception as exc:
            log.error("isokron shutdown did not complete: %s: %s", type(exc).__name__, exc)
            return
        if lost:
            log.warning("isokron shutdown: %d write(s) were not delivered", lost)

    # -- reads -------------------------------------------------------------------------
    @telemetry.hook("on_turn_start")
    def on_turn_start(self, turn_number: int, message: str, **kwargs: Any) -> None:
        """Warm the workspace's context (bounded by prefetch_timeout_s).

        Raises the fail-closed charter errors, and SubstrateUnavailableError when the
        database is unreachable and no verified context is recent enough to serve.
        """
        self._turn_number = int(turn_number)
        workspace = self.workspace_for(kwargs)
        if self.config is None:
            return  # not configured: logged once by __init__, see unavailable_reason()
        if self._core is None:
            log.warning("isokron on_turn_start: initialize() was not called; skipping")
            return
        if workspace is None:
            log.warning("isokron on_turn_start: no workspace (pass workspace_id to "
                        "initialize() or set workspace_id in the config); skipping")
            return
        if self.core.cached(workspace) is not None:
            self._locked.pop(workspace, None)
            return
        try:
            self._wait(self.core.warm(workspace))
            self._unlock(workspace)
        except _FAIL_CLOSED as exc:
            if not self._lock(workspace, exc):
                raise
        except SubstrateUnavailableError:
            raise
        except TimeoutError as exc:
            raise SubstrateUnavailableError(
                f"warming workspace {workspace} took longer than "
                f"{self.config.prefetch_timeout_s if self.config else 0:.3g}s"
            ) from exc
        except Exception as exc:
            log.error("isokron on_turn_start failed: %s: %s", type(exc).__name__, exc)

    def system_prompt_block(self) -> str:
        """Return the cached identity block (warming only when cold); "" when unavailable."""
        hot, core = self._hot, self._core
        if hot is not None and core is not None:
            # The block served last time, while the cache has not changed since and the
            # entry has not expired: no lookup, no lock.
            generation, expires_at, served = hot
            if generation == core.cache.generation and core.cache.clock() < expires_at:
                telemetry.record_warm(True)
                return served
        workspace = self.workspace_for()
        if workspace is None or core is None:
            return ""
        if workspace in self._locked:
            return self._locked_block(workspace)
        generation = core.cache.generation
        entry = core.cached(workspace)
        if entry is not None:
            if core.cache.ttl_seconds > 0:
                self._hot = (generation, entry.stored_at + core.cache.ttl_seconds, entry.block)
            telemetry.record_warm(True)
            return entry.block
        try:
            block: str = self._wait(self.core.system_prompt_block(workspace))
            return block
        except _FAIL_CLOSED as exc:
            if self._lock(workspace, exc):
                return self._locked_block(workspace)
            raise
        except Exception as exc:
            log.warning("isokron system_prompt_block unavailable: %s: %s",
                        type(exc).__name__, exc)
            return ""

    def session_context(self, *, workspace_id: str | None = None) -> SessionContext | None:
        """Return the warm context for the workspace, or None (never does I/O)."""
        workspace = workspace_id or self.workspace_for()
        if workspace is None or self._core is None:
            return None
        entry = self.core.cached(workspace)
        return entry.context if entry is not None else None

    @telemetry.hook("prefetch")
    def prefetch(self, query: str, *, session_id: str = "") -> str:
        """Return recalled memories for ``query`` as an untrusted-data block ("" for none)."""
        workspace = self.workspace_for()
        if workspace is None or self._core is None or not query or not query.strip():
            return ""
        if workspace in self._locked:
            return ""
        assert self.config is not None
        queued = self._queued.pop((workspace, query), None)
        try:
            if queued is not None:
                block: str = queued.result(timeout=self.config.prefetch_timeout_s)
            else:
                block = self._wait(self.core.recall(workspace, query, user_id=self.user_id))
            return block
        except Exception as exc:  # recall must never break a turn
            log.warning("isokron prefetch failed: %s: %s", type(exc).__name__, exc)
            return ""

    @telemetry.hook("queue_prefetch")
    def queue_prefetch(self, query: str, *, session_id: str = "") -> None:
        """Start recalling ``query`` now; the next ``prefetch(query)`` picks up the result."""
        workspace = self.workspace_for()
        if workspace is None or self._core is None or not query or not query.strip():
            return
        while len(self._queued) >= 8:  # bounded: forget the oldest unclaimed recall
            self._queued.pop(next(iter(self._queued))).cancel()
        try:
            self._queued[(workspace, query)] = loop.submit(
                self.core.recall(workspace, query, user_id=self.user_id))
        except Exception as exc:
            log.warning("isokron queue_prefetch failed: %s: %s", type(exc).__name__, exc)

    @telemetry.hook("sync_turn")
    def sync_turn(
        self,
        user_content: str,
        assistant_content: str,
        *,
        session_id: str = "",
        messages: list[dict[str, Any]] | None = None,
    ) -> None:
        """Queue the turn's writes."""
        workspace = self.workspace_for()
        if not self._may_write("sync_turn", workspace) or workspace is None:
            return
        self._messages_queued += 2
        self._turns += 1
        self._fire("sync_turn", self.core.sync_turn(
            workspace, user_content, assistant_content,
            session_id=session_id or self.session_id,
            turn_number=max(self._turns, self._turn_number),
            user_id=self.user_id,
        ))

    @telemetry.hook("on_memory_write")
    def on_memory_write(
        self, action: str, target: str, content: str, metadata: dict[str, Any] | None = None
    ) -> None:
        """Queue a scratchpad mirror of the loop's memory write."""
        workspace = self.workspace_for()
        if not self._may_write("on_memory_write", workspace) or workspace is None:
            return
        self._fire("on_memory_write",
                   self.core.on_memory_write(workspace, action, target, content, metadata))

    @telemetry.hook("on_delegation")
    def on_delegation(
        self, task: str, result: str, *, child_session_id: str = "", **kwargs: Any
    ) -> None:
        """Queue the delegation's scratchpad entry and chain event."""
        workspace = self.workspace_for(kwargs)
        if not self._may_write("on_delegation", workspace) or workspace is None:
            return
        self._fire("on_delegation", self.core.on_delegation(
            workspace, task, result, child_session_id=child_session_id))

    @telemetry.hook("on_session_end")
    def on_session_end(self, messages: list[dict[str, Any]]) -> None:
        """Queue the ``<actor_kind>.session.ended`` event."""
        workspace = self.workspace_for()
        if not self._may_write("on_session_end", workspace) or workspace is None:
            return
        self._fire("on_session_end", self.core.on_session_end(
            workspace, session_id=self.session_id,
            turn_count=max(self._turns, self._turn_number)))

    @telemetry.hook("on_session_switch")
    def on_session_switch(
        self,
        new_session_id: str,
        *,
        parent_session_id: str = "",
        reset: bool = False,
        rewound: bool = False,
        **kwargs: Any,
    ) -> None:
        """Move to ``new_session_id``; ``reset=True`` or ``rewound=True`` (Hermes's /undo)
        flush the caches so nothing derived from undone turns is served."""
        self.session_id = new_session_id
        self._hot = None
        self._turns = self._turn_number = 0
        self._messages_queued = 0
        if kwargs.get("workspace_id"):
            self._workspace_id = str(kwargs["workspace_id"])
        if (reset or rewound) and self._core is not None:
            self.core.cache.invalidate(None)

    @telemetry.hook("on_pre_compress")
    def on_pre_compress(self, messages: list[dict[str, Any]]) -> str:
        """Return a one-line note of what isokron holds for the session, for the summary."""
        workspace = self.workspace_for()
        if workspace is None or self._core is None:
            return ""
        return (f"[isokron] This session's messages are stored in isokron (session "
                f"{self.session_id or '-'}, workspace {workspace}: {self._messages_queued} "
                f"message(s) this session; {self._memories_committed} memory(ies) committed); "
                "find them again with isokron_memory_search and isokron_episodes_recent.")

    # -- Hermes's wider contract ------------------------------------------------------------
    def initialize_for_inspection(self, session_id: str = "", **kwargs: Any) -> None:
        """Set up for ``hermes memory status``-style inspection: no writes, no warm-up."""
        self.initialize(session_id, **{**kwargs, "agent_context": "inspection"})
