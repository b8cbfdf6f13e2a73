"""Recall: one ranked list of memory records and the user's own messages for a query.

Only memories true now take part: unretracted, valid now, not superseded by a successor
already valid (``isokron.recall_for_v3``). Ranking is BM25 over the query's lexemes with
OR semantics (``isokron.recall_v2``): the
English configuration's stop words and stemming (after ``isokron.search_text_v1``: a
slash or backslash separates words, "Europe/Oslo" is "Europe" and "Oslo"), IDF from
per-corpus document frequencies (each readable namespace; the user's messages), a bonus
for adjacent query words adjacent in the text. Statistics are refreshed by
:meth:`Recall.refresh_stats` and by the sweeper; until then every lexeme weighs as rare
and matching still works. A one-character query matches literally; a query of stop words
only finds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from .. import telemetry
from ..db.tenancy import (
    TENANT_SETTING,
    USER_SETTING,
    WORKSPACE_SETTING,
    lean_token,
    recall_scope,
    signed_call,
)
from ..errors import InvalidInputError
from ..guard.limits import MAX_ID_CHARS, MAX_QUERY_CHARS, check_free_text
from ..guard.validate import check_text, check_workspace, shown
from ..models import Row
from ..pool import DB, acquire, translate_errors
from ._names import check_names, vector_text

__all__ = ["MAX_RECALL_LIMIT", "Recall", "RecallItem", "check_recall"]

#: the most items one recall returns
MAX_RECALL_LIMIT = 100

_RECALL = signed_call("SELECT source, id, content, created_at, score, namespace, session_id, "
                      "role FROM isokron.recall_for_v3($1, $2, $3, $4, $5, $6, $7)")
_REFRESH = "SELECT isokron.refresh_recall_stats_v1()"


@attrs.frozen(kw_only=True)
class RecallItem:
    """One recalled item: a memory record or a message of the user's conversations.

    ``content`` is exactly the stored text (after redaction). ``namespace`` is set for a
    memory, ``session_id`` and ``role`` for a message; ``score`` ranks the list (higher
    first; comparable within one recall only).
    """

    source: str
    id: str = attrs.field(converter=str)
    content: str
    created_at: datetime
    score: float
    namespace: str | None = None
    session_id: str | None = None
    role: str | None = None

    @classmethod
    def from_row(cls, row: Row) -> RecallItem:
        """Build from a ``recall_v1`` row."""
        session = row["session_id"]
        return cls(source=row["source"], id=row["id"], content=row["content"],
                   created_at=row["created_at"], score=float(row["score"]),
                   namespace=row["namespace"],
                   session_id=None if session is None else str(session), role=row["role"])


def check_recall(workspace_id: str, query: str, user_id: str | None, limit: object) -> int:
    """Check a recall's arguments (InvalidInputError naming the bad one); return the limit
    clamped to 1..MAX_RECALL_LIMIT."""
    check_workspace(workspace_id)
    check_free_text(query, "query", max_chars=MAX_QUERY_CHARS, blank_ok=True)
    if user_id is not None:
        check_text(user_id, "user_id", max_len=MAX_ID_CHARS)
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidInputError(f"limit must be an integer, got {shown(limit)}")
    return max(1, min(MAX_RECALL_LIMIT, limit))


class Recall:
    """Recall memory and conversation history for one workspace (and user)."""

    def __init__(self, pool: DB) -> None:
        self.pool = pool

    @telemetry.traced("isokron.recall.items", operation="search_memory")
    async def items(self, workspace_id: str, query: str, *, user_id: str | None = None,
                    namespaces: Sequence[str] | None = None, limit: int = 10,
                    vector: Sequence[float] | None = None, model_id: str | None = None,
                    ) -> list[RecallItem]:
        """Return up to ``limit`` items for ``query``, best first: memories of the
        readable namespaces (or of ``namespaces``) and, with ``user_id``, that user's
        messages in the workspace: never another tree's or another user's (the database
        takes both from the transaction's settings, not from arguments).

        With ``vector`` (the query's embedding by model ``model_id``; needs pgvector) the
        ranking is hybrid: lexical and nearest-vector candidates fused in the same
        statement. Rows embedded by another model take part lexically only."""
        limit = check_recall(workspace_id, query, user_id, limit)
        wanted = None if not namespaces else check_names(list(namespaces), "namespaces")
        if (vector is None) != (model_id is None):
            raise InvalidInputError("vector and model_id go together")
        if model_id is not None and (not isinstance(model_id, str) or not model_id):
            raise InvalidInputError(f"model_id must be a non-empty string, got "
                                    f"{shown(model_id)}")
        vector_literal = None if vector is None else vector_text(vector)
        text = query.strip()
        if not text:
            return []
        # One statement: recall_for_v3 scopes its own transaction (workspace, tenant, user).
        async with translate_errors("recalling"), acquire(self.pool) as conn:
            scope = {WORKSPACE_SETTING: workspace_id} | ({} if user_id is None else {
                TENANT_SETTING: workspace_id, USER_SETTING: user_id})
            rows = await conn.fetch(_RECALL, workspace_id, user_id, text, wanted, limit,
                                    vector_literal, model_id, lean_token(conn, scope))
        return [RecallItem.from_row(r) for r in rows]

    async def refresh_stats(self, workspace_id: str, *, user_id: str | None = None) -> int:
        """Recompute the ranking statistics of what ``workspace_id`` (and ``user_id``) may
        read; return the documents counted."""
        check_workspace(workspace_id)
        if user_id is not None:
            check_text(user_id, "user_id", max_len=MAX_ID_CHARS)
        async with recall_scope(self.pool, workspace_id, user_id, "refreshing recall "
                                "statistics") as conn:
            return int(await conn.fetchval(_REFRESH) or 0)
