"""Agent sessions and messages, isolated per tenant and user by PostgreSQL row-level security.

Keys include the tenant and the user (``(tenant_id, user_id, id)``; a message references
its session by all three), so the same session id under two tenants or two users is two
sessions, and nothing one caller does can block or reveal another's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import attrs

from .. import telemetry
from ..db.tenancy import TENANT_SETTING, USER_SETTING, lean_token, signed_call, tenant_scope
from ..errors import InvalidInputError, NotFoundError
from ..guard.context_token import token_claims
from ..guard.limits import (
    MAX_ID_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_TITLE_CHARS,
    check_depth,
    check_free_text,
)
from ..guard.redact import scrub_json, scrub_text
from ..guard.validate import (
    MAX_NAME_CHARS,
    check_items,
    check_text,
    check_uuid,
    json_object_text,
    shown,
)
from ..models import AgentMessage, AgentSession
from ..pool import DB, Conn, acquire, translate_errors
from ._json import json_rows
from ._observe import WriteObserver

__all__ = ["ROLES", "AgentSessionStore", "RequestContext"]

ROLES = ("system", "user", "assistant", "tool")
# JSON columns as text: decoded once in Python, whatever codecs the connection has.
_SESSION_COLUMNS = ("id, tenant_id, user_id, agent_name, title, state::text AS state, "
                    "created_at, updated_at")
_MESSAGE_COLUMNS = ("id, session_id, seq, role, content, tool_calls::text AS tool_calls, "
                    "tenant_id, user_id, created_at")
_MESSAGE_KEYS = {"role", "content", "tool_calls", "id", "tenant_id", "user_id"}
_MAX_SEQ = 2**31 - 1  # list_messages_v1 takes the seq as an integer
# lean statements: each sets its own tenant settings (and, signing, the context)
_APPEND = signed_call("SELECT isokron.append_messages_v1($1, $2, $3, $4, $5, $6, $7)::text")
_LIST = signed_call("SELECT isokron.list_messages_v1($1, $2, $3, $4, $5, $6)::text")
_POP = signed_call("SELECT isokron.pop_message_v1($1, $2, $3)::text")
_CLEAR = signed_call("SELECT isokron.clear_messages_v1($1, $2, $3)")


def _check_identity(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    check_text(value, attribute.name, max_len=MAX_ID_CHARS)


def _check_identity_or_token(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value != "":  # "": read from the token (checked after every field is set)
        _check_identity(instance, attribute, value)


@attrs.frozen
class RequestContext:
    """Say who is asking: every store call is scoped to this tenant and user by RLS.

    ``token`` is a signed tenant context minted by a gateway in front of the application
    (:func:`isokron.mint_context_token`, or any HS256 JWT library with the same claims): the
    database then believes the token, not the ids, and the process never holds the key.
    The ids may be left out and are read from the token; given, they must match it.
    """

    tenant_id: str = attrs.field(default="", validator=_check_identity_or_token)
    user_id: str = attrs.field(default="", validator=_check_identity_or_token)
    token: str | None = attrs.field(default=None, kw_only=True, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.token is None:
            for name in ("tenant_id", "user_id"):
                if getattr(self, name) == "":
                    raise InvalidInputError(f"a RequestContext needs {name} (or a signed "
                                            f"token that names it)")
            return
        if not isinstance(self.token, str) or len(self.token) > 4096:
            raise InvalidInputError("token must be a compact JWT string (at most 4096 chars)")
        claims = token_claims(self.token)
        for name, claim in (("tenant_id", "tnt"), ("user_id", "sub")):
            said, signed = getattr(self, name), claims.get(claim)
            if not isinstance(signed, str):
                raise InvalidInputError(f"the context token carries no {claim!r} claim "
                                        f"(the {name})")
            if said == "":
                check_text(signed, name, max_len=MAX_ID_CHARS)
                object.__setattr__(self, name, signed)
            elif said != signed:
                raise InvalidInputError(f"{name} {shown(said)} is not the token's "
                                        f"{shown(signed)}")


class _Unset:
    """The type of :data:`UNSET` (an argument that was not given)."""

    def __repr__(self) -> str:
        return "UNSET"


#: marks an argument of ``update_session`` that was left out (None means "clear")
UNSET = _Unset()


class AgentSessionStore:
    """Create sessions and append/list messages; the request context always wins."""

    def __init__(self, pool: DB, *, observer: WriteObserver | None = None) -> None:
        self.pool = pool
        #: told of every appended message (the engine embeds them off the hot path)
        self.observer = observer

    @asynccontextmanager
    async def _scoped(self, ctx: RequestContext, what: str) -> AsyncIterator[Conn]:
        if not isinstance(ctx, RequestContext):
            raise InvalidInputError(f"ctx must be a RequestContext, got {type(ctx).__name__}")
        async with tenant_scope(self.pool, ctx.tenant_id, ctx.user_id, what,
                                token=ctx.token) as conn:
            yield conn

    @telemetry.traced("isokron.sessions.create_session")
    async def create_session(
        self,
        ctx: RequestContext,
        *,
        agent_name: str,
        title: str | None = None,
        state: dict[str, Any] | None = None,
        id: str | uuid.UUID | None = None,
    ) -> AgentSession:
        """Create a session owned by ``ctx`` (with ``id=``, an existing one is returned)."""
        check_text(agent_name, "agent_name", max_len=MAX_NAME_CHARS)
        check_text(title, "title", max_len=MAX_TITLE_CHARS, min_len=0, optional=True)
        state_text = json_object_text(state, "state", max_bytes=1 << 20)
        agent_name = scrub_text(agent_name, "a session's agent name")
        title = scrub_text(title, "a session title") if title is not None else None
        state_text = json_object_text(scrub_json(state, "a session state"), "state",
                                      max_bytes=1 << 20)
        session_id = check_uuid(id, "id") if id is not None else uuid.uuid4()
        async with self._scoped(ctx, "creating a session") as conn:
            row = await conn.fetchrow(
                f"INSERT INTO isokron.agent_sessions (id, tenant_id, user_id, agent_name, title, "
                f"state) VALUES ($1, $2, $3, $4, $5, $6::text::jsonb) "
                f"ON CONFLICT (tenant_id, user_id, id) DO NOTHING RETURNING {_SESSION_COLUMNS}",
                session_id, ctx.tenant_id, ctx.user_id, agent_name, title, state_text,
            )
            if row is None:
                row = await conn.fetchrow(
                    f"SELECT {_SESSION_COLUMNS} FROM isokron.agent_sessions WHERE id = $1",
                    session_id,
                )
        assert row is not None  # the key includes ctx: only ctx's own row can conflict
        return AgentSession.from_row(row)

    @telemetry.traced("isokron.sessions.get_session")
    async def get_session(
        self, ctx: RequestContext, session_id: str | uuid.UUID
    ) -> AgentSession | None:
        """Return the session if ``ctx`` may see it, else None."""
        target = check_uuid(session_id, "session_id")
        async with self._scoped(ctx, "reading a session") as conn:
            row = await conn.fetchrow(
                f"SELECT {_SESSION_COLUMNS} FROM isokron.agent_sessions WHERE id = $1", target)
        return None if row is None else AgentSession.from_row(row)

    @telemetry.traced("isokron.sessions.update_session")
    async def update_session(
        self,
        ctx: RequestContext,
        session_id: str | uuid.UUID,
        *,
        title: str | None | _Unset = UNSET,
        state: dict[str, Any] | _Unset = UNSET,
        replace_state: bool = False,
    ) -> AgentSession:
        """Change a session's title and/or state; return it (NotFoundError if ``ctx`` cannot
        see it).

        ``state`` is merged into the stored state (top-level keys, like ``jsonb ||``);
        ``replace_state=True`` replaces it. ``title=None`` clears the title; leaving an
        argument out keeps that field.
        """
        target = check_uuid(session_id, "session_id")
        if not isinstance(title, _Unset):
            check_text(title, "title", max_len=MAX_TITLE_CHARS, min_len=0, optional=True)
            title = scrub_text(title, "a session title") if title is not None else None
        state_text = None
        if not isinstance(state, _Unset):
            json_object_text(state, "state", max_bytes=1 << 20)
            state_text = json_object_text(scrub_json(state, "a session state"), "state",
                                          max_bytes=1 << 20)
        if not isinstance(replace_state, bool):
            raise InvalidInputError(f"replace_state must be a bool, got {shown(replace_state)}")
        async with self._scoped(ctx, "updating a session") as conn:
            row = await conn.fetchrow(
                f"UPDATE isokron.agent_sessions SET "
                f"title = CASE WHEN $2 THEN $3 ELSE title END, "
                f"state = CASE WHEN $4::text IS NULL THEN state WHEN $5 THEN $4::text::jsonb "
                f"ELSE state || $4::text::jsonb END, updated_at = now() "
                f"WHERE id = $1 RETURNING {_SESSION_COLUMNS}",
                target, not isinstance(title, _Unset),
                None if isinstance(title, _Unset) else title, state_text, replace_state)
        if row is None:
            raise NotFoundError(f"session {target} not found")
        return AgentSession.from_row(row)

    @telemetry.traced("isokron.sessions.delete_session")
    async def delete_session(self, ctx: RequestContext, session_id: str | uuid.UUID) -> bool:
        """Delete a session and its messages; False if ``ctx`` cannot see such a session."""
        target = check_uuid(session_id, "session_id")
        async with self._scoped(ctx, "deleting a session") as conn:
            deleted = await conn.fetchval(
                "DELETE FROM isokron.agent_sessions WHERE id = $1 RETURNING true", target)
        return bool(deleted)

    @telemetry.traced("isokron.sessions.list_sessions")
    async def list_sessions(self, ctx: RequestContext, *, limit: int = 50) -> list[AgentSession]:
        """Return ``ctx``'s sessions, most recently updated first (limit 1..500)."""
        limit = _clamp(limit, 500)
        async with self._scoped(ctx, "listing sessions") as conn:
            rows = await conn.fetch(
                f"SELECT {_SESSION_COLUMNS} FROM isokron.agent_sessions "
                "ORDER BY updated_at DESC, id LIMIT $1", limit)
        return [AgentSession.from_row(r) for r in rows]

    @telemetry.traced("isokron.sessions.append_messages")
    async def append_messages(
        self,
        ctx: RequestContext,
        session_id: str | uuid.UUID,
        messages: Iterable[Mapping[str, Any]],
    ) -> list[AgentMessage]:
        """Append messages atomically with gap-free seq; tenant and user come from the session."""
        target = check_uuid(session_id, "session_id")
        prepared = [_prepare_message(m, i)
                    for i, m in enumerate(check_items(messages, "messages"))]
        if not prepared:
            return []
        if len({p[0] for p in prepared}) != len(prepared):
            raise InvalidInputError("messages carry duplicate ids")
        if not isinstance(ctx, RequestContext):
            raise InvalidInputError(f"ctx must be a RequestContext, got {type(ctx).__name__}")
        async with translate_errors("appending messages"), acquire(self.pool) as conn:
            text = await conn.fetchval(
                _APPEND, ctx.tenant_id, ctx.user_id, target, [p[0] for p in prepared],
                [p[1] for p in prepared], [p[2] for p in prepared], [p[3] for p in prepared],
                _token(conn, ctx))
        appended = [AgentMessage.from_row(r) for r in json_rows(text)]
        if self.observer is not None:
            self.observer.messages_written(ctx.tenant_id, ctx.user_id, appended)
        return appended

    @telemetry.traced("isokron.sessions.list_messages")
    async def list_messages(
        self,
        ctx: RequestContext,
        session_id: str | uuid.UUID,
        *,
        after_seq: int = 0,
        limit: int = 200,
        last: int | None = None,
    ) -> list[AgentMessage]:
        """Return messages with seq > after_seq in order; another owner's session is not found.

        ``last=N`` returns the N most recent of them instead (still oldest first): what an
        agent loop asks for when it rebuilds its context.
        """
        target = check_uuid(session_id, "session_id")
        if isinstance(after_seq, bool) or not isinstance(after_seq, int) or not (
                0 <= after_seq <= _MAX_SEQ):
            raise InvalidInputError(
                f"after_seq must be an integer in 0..{_MAX_SEQ}, got {shown(after_seq)}")
        limit = _clamp(limit, 1000)
        newest = None if last is None else _clamp(last, 1000, name="last")
        if not isinstance(ctx, RequestContext):
            raise InvalidInputError(f"ctx must be a RequestContext, got {type(ctx).__name__}")
        async with translate_errors("listing messages"), acquire(self.pool) as conn:
            text = await conn.fetchval(_LIST, ctx.tenant_id, ctx.user_id, target, after_seq,
                                       limit, newest, _token(conn, ctx))
        return [AgentMessage.from_row(r) for r in json_rows(text)]

    @telemetry.traced("isokron.sessions.pop_message")
    async def pop_message(
        self, ctx: RequestContext, session_id: str | uuid.UUID
    ) -> AgentMessage | None:
        """Remove and return the session's most recent message (None when it has none);
        another owner's session is not found."""
        target = check_uuid(session_id, "session_id")
        if not isinstance(ctx, RequestContext):
            raise InvalidInputError(f"ctx must be a RequestContext, got {type(ctx).__name__}")
        async with translate_errors("popping a message"), acquire(self.pool) as conn:
            text = await conn.fetchval(_POP, ctx.tenant_id, ctx.user_id, target,
                                       _token(conn, ctx))
        return None if text is None else AgentMessage.from_row(json_rows(f"[{text}]")[0])

    @telemetry.traced("isokron.sessions.clear_messages")
    async def clear_messages(self, ctx: RequestContext, session_id: str | uuid.UUID) -> int:
        """Remove every message of the session (the session stays); return how many went.
        Another owner's session is not found."""
        target = check_uuid(session_id, "session_id")
        if not isinstance(ctx, RequestContext):
            raise InvalidInputError(f"ctx must be a RequestContext, got {type(ctx).__name__}")
        async with translate_errors("clearing messages"), acquire(self.pool) as conn:
            count = await conn.fetchval(_CLEAR, ctx.tenant_id, ctx.user_id, target,
                                        _token(conn, ctx))
        return int(count)


