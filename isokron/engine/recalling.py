"""Recall for a turn: items from memory and the user's conversations, and their block."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from ..config import IsoKronConfig
from ..errors import DatabaseError, InvalidInputError
from ..models import MemoryRecord
from ..stores.recall import Recall, RecallItem, check_recall
from .embedding import Embeddings
from .fairness import WorkspaceGate
from .recall import render_recall_block

__all__ = ["RecallSource", "Recaller", "is_trivial"]

#: prompts that ask nothing of memory (compared case-folded, without punctuation)
TRIVIAL_PROMPTS = frozenset({
    "ok", "okay", "k", "kk", "thanks", "thank you", "thx", "ty", "yes", "no", "yep", "nope",
    "sure", "cool", "great", "nice", "hi", "hello", "hey", "bye", "goodbye", "done", "go on",
    "continue", "got it", "sounds good", "perfect", "good", "fine", "lol",
})
_WORD = re.compile(r"\w")
T = TypeVar("T")


def is_trivial(query: str) -> bool:
    """Tell whether ``query`` needs no recall: a slash command, an acknowledgement, or no
    word at all."""
    text = query.strip()
    if not text or text.startswith("/") or not _WORD.search(text):
        return True
    folded = " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())
    return folded in TRIVIAL_PROMPTS


class RecallSource(Protocol):
    """Where recall reads: the recall store, or (injected fakes) the memory store."""

    async def read_recall(self, workspace_id: str,
                          read: Callable[[Recall], Awaitable[T]]) -> T | None:
        """Run ``read`` on the recall store of ``workspace_id``'s read pool (a fresh
        replica, else the primary; the primary again when the replica's connection
        fails); None when memory is an injected fake."""
        ...

    async def read_memory(self, workspace_id: str, read: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``read`` on the memory store of ``workspace_id``'s read pool."""
        ...


def _as_item(record: MemoryRecord, rank: int) -> RecallItem:
    return RecallItem(source="memory", id=record.id, content=record.content,
                      created_at=record.created_at, score=1.0 / (rank + 1),
                      namespace=record.namespace)


class Recaller:
    """Run recall inside the workspace's slot and the breaker."""

    def __init__(self, config: IsoKronConfig, gate: WorkspaceGate, source: RecallSource,
                 embeddings: Embeddings | None = None) -> None:
        self.config = config
        self._gate = gate
        self._source = source
        self.embeddings = embeddings

    async def items(self, workspace_id: str, query: str, *, user_id: str | None = None,
                    limit: int | None = None) -> list[RecallItem]:
        """Memories of the readable namespaces and ``user_id``'s messages, best first:
        hybrid with an embedder (the query embedded first, outside the database slot),
        lexical without one or when the embedder or the vector search fails."""
        wanted = limit if limit is not None else self.config.recall_limit
        embeddings = self.embeddings
        vector = None
        if embeddings is not None:
            # bad arguments are the caller's error, before anything is embedded: an
            # InvalidInputError from the hybrid statement below is the database's refusal
            check_recall(workspace_id, query, user_id, wanted)
            if embeddings.hybrid_ok() and len(query.strip()) >= 2:
                vector = await embeddings.query_vector(query)
        async def recall(store: Recall) -> list[RecallItem]:
            if vector is not None and embeddings is not None:
                try:
                    found = await store.items(workspace_id, query, user_id=user_id,
                                              limit=wanted, vector=vector,
                                              model_id=embeddings.model_id)
                except (DatabaseError, InvalidInputError) as exc:
                    embeddings.hybrid_failed(str(exc))
                else:
                    embeddings.hybrid_worked()
                    return found
            return await store.items(workspace_id, query, user_id=user_id, limit=wanted)

        async with self._gate.guarded("recalling memories", workspace_id):
            items = await self._source.read_recall(workspace_id, recall)
            if items is not None:
                return items
            found = await self._source.read_memory(
                workspace_id, lambda memory: memory.search(workspace_id, query, limit=wanted))
        return [_as_item(r, n) for n, r in enumerate(found)]

    async def block(self, workspace_id: str, query: str, *, user_id: str | None = None) -> str:
        """The recall block for ``query`` ("" for a trivial prompt or nothing found)."""
        if is_trivial(query):
            return ""
        found = await self.items(workspace_id, query, user_id=user_id)
        return render_recall_block(found, max_chars=self.config.recall_max_chars)
