"""Drive both Substrate implementations through one interface for the conformance suite."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import asyncpg

from isokron.readers import PostgresSubstrate, Substrate
from isokron.testing import InMemorySubstrate


class PostgresWorld:
    """A seeded PostgreSQL substrate read as the runtime role, edited as the owner."""

    def __init__(self, owner: asyncpg.Connection, pool: asyncpg.Pool) -> None:
        self.owner = owner
        self.substrate: Substrate = PostgresSubstrate(pool)

    async def tamper_charter(self, ws: str) -> None:
        await self.owner.execute(
            "UPDATE public.kora_role_charter SET content_md = content_md || ' ' "
            "WHERE workspace_id = $1", ws)

    async def null_charter(self, ws: str) -> None:
        await self.owner.execute(
            "UPDATE public.kora_role_charter SET content_md = NULL, content_hash = NULL "
            "WHERE workspace_id = $1", ws)

    async def supersede_charter(self, ws: str) -> None:
        await self.owner.execute(
            "UPDATE public.kora_role_charter SET superseded_at = now() WHERE workspace_id = $1", ws)

    async def remove_policy(self, ws: str, path: str) -> None:
        async with self.owner.transaction():
            await self.owner.execute("SELECT set_config('app.current_workspace_id', $1, true)", ws)
            await self.owner.execute(
                "DELETE FROM public.kora_policy_registry WHERE workspace_id = $1 AND "
                "policy_path = $2", ws, path)

    async def add_event(self, ws: str, event_type: str, payload: dict[str, Any]) -> None:
        async with self.owner.transaction():
            await self.owner.execute("SELECT set_config('app.current_workspace_id', $1, true)", ws)
            await self.owner.execute(
                "SELECT hivex_foundation.append_event_v1($1, $2, $3::text::jsonb, NULL)",
                ws, event_type, json.dumps(payload))

    async def add_tenant(self, ws: str) -> None:
        await self.owner.execute(
            "INSERT INTO hivex_foundation.tenant (clerk_org_id) VALUES ($1)", ws)

    async def add_scratchpad(self, ws: str, actor_kind: str, *, content: str,
                             content_hash: str | None = None, scope: str = "agent_private",
                             status: str = "active") -> None:
        actor = await self.owner.fetchval(
            "SELECT actor_id FROM public.actor_registry WHERE workspace_id=$1 AND actor_kind=$2",
            ws, actor_kind)
        if actor is None:
            actor = await self.owner.fetchval(
                "INSERT INTO public.actor_registry (workspace_id, actor_kind, display_name) "
                "VALUES ($1, $2, $2) RETURNING actor_id", ws, actor_kind)
        digest = content_hash or hashlib.sha256(content.encode()).hexdigest()
        async with self.owner.transaction():
            await self.owner.execute("SELECT set_config('app.current_workspace_id', $1, true)", ws)
            await self.owner.execute(
                "INSERT INTO kronicle.agent_scratchpad_entries (workspace_id, actor_id, "
                "scratchpad_kind, visibility_scope, content_inline, content_hash, status, "
                "approved_event_id) VALUES ($1, $2, 'hypothesis', "
                "$3::text::kronicle.scratchpad_visibility_scope, $4, $5, $6, gen_random_uuid())",
                ws, actor, scope, content, digest, status)


class MemoryWorld:
    """The in-memory fake holding the same demo workspace."""

    def __init__(self) -> None:
        self.fake = InMemorySubstrate.with_demo_workspace("org_demo")
        self.substrate: Substrate = self.fake

    async def tamper_charter(self, ws: str) -> None:
        self.fake.charters[ws]["content_md"] += " "

    async def null_charter(self, ws: str) -> None:
        self.fake.charters[ws]["content_md"] = None
        self.fake.charters[ws]["content_hash"] = None

    async def supersede_charter(self, ws: str) -> None:
        del self.fake.charters[ws]

    async def remove_policy(self, ws: str, path: str) -> None:
        del self.fake.policies[ws][path]

    async def add_event(self, ws: str, event_type: str, payload: dict[str, Any]) -> None:
        self.fake.append_event(ws, event_type, payload)

    async def add_tenant(self, ws: str) -> None:
        self.fake.events.setdefault(ws, [])

    async def add_scratchpad(self, ws: str, actor_kind: str, *, content: str,
                             content_hash: str | None = None, scope: str = "agent_private",
                             status: str = "active") -> None:
        self.fake.add_scratchpad(ws, actor_kind, kind="hypothesis", scope=scope, content=content,
                                 content_hash=content_hash, status=status)
