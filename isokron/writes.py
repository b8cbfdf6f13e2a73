"""Build the outbox jobs behind AsyncIsoKron's write hooks (one job per write).

Every job chooses its ids when it is queued, so a retry after an ambiguous failure
(committed, but the reply was lost) writes nothing twice in isokron's own tables.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from .stores.sessions import RequestContext

if TYPE_CHECKING:
    from .core import AsyncIsoKron

__all__ = ["HookWrites"]

log = logging.getLogger("isokron.core")


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


class HookWrites:
    """Queue the substrate and store writes the hooks make, on ``kron``'s outbox."""

    def __init__(self, kron: AsyncIsoKron) -> None:
        self.kron = kron

    # -- substrate writes (through the transport) -----------------------------------
    def scratchpad(self, workspace_id: str, kind: str, content: str,
                   scope: str = "agent_private") -> None:
        """Queue one scratchpad entry; on success re-read the parts it changed."""
        kron = self.kron

        async def run() -> None:
            transport = await kron.transport()
            await transport.write_scratchpad(
                workspace_id, actor_kind=kron.config.actor_kind, kind=kind, scope=scope,
                content=content,
            )
            # The write function also appends an approval event: both parts changed.
            kron.cache.mark_dirty(workspace_id, "own_scratchpad")
            kron.cache.mark_dirty(workspace_id, "recent_events")

        kron.enqueue(f"scratchpad.{kind}", run, size=payload_bytes(content),
                     lane=f"chain:{workspace_id}", workspace_id=workspace_id)

    def event(self, workspace_id: str, event_type: str, payload: dict[str, Any]) -> None:
        """Queue one chain event; on success re-read recent events."""
        kron = self.kron

        async def run() -> None:
            transport = await kron.transport()
            await transport.emit_event(workspace_id, event_type=event_type, payload=payload)
            kron.cache.mark_dirty(workspace_id, "recent_events")

        kron.enqueue(f"event.{event_type}", run, size=payload_bytes(payload),
                     lane=f"chain:{workspace_id}", workspace_id=workspace_id)

    # -- isokron's own stores (idempotent by client-chosen ids) ---------------------------
    def episode(self, workspace_id: str, event_type: str, body: dict[str, Any]) -> None:
        """Queue one episodic event for the configured actor (queued ones go in one call)."""
        kron = self.kron
        if not kron.own_stores:
            return
        event = {"id": uuid.uuid4(), "event_type": event_type, "body": body,
                 "sender": kron.config.actor_kind}
        item = (workspace_id, event)

        async def run() -> None:
            await self._episodes([item])

        kron.enqueue(f"episodic.{event_type}", run, size=payload_bytes(body),
                     lane=f"episodic:{workspace_id}", item=item, merge=self._episodes,
                     workspace_id=workspace_id)

    async def _episodes(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        """Append queued episodic events of one workspace in one round trip."""
        kron = self.kron
        workspace_id = items[0][0]
        agent = await kron.actor_id(workspace_id)
        if agent is None:
            log.warning("no %s actor in workspace %s: %d episodic event(s) not recorded",
                        kron.config.actor_kind, workspace_id, len(items))
            return
        store = await kron.episodic()
        await store.append_many(workspace_id, agent, [event for _, event in items])

    def delegation_record(self, workspace_id: str, child_session_id: str, task: str,
                          result: str) -> None:
        """Queue a completed ledger row (callee derived from the child session id)."""
        kron = self.kron
        if not kron.own_stores:
            return
        delegation_id = f"{child_session_id or 'child'}:{uuid.uuid4()}"
        callee = uuid.uuid5(uuid.NAMESPACE_URL, f"isokron:session:{child_session_id}")

        async def run() -> None:
            agent = await kron.actor_id(workspace_id)
            if agent is None:
                log.warning("no %s actor in workspace %s: delegation not recorded",
                            kron.config.actor_kind, workspace_id)
                return
            ledger = await kron.ledger()
            await ledger.record_completed(
                delegation_id, workspace_id=workspace_id, caller_id=agent, callee_id=callee,
                task_preview=task, result_preview=result,
            )

        kron.enqueue("delegation.record", run, size=payload_bytes(task, result),
                     lane=f"ledger:{workspace_id}", workspace_id=workspace_id)

    def messages(self, workspace_id: str, user_id: str, session_id: str,
                 messages: list[dict[str, Any]]) -> None:
        """Queue messages for the loop's session, creating the session on first use.

        Queued messages of one session are appended by one call, in order.
        """
        kron = self.kron
        if not kron.own_stores:
            return
        session = uuid.uuid5(uuid.NAMESPACE_URL,
                             f"isokron:agent-session:{workspace_id}:{user_id}:{session_id}")
        payload = [{**m, "id": uuid.uuid4()} for m in messages]
        item = (RequestContext(workspace_id, user_id), session, session_id, payload)

        async def run() -> None:
            await self._messages([item])

        kron.enqueue("session.messages", run, size=payload_bytes(messages),
                     lane=f"session:{session}", item=item, merge=self._messages,
                     workspace_id=workspace_id)

    async def _messages(
        self, items: list[tuple[RequestContext, uuid.UUID, str, list[dict[str, Any]]]]
    ) -> None:
        ctx, session, session_id, _ = items[0]
        store = await self.kron.sessions()
        await store.create_session(ctx, agent_name=self.kron.config.actor_kind, id=session,
                                   title=session_id or None)
        await store.append_messages(ctx, session, [m for *_, payload in items for m in payload])
