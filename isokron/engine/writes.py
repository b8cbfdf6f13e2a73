"""Build the outbox jobs behind AsyncIsoKron's write hooks (one job per write).

Every job chooses its ids when it is queued, so a retry after an ambiguous failure
(committed, but the reply was lost) writes nothing twice in isokron's own tables.

What the jobs need from their host comes in at construction, through the narrow
protocols below: a turn's writes flow core → writes → outbox → stores, one way.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ..db.transports import WriteTransport
from ..readers.actors import ActorLookup
from ..stores.delegations import DelegationLedger
from ..stores.episodic import EpisodicEventStore
from ..stores.sessions import AgentSessionStore, RequestContext

__all__ = ["DirtyMarks", "HookWrites", "JobQueue", "StoreSource", "cut_with_marker",
           "payload_bytes"]

log = logging.getLogger("isokron.core")

CAPABILITY_MENTION = re.compile(r"\bcap_[a-z0-9_]+\b")
PREVIEW_CHARS = 200
TURN_TEXT_CHARS = 2000


class JobQueue(Protocol):
    """Where the jobs go (:class:`isokron.engine.writequeue.WriteQueue`)."""

    def submit(self, name: str, run: Callable[[], Awaitable[object]], *, size: int = 0,
               lane: str = "", item: Any = None,
               merge: Callable[[list[Any]], Awaitable[object]] | None = None,
               workspace_id: str | None = None) -> bool: ...


class DirtyMarks(Protocol):
    """The context cache, told which parts of a workspace a write made stale."""

    def mark_dirty(self, workspace_id: str, part: str) -> None: ...


class StoreSource(Protocol):
    """isokron's own stores (PostgreSQL ones, or injected fakes)."""

    async def episodic(self) -> EpisodicEventStore: ...

    async def ledger(self) -> DelegationLedger: ...

    async def sessions(self) -> AgentSessionStore: ...


def payload_bytes(*values: Any) -> int:
    """Estimate the memory a queued write holds: its payload as UTF-8 / JSON."""
    total = 0
    for value in values:
        if isinstance(value, str):
            total += len(value.encode("utf-8", "surrogatepass"))
        elif value is not None:
            total += len(json.dumps(value, default=str, ensure_ascii=False)
                         .encode("utf-8", "surrogatepass"))
    return total


def cut_with_marker(text: str, limit: int) -> str:
    """Return ``text`` cut to ``limit`` characters, ending in a visible marker when cut."""
    if len(text) <= limit:
        return text
    marker = f" …[cut {len(text) - limit} chars]"
    return text[: max(0, limit - len(marker))] + marker


#: (context, session uuid, the loop's session id, messages with their ids)
_MessageItem = tuple[RequestContext, uuid.UUID, str, list[dict[str, Any]]]