def _token(conn: Conn, ctx: RequestContext) -> str | None:
    return lean_token(conn, {TENANT_SETTING: ctx.tenant_id, USER_SETTING: ctx.user_id},
                      token=ctx.token)


def _clamp(limit: int, maximum: int, *, name: str = "limit") -> int:
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidInputError(f"{name} must be an integer, got {shown(limit)}")
    return max(1, min(maximum, limit))


def _prepare_message(message: Mapping[str, Any], index: int) -> tuple[uuid.UUID, str, str | None,
                                                                      str | None]:
    """Validate one message; tenant_id/user_id in the payload are ignored (no impersonation)."""
    if not isinstance(message, Mapping):
        raise InvalidInputError(f"messages[{index}] must be a mapping, got {shown(message)}")
    unknown = set(message) - _MESSAGE_KEYS
    if unknown:
        raise InvalidInputError(f"messages[{index}] has unknown field(s): "
                                f"{', '.join(sorted(shown(k) for k in unknown)[:5])}")
    role = message.get("role")
    if role not in ROLES:
        raise InvalidInputError(
            f"messages[{index}].role must be one of {', '.join(ROLES)}; got {shown(role)}")
    content = message.get("content")
    check_text(content, f"messages[{index}].content", max_len=MAX_MESSAGE_CHARS, min_len=0,
               optional=True)
    if content is not None:
        content = scrub_text(content, "a session message")
    tool_calls = message.get("tool_calls")
    tool_text = None
    if tool_calls is not None:
        check_depth(tool_calls, f"messages[{index}].tool_calls")
        tool_calls = scrub_json(tool_calls, "a session message's tool calls")
        try:
            tool_text = json.dumps(tool_calls, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"messages[{index}].tool_calls is not JSON: {exc}") from None
        if "\\u0000" in tool_text:
            raise InvalidInputError(f"messages[{index}].tool_calls must not contain NUL")
        check_free_text(tool_text, f"messages[{index}].tool_calls", max_chars=MAX_MESSAGE_CHARS,
                        blank_ok=True)
    message_id = (check_uuid(message["id"], f"messages[{index}].id")
                  if message.get("id") is not None else uuid.uuid4())
    return message_id, str(role), content, tool_text
