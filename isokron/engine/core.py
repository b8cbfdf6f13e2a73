"""AsyncIsoKron: the asyncio core — fan-out reads, caches, the prompt block, write hooks.

It composes the engine's parts and hands each one what it needs at construction:
:class:`~isokron.engine.warmup.ContextWarmer` (identity reads),
:class:`~isokron.engine.fairness.WorkspaceGate` (slots, breaker), the write queue and
:class:`~isokron.engine.writes.HookWrites` (what each hook writes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import asyncpg

from .. import telemetry
from ..config import IsoKronConfig, load_config
from ..db.context_keys import check_context_mode
from ..db.replicas import ReplicaRouter, replica_router
from ..db.transports import DeferredTransport, SubstrateTransport, WriteTransport
from ..embeddings import Embedder, load_embedder
from ..errors import InvalidInputError
from ..guard.dsn import redact_dsn
from ..guard.validate import check_workspace
from ..models import SessionContext
from ..pool import create_pool
from ..readers.actors import ActorDirectory, InjectedActors
from ..readers.substrate import PostgresSubstrate, Substrate
from ..stores.delegations import DelegationLedger
from ..stores.episodic import EpisodicEventStore
from ..stores.memory import NamespaceMemory
from ..stores.recall import Recall, RecallItem
from ..stores.sessions import AgentSessionStore, RequestContext
from .breaker import breaker_for
from .cache import CachedContext, Clock, ContextCache
from .embedding import Embeddings
from .erasing import Draining
from .fairness import WorkspaceGate
from .outbox import Outbox
from .recalling import Recaller
from .toolcalling import answer_tool
from .tools import annotate_tool_span
from .warmup import ContextWarmer
from .writequeue import WriteQueue
from .writes import HookWrites, cut_with_marker

__all__ = ["AsyncIsoKron", "cut_with_marker"]

log = logging.getLogger("isokron.core")

PoolOpener = Callable[[], Awaitable[asyncpg.Pool]]
T = TypeVar("T")

class AsyncIsoKron(Draining):
    """Serve an agent's governed identity from PostgreSQL and queue its writes.

    Use ``async with AsyncIsoKron(cfg) as kron``. Pass ``pool=`` to share an existing asyncpg
    pool (never closed here), ``substrate=`` / ``transport=`` to replace the seams (tests
    use ``InMemorySubstrate``), and ``clock=`` to drive the TTL cache.
    """

    def __init__(
        self,
        config: IsoKronConfig | Mapping[str, Any] | str,
        *,
        pool: asyncpg.Pool | None = None,
        pool_opener: PoolOpener | None = None,
        substrate: Substrate | None = None,
        transport: WriteTransport | None = None,
        clock: Clock | None = None,
        own_stores: bool | None = None,
        memory: Any = None,
        sessions: Any = None,
        episodic: Any = None,
        ledger: Any = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.config: IsoKronConfig = load_config(config)
        cfg = self.config
        spec = embedder if embedder is not None else cfg.embedder
        #: the embedder wired in (hybrid recall, texts embedded off the hot path), or None
        self.embeddings = None if spec is None else Embeddings(
            load_embedder(spec), self, batch_size=cfg.embed_batch_size, dedup=cfg.dedup,
            query_timeout_s=cfg.embed_timeout_s, dedup_threshold=cfg.dedup_threshold)
        self._pool = pool
        self._owns_pool = pool is None and pool_opener is None
        self._pool_opener = pool_opener
        self._pool_lock: asyncio.Lock | None = None
        self._substrate = substrate
        self._transport = transport
        self.cache = ContextCache(cfg.cache_ttl_seconds, clock=clock or time.monotonic,
                                  maxsize=cfg.cache_max_workspaces)
        self.breaker = breaker_for(cfg.dsn, failures=cfg.breaker_failures,
                                   open_seconds=cfg.breaker_open_seconds,
                                   display=redact_dsn(cfg.dsn))
        # An injected (fake) substrate means no database: no breaker on reads or writes.
        on_database = substrate is None
        self.gate = WorkspaceGate(cfg.workspace_concurrency,
                                  self.breaker if on_database else None)
        self.outbox = Outbox(capacity=cfg.outbox_capacity, max_bytes=cfg.outbox_max_bytes,
                             max_attempts=cfg.outbox_max_attempts,
                             dead_letter_max=cfg.dead_letter_max,
                             breaker=self.breaker if on_database else None)
        if cfg.otel_capture_content:
            telemetry.set_capture_content(True)
        telemetry.register(self)  # outbox and breaker in the metrics (with OpenTelemetry)
        self.replicas: ReplicaRouter | None = replica_router(cfg)
        self.rejected: dict[str, int] = {}
        #: injected stores (isokron.testing's fakes, or your own) replace PostgreSQL's
        self._stores: dict[str, Any] = {k: v for k, v in (
            ("memory", memory), ("sessions", sessions), ("episodic", episodic),
            ("ledger", ledger)) if v is not None}
        # own stores need PostgreSQL: with a fake substrate off unless asked for (or given)
        self.own_stores = own_stores if own_stores is not None else (
            on_database or bool(self._stores))
        injected_episodic = self._stores.get("episodic")
        self._actors = (InjectedActors(injected_episodic, cfg.actor_kind)
                        if injected_episodic is not None and hasattr(injected_episodic,
                                                                     "actor_for")
                        else ActorDirectory(self.pool, cfg.actor_kind))
        self.warmer = ContextWarmer(cfg, self.cache, self.gate, self)
        self.recaller = Recaller(cfg, self.gate, self, self.embeddings)
        self.queue = WriteQueue(self.outbox, self.gate, self.note_write)
        self.writes = HookWrites(queue=self.queue, cache=self.cache, actors=self._actors,
                                 transport=self.transport, stores=self,
                                 actor_kind=cfg.actor_kind, own_stores=self.own_stores)

    @property
    def fan_outs(self) -> int:
        """Full identity reads done so far (cache misses that were not partial refreshes)."""
        return self.warmer.fan_outs

    def observed(self) -> dict[str, Any]:
        """What the metrics report (see :class:`isokron.telemetry.Observed`)."""
        return {"dsn": redact_dsn(self.config.dsn), "depth": len(self.outbox),
                "dropped": self.outbox.stats.dropped,
                "dead_lettered": self.outbox.stats.dead_lettered,
                "lost": self.outbox.stats.undelivered, "breaker": self.breaker.state}

    def guarded(self, what: str, workspace_id: str,
                timeout: float | None = None) -> contextlib.AbstractAsyncContextManager[None]:
        """See :meth:`isokron.engine.fairness.WorkspaceGate.guarded`."""
        return self.gate.guarded(what, workspace_id, timeout)

    def stats(self) -> dict[str, Any]:
        """A snapshot of what happened to writes and the breaker (call on the core's loop).

        ``outbox``: totals (``queued``, ``delivered``, ``retried``, ``dropped``,
        ``dead_lettered``, ``deferred``), ``by_surface`` (the same per surface),
        ``queued_now``/``queued_bytes`` and the last ``dead_letters``;
        ``rejected``: hook calls whose writes could not be queued, per hook;
        ``breaker``: its state; ``embeddings``: the embedding queue's counters (None
        without an embedder).
        """
        return {
            "outbox": self.outbox.snapshot(),
            "rejected": dict(self.rejected),
            "breaker": self.breaker.snapshot(),
            "replicas": self.replicas.snapshot() if self.replicas is not None else None,
            "embeddings": (None if self.embeddings is None else
                           {**self.embeddings.queue.stats(),
                            "query_failures": self.embeddings.query_failures}),
        }

    def reject(self, hook: str, exc: BaseException) -> None:
        """Count and log a hook call whose writes could not be queued (never raises)."""
        self.rejected[hook] = self.rejected.get(hook, 0) + 1
        log.warning("isokron %s: write not queued: %s: %s (%d %s call(s) rejected so far)",
                    hook, type(exc).__name__, exc, self.rejected[hook], hook)

    # -- lifecycle -------------------------------------------------------------
    async def __aenter__(self) -> AsyncIsoKron:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self, timeout: float | None = None) -> int:
        """Drain writes (bounded), close an owned pool; return the writes that did not land."""
        wait = self.config.shutdown_timeout_s if timeout is None else timeout
        await self.outbox.drain(wait)
        lost = self.outbox.stats.undelivered  # dead-lettered, dropped when full, undelivered
        if self.embeddings is not None:  # rows left unembedded: the backfill's, not lost
            await self.embeddings.close(wait)
        if self._owns_pool and self._pool is not None:
            await self._pool.close()
        self._pool = None
        if self.replicas is not None:
            await self.replicas.close()
        return lost

    async def pool(self) -> asyncpg.Pool:
        """Return the pool, opening it on first use (a failed open is retried next time)."""
        if self._pool is not None:
            return self._pool
        if self._pool_lock is None:
            self._pool_lock = asyncio.Lock()
        async with self._pool_lock:
            if self._pool is None:
                if self._pool_opener is not None:
                    self._pool = await self._pool_opener()
                else:
                    cfg = self.config
                    self._pool = await create_pool(
                        cfg.dsn, min_size=cfg.pool_min_size, max_size=cfg.pool_max_size,
                        statement_timeout_ms=cfg.statement_timeout_ms,
                        prepared_statements=cfg.prepared_statements,
                        context_signer=cfg.context_signer())
                await check_context_mode(self._pool, self.config.signed_context)
            return self._pool

    async def reading(self, workspace_id: str, read: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
        """Run ``read`` on ``workspace_id``'s read pool (a fresh, caught-up replica, else the
        primary); a replica's connection failure marks it down and the primary runs it."""
        primary = await self.pool()
        if self.replicas is None:
            return await read(primary)
        return await self.replicas.run(workspace_id, primary, read)

    async def note_write(self, workspace_id: str) -> None:
        """After a write: remember the primary's WAL position (read-your-writes)."""
        if self.replicas is not None:
            await self.replicas.note_write(workspace_id, await self.pool())

    async def read_substrate(self, workspace_id: str,
                             read: Callable[[Substrate], Awaitable[T]]) -> T:
        """Run ``read`` on the read seam for ``workspace_id`` (see :meth:`reading`)."""
        substrate = await self.substrate()
        if self.replicas is not None and self._substrate is substrate and isinstance(
                substrate, PostgresSubstrate):
            return await self.reading(workspace_id, lambda pool: read(PostgresSubstrate(pool)))
        return await read(substrate)

    async def reset_connections(self) -> bool:
        """Drop the pool's connections (after a server restart); False without a pool."""
        if self._pool is None:
            return False
        await self._pool.expire_connections()
        return True

    async def substrate(self) -> Substrate:
        """Return the read seam (PostgreSQL unless one was injected)."""
        if self._substrate is None:
            self._substrate = PostgresSubstrate(await self.pool())
        return self._substrate

    async def memory(self) -> NamespaceMemory:
        """Return the namespaced memory store on the pool (or the injected one)."""
        if "memory" in self._stores:
            return self._stores["memory"]  # type: ignore[no-any-return]
        return NamespaceMemory(await self.pool(), observer=self.embeddings)

    async def read_memory(self, workspace_id: str,
                          read: Callable[[NamespaceMemory], Awaitable[T]]) -> T:
        """Run ``read`` on the memory store of ``workspace_id``'s read pool (:meth:`reading`)."""
        if "memory" in self._stores or self.replicas is None:
            return await read(await self.memory())
        return await self.reading(workspace_id, lambda pool: read(NamespaceMemory(pool)))

    async def sessions(self) -> AgentSessionStore:
        """Return the session store on the pool (or the injected one)."""
        if "sessions" in self._stores:
            return self._stores["sessions"]  # type: ignore[no-any-return]
        return AgentSessionStore(await self.pool(), observer=self.embeddings)

    async def read_recall(self, workspace_id: str,
                          read: Callable[[Recall], Awaitable[T]]) -> T | None:
        """Run ``read`` on the recall store of ``workspace_id``'s read pool (:meth:`reading`);
        None when memory is injected."""
        if "memory" in self._stores:
            return None
        return await self.reading(workspace_id, lambda pool: read(Recall(pool)))

    @telemetry.traced("isokron.prefetch", operation="search_memory")
    async def recall(self, workspace_id: str, query: str, *, user_id: str | None = None) -> str:
        """Recall for ``query`` (memories and the user's conversations) as the block."""
        return await self.recaller.block(workspace_id, query,
                                         user_id=user_id or self.config.user_id)

    async def recall_items(self, workspace_id: str, query: str, *, user_id: str | None = None,
                           limit: int | None = None) -> list[RecallItem]:
        """Return one ranked list: memories of the readable namespaces and the messages of
        ``user_id`` (default: the configured user) in this workspace, best first."""
        return await self.recaller.items(workspace_id, query,
                                         user_id=user_id or self.config.user_id, limit=limit)

    @telemetry.traced("isokron.tool", operation="execute_tool", annotate=annotate_tool_span)
    async def handle_tool(self, workspace_id: str, name: str, args: Any, *,
                          user_id: str | None = None) -> str:
        """Run one memory tool for ``user_id`` (default: the configured user) and return its
        JSON envelope (never raise: any input gets a typed error envelope)."""
        return await answer_tool(self, workspace_id, name, args, user_id=user_id)

    async def episodic(self) -> EpisodicEventStore:
        """Return the episodic event store on the pool (or the injected one)."""
        if "episodic" in self._stores:
            return self._stores["episodic"]  # type: ignore[no-any-return]
        return EpisodicEventStore(await self.pool())

    async def read_episodic(self, workspace_id: str,
                            read: Callable[[EpisodicEventStore], Awaitable[T]]) -> T:
        """Run ``read`` on the episodic store of ``workspace_id``'s read pool (:meth:`reading`)."""
        if "episodic" in self._stores or self.replicas is None:
            return await read(await self.episodic())
        return await self.reading(workspace_id, lambda pool: read(EpisodicEventStore(pool)))

    async def ledger(self) -> DelegationLedger:
        """Return the delegation ledger on the pool (or the injected one)."""
        if "ledger" in self._stores:
            return self._stores["ledger"]  # type: ignore[no-any-return]
        return DelegationLedger(await self.pool())

    async def actor_id(self, workspace_id: str) -> uuid.UUID | None:
        """Return the configured actor kind's actor id in ``workspace_id`` (cached), or None."""
        return await self._actors.actor_id(workspace_id)

    async def transport(self) -> WriteTransport:
        """Return the write transport chosen by ``write_transport``."""
        if self._transport is None:
            if self.config.write_transport == "substrate":
                self._transport = SubstrateTransport(await self.pool())
            else:
                self._transport = DeferredTransport()
        return self._transport

    # -- reads -------------------------------------------------------------------
    def cached(self, workspace_id: str) -> CachedContext | None:
        """Return the fresh cached entry without I/O (thread-safe)."""
        return self.warmer.cached(workspace_id)

    async def warm(self, workspace_id: str) -> SessionContext:
        """Return the workspace's context: cached if fresh, else one single-flight fan-out."""
        return (await self.warmer.entry(workspace_id)).context

    async def session_context(self, workspace_id: str) -> SessionContext:
        """Return the context, cache first."""
        return await self.warm(workspace_id)

    async def system_prompt_block(self, workspace_id: str) -> str:
        """Return the rendered identity block (no I/O when warm)."""
        return (await self.warmer.entry(workspace_id)).block

    def invalidate(self, workspace_id: str | None = None) -> None:
        """Drop cached contexts for one workspace or all of them."""
        self.cache.invalidate(workspace_id)

    # -- writes (queued; return at once) -------------------------------------------
    @telemetry.traced("isokron.sync_turn")
    async def sync_turn(
        self, workspace_id: str, user_content: str, assistant_content: str, *,
        session_id: str = "", turn_number: int = 0, user_id: str | None = None,
    ) -> None:
        """Queue the session messages, a ``turn`` episode, and a reasoning_trail entry when a
        cap_* is named. Inputs are checked before anything is queued."""
        user = user_id or self.config.user_id
        check_workspace(workspace_id)
        RequestContext(workspace_id, user)  # raises on a bad user id
        for name, text in (("user_content", user_content),
                           ("assistant_content", assistant_content)):
            if not isinstance(text, str):
                raise InvalidInputError(f"{name} must be a string, got {type(text).__name__}")
        self.writes.turn(workspace_id, user, user_content, assistant_content,
                         session_id=session_id, turn_number=turn_number)

    @telemetry.traced("isokron.on_memory_write")
    async def on_memory_write(
        self, workspace_id: str, action: str, target: str, content: str,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Queue a scratchpad mirror of a loop-side memory write."""
        self.writes.memory_write(workspace_id, action, target, content)

    @telemetry.traced("isokron.on_delegation")
    async def on_delegation(
        self, workspace_id: str, task: str, result: str, *, child_session_id: str = "",
    ) -> None:
        """Queue the ledger row, a ``delegation`` episode, a scratchpad entry and a chain event."""
        self.writes.delegation(workspace_id, task, result, child_session_id=child_session_id)

    @telemetry.traced("isokron.on_session_end")
    async def on_session_end(self, workspace_id: str, *, session_id: str, turn_count: int) -> None:
        """Queue a ``<actor_kind>.session.ended`` event."""
        self.writes.session_end(workspace_id, session_id=session_id, turn_count=turn_count)
