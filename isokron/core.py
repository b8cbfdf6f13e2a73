"""AsyncIsoKron: the asyncio core — fan-out reads, caches, the prompt block, write hooks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any

import asyncpg
import attrs

from . import telemetry
from .breaker import breaker_for
from .cache import CachedContext, Clock, ContextCache
from .config import IsoKronConfig, load_config
from .errors import (
    InvalidInputError,
    NoActiveRoleCharterError,
    QueryTimeoutError,
    RoleCharterIntegrityError,
    SubstrateUnavailableError,
)
from .models import SessionContext
from .outbox import Outbox, OutboxStats, WriteJob
from .pool import create_pool, is_connection_failure, redact_dsn, translate_errors
from .prompt import render_prompt_block
from .readers._common import check_workspace
from .readers.substrate import PostgresSubstrate, Substrate
from .recall import render_recall_block
from .replicas import ReplicaRouter
from .stores._validate import check_workspace as check_workspace_id
from .stores.delegations import DelegationLedger
from .stores.episodic import EpisodicEventStore
from .stores.memory import NamespaceMemory
from .stores.sessions import AgentSessionStore, RequestContext
from .tools import envelope_for, error_envelope, run_tool, unknown_tool
from .transports import DeferredTransport, SubstrateTransport, WriteTransport
from .writes import HookWrites

__all__ = ["AsyncIsoKron", "cut_with_marker"]

log = logging.getLogger("isokron.core")

CAPABILITY_MENTION = re.compile(r"\bcap_[a-z0-9_]+\b")
PREVIEW_CHARS = 200
TURN_TEXT_CHARS = 2000

PoolOpener = Callable[[], Awaitable[asyncpg.Pool]]


def cut_with_marker(text: str, limit: int) -> str:
    """Return ``text`` cut to ``limit`` characters, ending in a visible marker when cut."""
    if len(text) <= limit:
        return text
    marker = f" …[cut {len(text) - limit} chars]"
    return text[: max(0, limit - len(marker))] + marker


#: tools that write (read-your-writes: their workspace reads the primary until replayed)
WRITING_TOOL_NAMES = frozenset({"isokron_memory_commit", "isokron_memory_commit_summary",
                                "isokron_memory_forget"})

#: tools that read what the agent's queued writes may change
READ_YOUR_WRITES_TOOLS = frozenset({"isokron_memory_search", "isokron_episodes_recent",
                                    "isokron_memory_forget"})


def _on_tool(span: telemetry.Span, args: tuple[Any, ...], kwargs: dict[str, Any],
             result: Any) -> None:
    span.set("gen_ai.tool.name", args[2] if len(args) > 2 else kwargs.get("name"))
    span.set("isokron.tool.ok", isinstance(result, str) and result.startswith('{"ok": true'))
    span.content("gen_ai.tool.call.arguments", args[3] if len(args) > 3 else kwargs.get("args"))
    span.content("gen_ai.tool.call.result", result)


class AsyncIsoKron:
    """Serve an agent's governed identity from PostgreSQL and queue its writes.

    Use ``async with AsyncIsoKron(cfg) as kron``. Pass ``pool=`` to share an
    existing asyncpg pool (never closed here), ``substrate=`` / ``transport=``
    to replace the seams (tests use ``InMemorySubstrate``), and ``clock=`` to
    drive the TTL cache.
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
    ) -> None:
        self.config: IsoKronConfig = load_config(config)
        self._pool = pool
        self._owns_pool = pool is None and pool_opener is None
        self._pool_opener = pool_opener
        self._pool_lock: asyncio.Lock | None = None
        self._substrate = substrate
        self._transport = transport
        self.cache = ContextCache(self.config.cache_ttl_seconds, clock=clock or time.monotonic,
                                  maxsize=self.config.cache_max_workspaces)
        cfg = self.config
        self.breaker = breaker_for(cfg.dsn, failures=cfg.breaker_failures,
                                   open_seconds=cfg.breaker_open_seconds,
                                   display=redact_dsn(cfg.dsn))
        self.outbox = Outbox(capacity=cfg.outbox_capacity, max_bytes=cfg.outbox_max_bytes,
                             max_attempts=cfg.outbox_max_attempts,
                             dead_letter_max=cfg.dead_letter_max,
                             breaker=self.breaker if self.own_breaker(substrate) else None)
        self._breaker_on = self.own_breaker(substrate)
        if cfg.otel_capture_content:
            telemetry.set_capture_content(True)
        telemetry.register(self)  # outbox and breaker in the metrics (with OpenTelemetry)
        self.replicas: ReplicaRouter | None = None
        if cfg.read_dsn:
            async def open_replica(dsn: str) -> asyncpg.Pool:
                return await create_pool(
                    dsn, min_size=1, max_size=cfg.pool_max_size,
                    statement_timeout_ms=cfg.statement_timeout_ms,
                    prepared_statements=cfg.prepared_statements)

            self.replicas = ReplicaRouter(cfg.read_dsn, max_lag_s=cfg.replica_max_lag_s,
                                          open_pool=open_replica)
        self._slotted_merges: dict[tuple[str, Any], Callable[[list[Any]], Awaitable[object]]] = {}
        self._slots: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}
        self.rejected: dict[str, int] = {}
        self._stale_warned: set[str] = set()
        self.fan_outs = 0
        # isokron's own stores need PostgreSQL; with an injected (fake) substrate they are
        # off unless asked for, so unit tests never try to reach a database.
        self.own_stores = own_stores if own_stores is not None else substrate is None
        self._actor_ids: dict[str, uuid.UUID] = {}
        #: injected stores (isokron.testing's fakes, or your own): used instead of the
        #: PostgreSQL ones
        self._stores: dict[str, Any] = {k: v for k, v in (
            ("memory", memory), ("sessions", sessions), ("episodic", episodic),
            ("ledger", ledger)) if v is not None}
        if self._stores and own_stores is None:
            self.own_stores = True
        self.writes = HookWrites(self)

    @staticmethod
    def own_breaker(substrate: Substrate | None) -> bool:
        """An injected (fake) substrate means no database: no breaker on the writes."""
        return substrate is None

    # -- fairness and failing fast ---------------------------------------------
    @contextlib.asynccontextmanager
    async def workspace_slot(self, workspace_id: str) -> AsyncIterator[None]:
        """Hold one of the workspace's ``workspace_concurrency`` slots on the shared pool.

        A workspace sending many slow calls queues behind its own slots and leaves the
        rest of the pool to the others.
        """
        entry = self._slots.get(workspace_id)
        if entry is None:
            entry = self._slots[workspace_id] = (
                asyncio.Semaphore(self.config.workspace_concurrency), [0])
        semaphore, users = entry
        users[0] += 1
        try:
            async with semaphore:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0 and self._slots.get(workspace_id) is entry:
                del self._slots[workspace_id]

    @contextlib.asynccontextmanager
    async def guarded(self, what: str, workspace_id: str,
                      timeout: float | None = None) -> AsyncIterator[None]:
        """Fail fast while the breaker is open; hold a workspace slot (within ``timeout``,
        which bounds the wait for the slot and the call); tell the breaker how the call
        went (connection-level failures and timeouts count, client errors do not)."""
        if self._breaker_on:
            self.breaker.check(what)
        try:
            async with asyncio.timeout(timeout), self.workspace_slot(workspace_id):
                yield
        except BaseException as exc:
            if self._breaker_on:
                if is_connection_failure(exc):
                    self.breaker.record_failure()
                else:
                    self.breaker.release_probe()
            raise
        if self._breaker_on:
            self.breaker.record_success()

    def stats(self) -> dict[str, Any]:
        """A snapshot of what happened to writes and the breaker (call on the core's loop).

        ``outbox``: totals (``queued``, ``delivered``, ``retried``, ``dropped``,
        ``dead_lettered``, ``deferred``), ``by_surface`` (the same per surface),
        ``queued_now``/``queued_bytes`` and the last ``dead_letters``;
        ``rejected``: hook calls whose writes could not be queued, per hook;
        ``breaker``: its state.
        """
        def counters(stats: OutboxStats) -> dict[str, int]:
            return {"queued": stats.queued, "delivered": stats.delivered,
                    "retried": stats.retried, "dropped": stats.dropped,
                    "overflowed": stats.overflowed, "lost": stats.lost,
                    "dead_lettered": stats.dead_lettered, "deferred": stats.deferred}

        outbox = self.outbox
        return {
            "outbox": {
                **counters(outbox.stats),
                "queued_now": len(outbox), "queued_bytes": outbox.queued_bytes,
                "by_surface": {k: counters(v) for k, v in sorted(outbox.by_surface.items())},
                "dead_letters": [attrs.asdict(d) for d in outbox.dead_letters],
            },
            "rejected": dict(self.rejected),
            "breaker": self.breaker.snapshot(),
            "replicas": self.replicas.snapshot() if self.replicas is not None else None,
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
        """Drain queued writes (bounded) and close an owned pool; return writes lost."""
        lost = await self.outbox.drain(
            self.config.shutdown_timeout_s if timeout is None else timeout
        )
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
                    )
            return self._pool

    async def read_pool(self, workspace_id: str) -> asyncpg.Pool:
        """The pool ``workspace_id``'s reads go to: a caught-up replica, else the primary."""
        primary = await self.pool()
        if self.replicas is None:
            return primary
        return await self.replicas.pick(workspace_id, primary)

    async def note_write(self, workspace_id: str) -> None:
        """After a write: remember the primary's WAL position (read-your-writes)."""
        if self.replicas is None:
            return
        # The insert position: with synchronous_commit off the write position can still be
        # before this commit's record.
        lsn = await (await self.pool()).fetchval("SELECT pg_current_wal_insert_lsn()::text")
        self.replicas.wrote(workspace_id, str(lsn))

    async def substrate(self) -> Substrate:
        """Return the read seam (PostgreSQL unless one was injected)."""
        if self._substrate is None:
            self._substrate = PostgresSubstrate(await self.pool())
        return self._substrate

    async def memory(self, *, read_of: str | None = None) -> NamespaceMemory:
        """Return the namespaced memory store on the pool (or the injected one); with
        ``read_of``, on the pool that workspace's reads go to."""
        if "memory" in self._stores:
            return self._stores["memory"]  # type: ignore[no-any-return]
        if read_of is not None and self.replicas is not None:
            return NamespaceMemory(await self.read_pool(read_of))
        return NamespaceMemory(await self.pool())

    async def sessions(self) -> AgentSessionStore:
        """Return the session store on the pool (or the injected one)."""
        if "sessions" in self._stores:
            return self._stores["sessions"]  # type: ignore[no-any-return]
        return AgentSessionStore(await self.pool())

    @telemetry.traced("isokron.prefetch", operation="search_memory")
    async def recall(self, workspace_id: str, query: str) -> str:
        """Search the readable namespaces for ``query`` and render the recall block."""
        async with self.guarded("recalling memories", workspace_id):
            store = await self.memory(read_of=workspace_id)
            found = await store.search(workspace_id, query, limit=self.config.recall_limit)
        return render_recall_block(found, max_chars=self.config.recall_max_chars)

    @telemetry.traced("isokron.tool", operation="execute_tool", annotate=_on_tool)
    async def handle_tool(self, workspace_id: str, name: str, args: Any) -> str:
        """Run one memory tool and return its JSON envelope (never raise: every input, however
        malformed, gets a typed error envelope)."""
        refused = unknown_tool(name)  # before any wait: a bad name needs no database
        if refused is not None:
            return refused
        try:
            check_workspace_id(workspace_id)
            if name in READ_YOUR_WRITES_TOOLS:
                # The agent must find what it just did: its queued writes land first.
                await self.outbox.wait_for_workspace(workspace_id,
                                                     self.config.prefetch_timeout_s)
            async with self.guarded(f"tool {name}", workspace_id):
                result = await run_tool(self, workspace_id, name, args)
                if name in WRITING_TOOL_NAMES and result.startswith('{"ok": true'):
                    await self.note_write(workspace_id)
                return result
        except SubstrateUnavailableError as exc:  # the breaker is open: answer at once
            return error_envelope(type(exc).__name__, str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the envelope, always: never an exception into the loop
            return envelope_for(exc, name)

    async def episodic(self, *, read_of: str | None = None) -> EpisodicEventStore:
        """Return the episodic event store on the pool (or the injected one); with
        ``read_of``, on the pool that workspace's reads go to."""
        if "episodic" in self._stores:
            return self._stores["episodic"]  # type: ignore[no-any-return]
        if read_of is not None and self.replicas is not None:
            return EpisodicEventStore(await self.read_pool(read_of))
        return EpisodicEventStore(await self.pool())

    async def ledger(self) -> DelegationLedger:
        """Return the delegation ledger on the pool (or the injected one)."""
        if "ledger" in self._stores:
            return self._stores["ledger"]  # type: ignore[no-any-return]
        return DelegationLedger(await self.pool())

    async def actor_id(self, workspace_id: str) -> uuid.UUID | None:
        """Return the configured actor kind's actor id in ``workspace_id`` (cached), or None."""
        cached = self._actor_ids.get(workspace_id)
        if cached is not None:
            return cached
        injected = self._stores.get("episodic")
        if injected is not None and hasattr(injected, "actor_for"):
            found_fake: uuid.UUID | None = injected.actor_for(workspace_id,
                                                              self.config.actor_kind)
            return found_fake
        pool = await self.pool()
        async with translate_errors("resolving the agent's actor id"):
            found = await pool.fetchval(
                "SELECT actor_id FROM public.actor_registry WHERE workspace_id = $1 "
                "AND actor_kind = $2 ORDER BY created_at, actor_id LIMIT 1",
                workspace_id, self.config.actor_kind,
            )
        if found is None:
            return None
        actor = uuid.UUID(str(found))
        self._actor_ids[workspace_id] = actor
        return actor

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
        if self.cache.dirty_parts(workspace_id):
            return None
        return self.cache.peek(workspace_id)

    async def warm(self, workspace_id: str) -> SessionContext:
        """Return the workspace's context: cached if fresh, else one single-flight fan-out."""
        return (await self._entry(workspace_id)).context

    async def session_context(self, workspace_id: str) -> SessionContext:
        """Return the context, cache first."""
        return await self.warm(workspace_id)

    async def system_prompt_block(self, workspace_id: str) -> str:
        """Return the rendered identity block (no I/O when warm)."""
        return (await self._entry(workspace_id)).block

    def invalidate(self, workspace_id: str | None = None) -> None:
        """Drop cached contexts for one workspace or all of them."""
        self.cache.invalidate(workspace_id)

    async def _entry(self, workspace_id: str) -> CachedContext:
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
            async with self.guarded(f"reading workspace {workspace_id}", workspace_id,
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
            if self._pool is None:
                raise
            await self._pool.expire_connections()
            return await self._read(workspace_id)

    async def _read(self, workspace_id: str) -> tuple[SessionContext, float | None]:
        """Read the context; a partial refresh also returns the original verification time."""
        cfg = self.config
        substrate = await self.substrate()
        if self.replicas is not None and self._substrate is substrate and isinstance(
                substrate, PostgresSubstrate):
            substrate = PostgresSubstrate(await self.read_pool(workspace_id))
        fresh = self.cache.peek(workspace_id)
        dirty = self.cache.dirty_parts(workspace_id)
        if fresh is not None and dirty:
            refreshed = await self._refresh_parts(substrate, fresh.context, dirty)
            return refreshed, fresh.stored_at
        self.fan_outs += 1
        context = await substrate.read_context(
            workspace_id, actor_kind=cfg.actor_kind, scratchpad_limit=cfg.scratchpad_limit,
            event_limit=cfg.recent_event_limit,
        )
        return context, None

    async def _refresh_parts(
        self, substrate: Substrate, context: SessionContext, parts: frozenset[str]
    ) -> SessionContext:
        """Re-read only the parts a write made stale (own scratchpad and/or events)."""
        cfg = self.config
        changes = await substrate.read_parts(
            context.workspace_id, parts, actor_kind=cfg.actor_kind,
            scratchpad_limit=cfg.scratchpad_limit, event_limit=cfg.recent_event_limit)
        return attrs.evolve(context, **changes)

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

    # -- writes (queued; return at once) -------------------------------------------
    def enqueue(self, name: str, run: Callable[[], Awaitable[object]], *, size: int = 0,
                lane: str = "", item: Any = None,
                merge: Callable[[list[Any]], Awaitable[object]] | None = None,
                workspace_id: str | None = None) -> bool:
        """Queue one write on the outbox (call on the core's loop); ``size`` is its payload.

        ``lane``, ``item`` and ``merge``: see :class:`isokron.outbox.WriteJob`. With
        ``workspace_id`` the write runs in one of that workspace's slots.
        """
        if workspace_id is not None:
            run, merge = self._in_slot(workspace_id, run), (
                None if merge is None else self._merge_in_slot(workspace_id, merge))
        return self.outbox.submit(WriteJob(name=name, run=run, size=size, lane=lane,
                                           item=item, merge=merge, workspace=workspace_id))

    def _in_slot(self, workspace_id: str,
                 run: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[object]]:
        async def slotted() -> object:
            async with self.workspace_slot(workspace_id):
                result = await run()
            await self.note_write(workspace_id)
            return result

        return slotted

    def _merge_in_slot(self, workspace_id: str, merge: Callable[[list[Any]], Awaitable[object]]
                       ) -> Callable[[list[Any]], Awaitable[object]]:
        # One wrapper per (workspace, merge function): consecutive jobs still compare equal.
        key = (workspace_id, merge)
        wrapped = self._slotted_merges.get(key)
        if wrapped is None:
            async def slotted(items: list[Any]) -> object:
                async with self.workspace_slot(workspace_id):
                    result = await merge(items)
                await self.note_write(workspace_id)
                return result

            wrapped = self._slotted_merges[key] = slotted
        return wrapped

    @telemetry.traced("isokron.sync_turn")
    async def sync_turn(
        self, workspace_id: str, user_content: str, assistant_content: str, *,
        session_id: str = "", turn_number: int = 0, user_id: str | None = None,
    ) -> None:
        """Queue the session messages, a ``turn`` episode, and a reasoning_trail entry when a
        cap_* is named. Inputs are checked before anything is queued."""
        RequestContext(workspace_id, user_id or self.config.user_id)  # raises on bad ids
        check_workspace(workspace_id)
        for name, text in (("user_content", user_content),
                           ("assistant_content", assistant_content)):
            if not isinstance(text, str):
                raise InvalidInputError(f"{name} must be a string, got {type(text).__name__}")
        self.writes.messages(workspace_id, user_id or self.config.user_id, session_id, [
            {"role": "user", "content": user_content},
            {"role": "assistant", "content": assistant_content},
        ])
        self.writes.episode(workspace_id, "turn", {
            "session_id": session_id,
            "turn_number": turn_number,
            "user": cut_with_marker(user_content, TURN_TEXT_CHARS),
            "assistant": cut_with_marker(assistant_content, TURN_TEXT_CHARS),
        })
        caps = sorted(set(CAPABILITY_MENTION.findall(assistant_content)))
        if caps:
            text = (f"[turn {turn_number} · session {session_id or '-'}] capabilities named: "
                    f"{', '.join(caps)}\n{assistant_content}")
            self.writes.scratchpad(workspace_id, "reasoning_trail",
                                 cut_with_marker(text, TURN_TEXT_CHARS))

    @telemetry.traced("isokron.on_memory_write")
    async def on_memory_write(
        self, workspace_id: str, action: str, target: str, content: str,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Queue a scratchpad mirror of a loop-side memory write."""
        text = cut_with_marker(f"[memory.{action} → {target}] {content}", TURN_TEXT_CHARS)
        self.writes.scratchpad(workspace_id, "reasoning_trail", text)

    @telemetry.traced("isokron.on_delegation")
    async def on_delegation(
        self, workspace_id: str, task: str, result: str, *, child_session_id: str = "",
    ) -> None:
        """Queue the ledger row, a ``delegation`` episode, a scratchpad entry and a chain event."""
        task_preview = task[:PREVIEW_CHARS]
        result_preview = result[:PREVIEW_CHARS]
        self.writes.delegation_record(workspace_id, child_session_id, task, result)
        self.writes.episode(workspace_id, "delegation", {
            "child_session_id": child_session_id,
            "task_preview": task_preview,
            "result_preview": result_preview,
        })
        self.writes.scratchpad(
            workspace_id, "route_decision",
            f"Delegated to child session {child_session_id or '-'}: {task_preview}\n"
            f"Result: {result_preview}",
        )
        self.writes.event(workspace_id, f"{self.config.actor_kind}.handoff.delegated", {
            "child_session_id": child_session_id,
            "task_preview": task_preview,
            "result_preview": result_preview,
        })

    @telemetry.traced("isokron.on_session_end")
    async def on_session_end(self, workspace_id: str, *, session_id: str, turn_count: int) -> None:
        """Queue a ``<actor_kind>.session.ended`` event."""
        self.writes.event(workspace_id, f"{self.config.actor_kind}.session.ended",
                        {"session_id": session_id, "turn_count": turn_count})

    async def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued write is handled; return False on timeout."""
        return await self.outbox.wait_idle(timeout)