class HookWrites:
    """Queue the substrate and store writes the hooks make.

    ``own_stores=False`` (an injected substrate and no stores) writes only through the
    transport: isokron's own tables need PostgreSQL.
    """

    def __init__(self, *, queue: JobQueue, cache: DirtyMarks, actors: ActorLookup,
                 transport: Callable[[], Awaitable[WriteTransport]], stores: StoreSource,
                 actor_kind: str, own_stores: bool) -> None:
        self._queue = queue
        self._cache = cache
        self._actors = actors
        self._transport = transport
        self._stores = stores
        self.actor_kind = actor_kind
        self.own_stores = own_stores

    # -- what one hook call writes ----------------------------------------------------
    def turn(self, workspace_id: str, user_id: str, user_content: str,
             assistant_content: str, *, session_id: str, turn_number: int) -> None:
        """Queue a turn: the session messages, a ``turn`` episode, and a reasoning_trail
        entry naming the cap_* capabilities the answer names (not the answer).

        The episode holds no text of the turn (its session, number and the lengths of the
        two texts): episodes are the workspace's, read by every user's agent through
        ``isokron_episodes_recent`` and MCP, while what the user said is that user's,
        kept in the session messages under tenant + user row-level security (where recall
        finds it)."""
        if self.own_stores:
            # One job, so one fate: the messages and the episode are delivered, retried
            # and dead-lettered (or counted lost) together, never one without the other
            # unseen. Both are idempotent by their ids, so a retry re-sends both safely.
            messages = self._message_item(workspace_id, user_id, session_id, [
                {"role": "user", "content": user_content},
                {"role": "assistant", "content": assistant_content},
            ])
            episode = self._episode_item(workspace_id, "turn", {
                "session_id": session_id,
                "session": str(messages[1]),  # the session's key: what erasure finds
                "turn_number": turn_number,
                "user_chars": len(user_content),
                "assistant_chars": len(assistant_content),
            })
            item = (messages, episode)

            async def run() -> None:
                await self._turns([item])

            self._queue.submit("session.turn", run,
                               size=payload_bytes(user_content, assistant_content),
                               lane=f"session:{messages[1]}", item=item, merge=self._turns,
                               workspace_id=workspace_id)
        caps = sorted(set(CAPABILITY_MENTION.findall(assistant_content)))
        if caps:  # the names only: the scratchpad is the workspace's, the answer the user's
            text = (f"[turn {turn_number} · session {session_id or '-'}] capabilities named: "
                    f"{', '.join(caps)}")
            self.scratchpad(workspace_id, "reasoning_trail",
                            cut_with_marker(text, TURN_TEXT_CHARS))

    def memory_write(self, workspace_id: str, action: str, target: str, content: str) -> None:
        """Queue a scratchpad mirror of a loop-side memory write."""
        text = cut_with_marker(f"[memory.{action} → {target}] {content}", TURN_TEXT_CHARS)
        self.scratchpad(workspace_id, "reasoning_trail", text)

    def delegation(self, workspace_id: str, task: str, result: str, *,
                   child_session_id: str) -> None:
        """Queue the ledger row, a ``delegation`` episode, a scratchpad entry and a chain
        event."""
        task_preview = task[:PREVIEW_CHARS]
        result_preview = result[:PREVIEW_CHARS]
        self.delegation_record(workspace_id, child_session_id, task, result)
        previews = {"child_session_id": child_session_id, "task_preview": task_preview,
                    "result_preview": result_preview}
        self.episode(workspace_id, "delegation", dict(previews))
        self.scratchpad(
            workspace_id, "route_decision",
            f"Delegated to child session {child_session_id or '-'}: {task_preview}\n"
            f"Result: {result_preview}",
        )
        self.event(workspace_id, f"{self.actor_kind}.handoff.delegated", dict(previews))

    def session_end(self, workspace_id: str, *, session_id: str, turn_count: int) -> None:
        """Queue a ``<actor_kind>.session.ended`` event."""
        self.event(workspace_id, f"{self.actor_kind}.session.ended",
                   {"session_id": session_id, "turn_count": turn_count})

    # -- substrate writes (through the transport) -----------------------------------
    def scratchpad(self, workspace_id: str, kind: str, content: str,
                   scope: str = "agent_private") -> None:
        """Queue one scratchpad entry; on success re-read the parts it changed."""
        async def run() -> None:
            transport = await self._transport()
            await transport.write_scratchpad(
                workspace_id, actor_kind=self.actor_kind, kind=kind, scope=scope,
                content=content,
            )
            # The write function also appends an approval event: both parts changed.
            self._cache.mark_dirty(workspace_id, "own_scratchpad")
            self._cache.mark_dirty(workspace_id, "recent_events")

        self._queue.submit(f"scratchpad.{kind}", run, size=payload_bytes(content),
                           lane=f"chain:{workspace_id}", workspace_id=workspace_id)

    def event(self, workspace_id: str, event_type: str, payload: dict[str, Any]) -> None:
        """Queue one chain event; on success re-read recent events."""
        async def run() -> None:
            transport = await self._transport()
            await transport.emit_event(workspace_id, event_type=event_type, payload=payload)
            self._cache.mark_dirty(workspace_id, "recent_events")

        self._queue.submit(f"event.{event_type}", run, size=payload_bytes(payload),
                           lane=f"chain:{workspace_id}", workspace_id=workspace_id)

    # -- isokron's own stores (idempotent by client-chosen ids) ---------------------------
    def _episode_item(self, workspace_id: str, event_type: str,
                      body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return workspace_id, {"id": uuid.uuid4(), "event_type": event_type, "body": body,
                              "sender": self.actor_kind}

    def episode(self, workspace_id: str, event_type: str, body: dict[str, Any]) -> None:
        """Queue one episodic event for the configured actor (queued ones go in one call)."""
        if not self.own_stores:
            return
        item = self._episode_item(workspace_id, event_type, body)

        async def run() -> None:
            await self._episodes([item])

        self._queue.submit(f"episodic.{event_type}", run, size=payload_bytes(body),
                           lane=f"episodic:{workspace_id}", item=item, merge=self._episodes,
                           workspace_id=workspace_id)

    async def _episodes(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        """Append queued episodic events of one workspace in one round trip."""
        workspace_id = items[0][0]
        agent = await self._actors.actor_id(workspace_id)
        if agent is None:
            log.warning("no %s actor in workspace %s: %d episodic event(s) not recorded",
                        self.actor_kind, workspace_id, len(items))
            return
        store = await self._stores.episodic()
        await store.append_many(workspace_id, agent, [event for _, event in items])

    def delegation_record(self, workspace_id: str, child_session_id: str, task: str,
                          result: str) -> None:
        """Queue a completed ledger row (callee derived from the child session id)."""
        if not self.own_stores:
            return
        delegation_id = f"{child_session_id or 'child'}:{uuid.uuid4()}"
        callee = uuid.uuid5(uuid.NAMESPACE_URL, f"isokron:session:{child_session_id}")

        async def run() -> None:
            agent = await self._actors.actor_id(workspace_id)
            if agent is None:
                log.warning("no %s actor in workspace %s: delegation not recorded",
                            self.actor_kind, workspace_id)
                return
            ledger = await self._stores.ledger()
            await ledger.record_completed(
                delegation_id, workspace_id=workspace_id, caller_id=agent, callee_id=callee,
                task_preview=task, result_preview=result,
            )

        self._queue.submit("delegation.record", run, size=payload_bytes(task, result),
                           lane=f"ledger:{workspace_id}", workspace_id=workspace_id)

    def messages(self, workspace_id: str, user_id: str, session_id: str,
                 messages: list[dict[str, Any]]) -> None:
        """Queue messages for the loop's session, creating the session on first use.

        Queued messages of one session are appended by one call, in order.
        """
        if not self.own_stores:
            return
        item = self._message_item(workspace_id, user_id, session_id, messages)
        session = item[1]

        async def run() -> None:
            await self._messages([item])

        self._queue.submit("session.messages", run, size=payload_bytes(messages),
                           lane=f"session:{session}", item=item, merge=self._messages,
                           workspace_id=workspace_id)

    @staticmethod
    def _message_item(workspace_id: str, user_id: str, session_id: str,
                      messages: list[dict[str, Any]]) -> _MessageItem:
        session = uuid.uuid5(uuid.NAMESPACE_URL,
                             f"isokron:agent-session:{workspace_id}:{user_id}:{session_id}")
        payload = [{**m, "id": uuid.uuid4()} for m in messages]
        return RequestContext(workspace_id, user_id), session, session_id, payload

    async def _turns(self, items: list[tuple[_MessageItem, tuple[str, dict[str, Any]]]]
                     ) -> None:
        """Write queued turns of one session: their messages, then their episodes."""
        await self._messages([messages for messages, _ in items])
        try:
            await self._episodes([episode for _, episode in items])
        except Exception as exc:
            exc.add_note(f"the messages of {len(items)} turn(s) were stored, their turn "
                         f"episode(s) not yet")
            raise

    async def _messages(self, items: list[_MessageItem]) -> None:
        ctx, session, session_id, _ = items[0]
        store = await self._stores.sessions()
        await store.create_session(ctx, agent_name=self.actor_kind, id=session,
                                   title=session_id or None)
        await store.append_messages(ctx, session, [m for *_, payload in items for m in payload])
