"""In-memory stand-ins for isokron's own stores, for unit tests of agent code.

Each fake keeps the PostgreSQL store's contract (the same methods, validation, redaction,
errors and ordering) without a database; ``tests/integration/test_store_conformance.py``
runs one behaviour suite against both. ``AsyncIsoKron(memory=…, sessions=…,
episodic=…, ledger=…)`` accepts them as it accepts ``substrate=``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from ..errors import InvalidInputError, InvalidTransitionError, NotFoundError, NotOwnedError
from ..guard.redact import scrub_json, scrub_text
from ..guard.validate import check_workspace
from ..models import AgentMessage, AgentSession, Delegation, EpisodicEvent
from ..stores.delegations import _PREDECESSORS, STATUSES
from ..stores.sessions import UNSET, RequestContext, _Unset
from .memory import InMemoryNamespaceMemory, _Clock

__all__ = [
    "InMemoryDelegationLedger",
    "InMemoryEpisodicStore",
    "InMemoryNamespaceMemory",
    "InMemorySessionStore",
]


class InMemorySessionStore:
    """AgentSessionStore without a database; sessions are private to (tenant, user)."""

    def __init__(self) -> None:
        self.sessions: dict[tuple[str, str, str], AgentSession] = {}
        self.messages: dict[tuple[str, str, str], list[AgentMessage]] = {}
        self._now = _Clock()

    @staticmethod
    def _key(ctx: RequestContext, session_id: str | uuid.UUID) -> tuple[str, str, str]:
        if not isinstance(ctx, RequestContext):
            raise InvalidInputError(f"ctx must be a RequestContext, got {type(ctx).__name__}")
        return ctx.tenant_id, ctx.user_id, str(uuid.UUID(str(session_id)))

    async def create_session(self, ctx: RequestContext, *, agent_name: str,
                             title: str | None = None, state: dict[str, Any] | None = None,
                             id: str | uuid.UUID | None = None) -> AgentSession:
        key = self._key(ctx, id or uuid.uuid4())
        if key not in self.sessions:
            now = self._now()
            self.sessions[key] = AgentSession(
                id=key[2], tenant_id=ctx.tenant_id, user_id=ctx.user_id, agent_name=agent_name,
                title=scrub_text(title, "a session title") if title is not None else None,
                state=scrub_json(state or {}, "a session state"), created_at=now,
                updated_at=now)
            self.messages[key] = []
        return self.sessions[key]

    async def get_session(self, ctx: RequestContext,
                          session_id: str | uuid.UUID) -> AgentSession | None:
        return self.sessions.get(self._key(ctx, session_id))

    async def append_messages(self, ctx: RequestContext, session_id: str | uuid.UUID,
                              messages: Iterable[Mapping[str, Any]]) -> list[AgentMessage]:
        from ..stores.sessions import _prepare_message

        key = self._key(ctx, session_id)
        if key not in self.sessions:
            raise NotFoundError(f"session {key[2]} not found")
        prepared = [_prepare_message(m, i) for i, m in enumerate(messages)]
        stored = self.messages[key]
        known = {m.id: m for m in stored}
        out = []
        for message_id, role, content, tool_text in prepared:
            if str(message_id) in known:
                out.append(known[str(message_id)])
                continue
            message = AgentMessage(id=message_id, session_id=key[2], seq=len(stored) + 1,
                                   role=role, content=content, tool_calls=tool_text,
                                   tenant_id=ctx.tenant_id, user_id=ctx.user_id,
                                   created_at=self._now())
            stored.append(message)
            out.append(message)
        return out

    async def list_messages(self, ctx: RequestContext, session_id: str | uuid.UUID, *,
                            after_seq: int = 0, limit: int = 200,
                            last: int | None = None) -> list[AgentMessage]:
        key = self._key(ctx, session_id)
        if key not in self.sessions:
            raise NotFoundError(f"listing messages: session {key[2]} not found")
        found = [m for m in self.messages[key] if m.seq > after_seq]
        return found[-last:] if last is not None else found[:limit]

    async def update_session(self, ctx: RequestContext, session_id: str | uuid.UUID, *,
                             title: str | None | _Unset = UNSET,
                             state: dict[str, Any] | _Unset = UNSET,
                             replace_state: bool = False) -> AgentSession:
        key = self._key(ctx, session_id)
        session = self.sessions.get(key)
        if session is None:
            raise NotFoundError(f"session {key[2]} not found")
        changes: dict[str, Any] = {"updated_at": self._now()}
        if not isinstance(title, _Unset):
            changes["title"] = title
        if not isinstance(state, _Unset):
            clean: dict[str, Any] = scrub_json(state, "a session state")
            changes["state"] = dict(clean) if replace_state else {**session.state, **clean}
        self.sessions[key] = attrs.evolve(session, **changes)
        return self.sessions[key]

    async def delete_session(self, ctx: RequestContext, session_id: str | uuid.UUID) -> bool:
        key = self._key(ctx, session_id)
        self.messages.pop(key, None)
        return self.sessions.pop(key, None) is not None


class InMemoryEpisodicStore:
    """EpisodicEventStore without a database; agents belong to workspaces."""

    def __init__(self) -> None:
        self.agents: dict[str, str] = {}
        self.kinds: dict[tuple[str, str], uuid.UUID] = {}
        self.events: list[tuple[str, int, EpisodicEvent]] = []
        self._now = _Clock()

    def register_agent(self, workspace_id: str, agent_id: str | uuid.UUID,
                       actor_kind: str = "kora") -> None:
        """Say that ``agent_id`` is ``workspace_id``'s ``actor_kind`` (actor_registry)."""
        self.agents[str(agent_id)] = workspace_id
        self.kinds.setdefault((workspace_id, actor_kind), uuid.UUID(str(agent_id)))

    def actor_for(self, workspace_id: str, actor_kind: str) -> uuid.UUID | None:
        """The registered agent of that kind (what AsyncIsoKron.actor_id asks a fake)."""
        return self.kinds.get((workspace_id, actor_kind))

    async def append(self, workspace_id: str, agent_id: str | uuid.UUID, *, event_type: str,
                     body: dict[str, Any] | None = None, sender: str | None = None,
                     recipient: str | None = None, inference_receipt_id: str | None = None,
                     audit_event_hash: str | None = None,
                     id: str | uuid.UUID | None = None) -> EpisodicEvent:
        (event,) = await self.append_many(workspace_id, agent_id, [{
            "event_type": event_type, "body": body, "sender": sender, "recipient": recipient,
            "inference_receipt_id": inference_receipt_id,
            "audit_event_hash": audit_event_hash, "id": id}])
        return event

    async def append_many(self, workspace_id: str, agent_id: str | uuid.UUID,
                          events: Iterable[Mapping[str, Any]]) -> list[EpisodicEvent]:
        from ..stores.episodic import EpisodicEventStore

        check_workspace(workspace_id)
        rows = [EpisodicEventStore._row(EpisodicEventStore(None), e)  # type: ignore[arg-type]
                for e in events]
        if self.agents.get(str(agent_id)) != workspace_id:
            raise NotOwnedError(f"agent {agent_id} is not an agent of workspace {workspace_id!r}")
        now, out = self._now(), []
        stored = {e.id: e for _, _, e in self.events}
        for event_id, event_type, sender, recipient, body, receipt, digest in rows:
            if str(event_id) in stored:
                out.append(stored[str(event_id)])
                continue
            event = EpisodicEvent(id=event_id, agent_id=agent_id, created_at=now,
                                  event_type=event_type, sender=sender, recipient=recipient,
                                  body=body, inference_receipt_id=receipt,
                                  audit_event_hash=digest)
            self.events.append((workspace_id, len(self.events), event))
            out.append(event)
        return out

    async def list(self, workspace_id: str, agent_id: str | uuid.UUID, *,
                   event_type: str | None = None, since: datetime | None = None,
                   limit: int = 50) -> list[EpisodicEvent]:
        if self.agents.get(str(agent_id)) != workspace_id:
            raise NotOwnedError(f"agent {agent_id} is not an agent of workspace {workspace_id!r}")
        found = [(e.created_at, seq, e) for ws, seq, e in self.events
                 if ws == workspace_id and e.agent_id == str(agent_id)
                 and (event_type is None or e.event_type == event_type)
                 and (since is None or e.created_at >= since)]
        found.sort(key=lambda t: (t[0], t[1]), reverse=True)
        return [e for _, _, e in found[:max(1, min(500, limit))]]


