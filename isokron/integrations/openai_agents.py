"""An OpenAI Agents SDK ``Session`` on isokron's tenant-isolated session store.

``IsoKronSession`` implements the SDK's ``Session`` protocol (``get_items``,
``add_items``, ``pop_item``, ``clear_session``) on :class:`~isokron.stores.AgentSessionStore`
for one :class:`~isokron.stores.RequestContext`: row-level security keeps every tenant and
user to their own items, whatever the session id says.

Each SDK item is one isokron message: its role is the item's (``user``, ``assistant``,
``system``; ``developer`` is stored as ``system``), ``tool`` for every other item type
(function calls, their outputs, reasoning, …); its text content, when it has one, is the
message's content; and the item itself is kept whole in the message's JSON field, so
``get_items`` returns exactly what was added. Secrets are redacted before storage in both
(the stored item is what comes back), and nothing else about an item changes.

The SDK (extra ``openai-agents``) is not imported here: the class satisfies the protocol
structurally, so this module loads without it.
"""

from __future__ import annotations

import uuid
from typing import Any

from ..errors import InvalidInputError
from ..guard.limits import MAX_ID_CHARS
from ..guard.validate import shown
from ..models import AgentMessage
from ..pool import DB
from ..stores import AgentSessionStore, RequestContext

__all__ = ["IsoKronSession", "session_uuid"]

_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
#: the page size used to read a whole session (the store returns at most 1,000 at a time)
_PAGE = 1000


def session_uuid(ctx: RequestContext, session_id: str) -> uuid.UUID:
    """The isokron session id for an SDK session id: the id itself when it is a UUID,
    otherwise a stable UUID derived from the tenant, the user and the id."""
    try:
        return uuid.UUID(session_id)
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_URL,
                          f"isokron:openai-agents:{ctx.tenant_id}:{ctx.user_id}:{session_id}")


def _message(item: Any, index: int) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise InvalidInputError(f"items[{index}] must be a dict, got {shown(item)}")
    content = item.get("content")
    return {"role": _ROLES.get(str(item.get("role")), "tool"),
            "content": content if isinstance(content, str) else None,
            "tool_calls": item}


def _item(message: AgentMessage) -> Any:
    return message.tool_calls


class IsoKronSession:
    """Conversation history for the OpenAI Agents SDK, stored in isokron.

    ``db`` is an isokron pool (:func:`isokron.pool.create_pool`) or connection for a login
    in ``isokron_runtime``; ``ctx`` says whose session it is. The isokron session is created
    on first use (named ``agent_name``).
    """

    #: the SDK reads this (per-session settings such as a default item limit); none here
    session_settings: Any = None

    def __init__(self, session_id: str, db: DB, ctx: RequestContext, *,
                 agent_name: str = "openai-agents") -> None:
        if not isinstance(session_id, str) or not session_id or len(session_id) > MAX_ID_CHARS:
            raise InvalidInputError(f"session_id must be a non-empty string of at most "
                                    f"{MAX_ID_CHARS} characters, got {shown(session_id)}")
        if not isinstance(ctx, RequestContext):
            raise InvalidInputError(f"ctx must be a RequestContext, got {type(ctx).__name__}")
        self.session_id = session_id
        self.ctx = ctx
        self.agent_name = agent_name
        self.store = AgentSessionStore(db)
        self._id = session_uuid(ctx, session_id)
        self._created = False

    async def _ensure(self) -> None:
        if not self._created:
            await self.store.create_session(self.ctx, agent_name=self.agent_name, id=self._id,
                                            title=self.session_id)
            self._created = True

    async def get_items(self, limit: int | None = None) -> list[Any]:
        """The session's items, oldest first; with ``limit``, the latest ``limit`` of them."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise InvalidInputError(f"limit must be an integer or None, got {shown(limit)}")
        await self._ensure()
        if limit is not None:
            if limit <= 0:
                return []
            if limit <= _PAGE:  # the common case: one call for the newest `limit`
                return [_item(m) for m in await self.store.list_messages(
                    self.ctx, self._id, last=limit)]
        items: list[Any] = []
        after = 0
        while True:
            page = await self.store.list_messages(self.ctx, self._id, after_seq=after,
                                                  limit=_PAGE)
            items.extend(_item(m) for m in page)
            if len(page) < _PAGE:
                break
            after = page[-1].seq
        return items if limit is None else items[-limit:]

    async def add_items(self, items: list[Any]) -> None:
        """Append items in order, atomically (all of them or none)."""
        if not isinstance(items, list):
            raise InvalidInputError(f"items must be a list, got {shown(items)}")
        if not items:
            return
        messages = [_message(item, n) for n, item in enumerate(items)]
        await self._ensure()
        await self.store.append_messages(self.ctx, self._id, messages)

    async def pop_item(self) -> Any | None:
        """Remove and return the most recent item (None when the session is empty)."""
        await self._ensure()
        popped = await self.store.pop_message(self.ctx, self._id)
        return None if popped is None else _item(popped)

    async def clear_session(self) -> None:
        """Remove every item; the session itself stays."""
        await self._ensure()
        await self.store.clear_messages(self.ctx, self._id)
