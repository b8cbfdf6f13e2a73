"""Provide InMemorySubstrate: the Substrate seam on plain Python data, for unit tests."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from ..errors import NoActiveRoleCharterError
from ..guard.validate import check_limit, check_workspace
from ..models import (
    CapabilityRow,
    ChainEvent,
    ConstitutionRevision,
    PolicyEntry,
    RoleCharter,
    ScratchpadEntry,
    SessionContext,
)
from ..readers.capabilities import mirror_capability_row
from ..readers.capability_mirror import KORA_CAPABILITY_MIRROR
from ..readers.charter import verify_charter
from ..readers.charter_md import render_charter_md
from ..readers.events import PAYLOAD_SUMMARY_CHARS
from ..readers.policies import warn_policy_drift
from ..readers.scratchpad import check_scratchpad_integrity
from ..readers.substrate import assemble_context, read_parts_one_by_one

__all__ = ["FakeEvent", "FakeScratchpadRow", "InMemorySubstrate"]

_EPOCH = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _pretty(value: Any) -> str:
    """Approximate jsonb_pretty: 4-space indent, keys ordered as jsonb stores them."""

    def order(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: order(v[k]) for k in sorted(v, key=lambda k: (len(k), k))}
        if isinstance(v, list):
            return [order(i) for i in v]
        return v

    return json.dumps(order(value), indent=4, ensure_ascii=False)


@attrs.define(kw_only=True)
class FakeScratchpadRow:
    """Hold one scratchpad row of the fake: the entry plus the columns readers filter on."""

    workspace_id: str
    status: str = "active"
    entry: ScratchpadEntry


@attrs.define(kw_only=True)
class FakeEvent:
    """Hold one chain event of the fake."""

    event_id: str
    seq: int
    event_type: str
    payload: dict[str, Any]
    occurred_at: datetime


@attrs.define
class InMemorySubstrate:
    """Implement the Substrate protocol on dicts; records calls; ``reset()`` clears everything.

    Behaviour matches the PostgreSQL substrate: fail-closed charter checks, policy
    drift warnings, warn-only scratchpad integrity, literal actor-kind matching,
    limits and payload summaries. Set ``fail_with`` to make every read raise, and
    ``delay_s`` to slow reads down (for single-flight and timeout tests).
    """

    charters: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    policies: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    capabilities: dict[str, dict[str, bool]] = attrs.field(factory=dict)
    scratchpad: list[FakeScratchpadRow] = attrs.field(factory=list)
    events: dict[str, list[FakeEvent]] = attrs.field(factory=dict)
    constitutions: dict[str, list[tuple[int, bytes]]] = attrs.field(factory=dict)
    calls: list[tuple[str, tuple[Any, ...]]] = attrs.field(factory=list)
    fail_with: BaseException | None = None
    delay_s: float = 0.0
    _clock: itertools.count[int] = attrs.field(factory=itertools.count)

    def reset(self) -> None:
        """Forget all data, recorded calls and injected faults."""
        self.charters.clear()
        self.policies.clear()
        self.capabilities.clear()
        self.scratchpad.clear()
        self.events.clear()
        self.constitutions.clear()
        self.calls.clear()
        self.fail_with = None
        self.delay_s = 0.0

    def count_calls(self, name: str) -> int:
        """Count recorded calls of the method ``name``."""
        return sum(1 for called, _ in self.calls if called == name)

    def _tick(self) -> datetime:
        return _EPOCH + timedelta(seconds=next(self._clock))

    # -- writing data ----------------------------------------------------------
    def put_charter(
        self,
        workspace_id: str,
        sections: Mapping[str, Any],
        *,
        charter_version: str = "1.0.0",
        content_md: str | None = None,
        content_hash: str | None = None,
        schema_version: str = "kora-charter/2",
    ) -> None:
        """Store the active charter; the hash defaults to the correct SHA-256 of content_md."""
        md = content_md if content_md is not None else render_charter_md(
            dict(sections), charter_version
        )
        self.charters[workspace_id] = {
            "id": str(uuid.uuid4()),
            "workspace_id": workspace_id,
            "schema_version": schema_version,
            "content_md": md,
            "content_hash": content_hash if content_hash is not None else _sha(md),
            "content_jsonb": {
                "schema_version": schema_version,
                "charter_version": charter_version,
                "sections": dict(sections),
            },
            "created_at": self._tick(),
        }

    def add_scratchpad(
        self,
        workspace_id: str,
        actor_kind: str,
        *,
        kind: str = "reasoning_trail",
        scope: str = "agent_private",
        content: str | None = None,
        uri: str | None = None,
        content_hash: str | None = None,
        status: str = "active",
        actor_label: str | None = None,
    ) -> str:
        """Add one scratchpad entry and return its id."""
        if (content is None) == (uri is None):
            raise ValueError("exactly one of content and uri must be given")
        entry = ScratchpadEntry(
            id=str(uuid.uuid4()),
            actor_kind=actor_kind,
            actor_label=actor_label or actor_kind,
            kind=kind,
            visibility_scope=scope,
            content_inline=content,
            content_uri=uri,
            content_hash=content_hash or _sha(content if content is not None else uri or ""),
            created_at=self._tick(),
        )
        self.scratchpad.append(FakeScratchpadRow(workspace_id=workspace_id, status=status,
                                                 entry=entry))
        return entry.id

    def append_event(
        self, workspace_id: str, event_type: str, payload: Mapping[str, Any] | None = None
    ) -> str:
        """Append one chain event and return its id."""
        chain = self.events.setdefault(workspace_id, [])
        event = FakeEvent(
            event_id=str(uuid.uuid4()),
            seq=len(chain) + 1,
            event_type=event_type,
            payload=dict(payload or {}),
            occurred_at=self._tick(),
        )
        chain.append(event)
        return event.event_id

    def add_constitution(self, workspace_id: str, revision_number: int, rules_hash: bytes) -> None:
        """Add a constitution revision."""
        self.constitutions.setdefault(workspace_id, []).append((revision_number, rules_hash))

    @classmethod
    def with_demo_workspace(cls, workspace_id: str = "org_demo") -> InMemorySubstrate:
        """Build a fake holding the same demo workspace as ``seed_demo_workspace``."""
        from . import seed

        fake = cls()
        fake.put_charter(workspace_id, seed.DEMO_CHARTER_SECTIONS, charter_version="2.1.0")
        fake.policies[workspace_id] = dict(seed.DEMO_POLICIES)
        fake.capabilities["kora"] = dict(KORA_CAPABILITY_MIRROR)
        for kind, caps in seed.OTHER_CAPABILITIES.items():
            fake.capabilities[kind] = dict(caps)
        labels = {"kora": "Kora", "sea": "SEA", "claude_pm": "Claude PM"}
        for actor, sp_kind, scope, inline, uri in seed.SCRATCHPAD:
            fake.add_scratchpad(workspace_id, actor, kind=sp_kind, scope=scope, content=inline,
                                uri=uri, actor_label=labels[actor])
        for event_type, payload in seed.EVENTS:
            fake.append_event(workspace_id, event_type, payload)
        for number, rules in enumerate(seed.CONSTITUTION, start=1):
            text = json.dumps(rules, sort_keys=True)
            fake.add_constitution(workspace_id, number, hashlib.sha256(text.encode()).digest())
        return fake

    # -- the seven reads ---------------------------------------------------------
    async def _enter(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail_with is not None:
            raise self.fail_with

    async def read_active_role_charter(self, workspace_id: str) -> RoleCharter:
        """Return the verified active charter (fail-closed)."""
        check_workspace(workspace_id)
        await self._enter("read_active_role_charter", workspace_id)
        row = self.charters.get(workspace_id)
        if row is None:
            raise NoActiveRoleCharterError(workspace_id)
        return verify_charter(workspace_id, row)

    async def read_policy_registry(self, workspace_id: str) -> tuple[PolicyEntry, ...]:
        """Return the workspace's policies ordered by path."""
        check_workspace(workspace_id)
        await self._enter("read_policy_registry", workspace_id)
        rows = self.policies.get(workspace_id, {})
        entries = tuple(PolicyEntry(path=p, value=rows[p]) for p in sorted(rows))
        warn_policy_drift(workspace_id, len(entries))
        return entries

    async def read_capability_row(self, actor_kind: str = "kora") -> CapabilityRow:
        """Return the actor kind's capabilities (mirror fallback as in PostgreSQL)."""
        await self._enter("read_capability_row", actor_kind)
        caps = self.capabilities.get(actor_kind)
        if not caps:
            return mirror_capability_row(actor_kind)
        return CapabilityRow.from_rows(
            actor_kind, ({"cap_name": c, "granted": g} for c, g in caps.items())
        )

    def _scratchpad(
        self, workspace_id: str, actor_kind: str, limit: int, *, own: bool
    ) -> tuple[ScratchpadEntry, ...]:
        check_workspace(workspace_id)
        check_limit(limit)
        entries = sorted(
            (r.entry for r in self.scratchpad
             if r.workspace_id == workspace_id and r.status == "active"
             and (r.entry.actor_kind == actor_kind if own else (
                 r.entry.actor_kind != actor_kind
                 and r.entry.visibility_scope == "cross_agent_dereferenceable"))),
            key=lambda e: (e.created_at, e.id), reverse=True,
        )[:limit]
        check_scratchpad_integrity(entries)
        return tuple(entries)

    async def read_own_scratchpad(
        self, workspace_id: str, *, actor_kind: str = "kora", limit: int = 100
    ) -> tuple[ScratchpadEntry, ...]:
        """Return the actor kind's own active entries, newest first."""
        await self._enter("read_own_scratchpad", workspace_id, actor_kind, limit)
        return self._scratchpad(workspace_id, actor_kind, limit, own=True)

    async def read_cross_agent_scratchpad(
        self, workspace_id: str, *, actor_kind: str = "kora", limit: int = 100
    ) -> tuple[ScratchpadEntry, ...]:
        """Return other kinds' cross-agent entries, newest first."""
        await self._enter("read_cross_agent_scratchpad", workspace_id, actor_kind, limit)
        return self._scratchpad(workspace_id, actor_kind, limit, own=False)

    async def read_recent_events(
        self, workspace_id: str, *, actor_kind: str = "kora", limit: int = 50
    ) -> tuple[ChainEvent, ...]:
        """Return recent ``<actor_kind>.*`` events, newest first (kind matched literally)."""
        check_workspace(workspace_id)
        check_limit(limit)
        await self._enter("read_recent_events", workspace_id, actor_kind, limit)
        prefix = actor_kind + "."
        chosen = [e for e in self.events.get(workspace_id, []) if e.event_type.startswith(prefix)]
        chosen.sort(key=lambda e: e.seq, reverse=True)
        out = []
        for e in chosen[:limit]:
            pretty = _pretty(e.payload)
            if len(pretty) > PAYLOAD_SUMMARY_CHARS:
                pretty = pretty[:PAYLOAD_SUMMARY_CHARS] + "…"
            out.append(ChainEvent(event_id=e.event_id, event_type=e.event_type,
                                  occurred_at=e.occurred_at, payload_summary=pretty))
        return tuple(out)

    async def read_active_constitution(self, workspace_id: str) -> ConstitutionRevision | None:
        """Return the highest revision, or None."""
        check_workspace(workspace_id)
        await self._enter("read_active_constitution", workspace_id)
        revisions = self.constitutions.get(workspace_id)
        if not revisions:
            return None
        number, digest = max(revisions, key=lambda r: r[0])
        return ConstitutionRevision.from_row(
            {"revision_id": f"{workspace_id}-rev-{number}", "revision_number": number,
             "rules_hash": digest}
        )

    async def read_context(
        self,
        workspace_id: str,
        *,
        actor_kind: str = "kora",
        scratchpad_limit: int = 100,
        event_limit: int = 50,
    ) -> SessionContext:
        """Run all seven reads in one fan-out (recorded as one ``read_context`` call)."""
        self.calls.append(("read_context", (workspace_id, actor_kind)))
        return await assemble_context(
            self, workspace_id, actor_kind=actor_kind,
            scratchpad_limit=scratchpad_limit, event_limit=event_limit,
        )

    async def read_parts(
        self,
        workspace_id: str,
        parts: frozenset[str],
        *,
        actor_kind: str = "kora",
        scratchpad_limit: int = 100,
        event_limit: int = 50,
    ) -> dict[str, Any]:
        """Re-read only the named SessionContext fields with the single reads."""
        return await read_parts_one_by_one(
            self, workspace_id, parts, actor_kind=actor_kind,
            scratchpad_limit=scratchpad_limit, event_limit=event_limit)