class InMemoryDelegationLedger:
    """DelegationLedger without a database (same transition table)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Delegation] = {}
        self._now = _Clock()

    async def insert(self, delegation_id: str, *, workspace_id: str,
                     caller_id: str | uuid.UUID, callee_id: str | uuid.UUID,
                     task_preview: str, idempotency_key: str | None = None,
                     deadline: datetime | None = None) -> bool:
        check_workspace(workspace_id)
        if not isinstance(task_preview, str) or not task_preview.strip():
            raise InvalidInputError("task_preview must be a non-blank string")
        if (workspace_id, delegation_id) in self.rows:
            return False
        now = self._now()
        self.rows[(workspace_id, delegation_id)] = Delegation(
            delegation_id=delegation_id, workspace_id=workspace_id, caller_id=caller_id,
            callee_id=callee_id, task_preview=scrub_text(task_preview, "a delegation's task"),
            status="queued", last_heartbeat=None,
            deadline=deadline or now + timedelta(hours=6), result_preview=None,
            error_detail=None, retry_count=0, idempotency_key=idempotency_key,
            created_at=now, updated_at=now)
        return True

    async def get(self, workspace_id: str, delegation_id: str) -> Delegation | None:
        return self.rows.get((workspace_id, delegation_id))

    async def set_status(self, workspace_id: str, delegation_id: str, status: str, *,
                         error_detail: str | None = None,
                         result_preview: str | None = None) -> None:
        if status not in STATUSES:
            raise InvalidInputError(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
        row = self.rows.get((workspace_id, delegation_id))
        if row is None or row.status == status:
            return
        if row.status not in _PREDECESSORS[status]:
            raise InvalidTransitionError(delegation_id, row.status, status)
        self.rows[(workspace_id, delegation_id)] = attrs.evolve(
            row, status=status, updated_at=self._now(),
            error_detail=error_detail if error_detail is not None else row.error_detail,
            result_preview=result_preview if result_preview is not None else row.result_preview)

    async def heartbeat(self, workspace_id: str, delegation_id: str) -> bool:
        row = self.rows.get((workspace_id, delegation_id))
        if row is None or row.status in ("completed", "failed"):
            return False
        self.rows[(workspace_id, delegation_id)] = attrs.evolve(
            row, last_heartbeat=self._now(),
            status="in_progress" if row.status == "stuck" else row.status)
        return True
