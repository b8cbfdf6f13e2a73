"""Vectors for recall: store what an embedder returned, and the operator's backfill.

Every vector is stored with its embedder's ``model_id`` and only where the row's content is
still the text that was embedded (its MD5): a memory whose content changed since keeps no
vector of the current model (a trigger clears the model), and recall never compares
vectors of different models. The runtime role stores vectors only for rows it may read
(``store_embeddings_v2`` takes the scope from the transaction's settings, and in the same
call reports a memory within ``threshold`` cosine similarity of an older live memory of its
namespace as ``duplicate_of`` it, or with ``merge`` folds it in); the backfill functions are
an operator's (never granted to the runtime role).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence

import attrs

from ..db.tenancy import recall_scope
from ..errors import InvalidInputError
from ..guard.validate import check_workspace, shown
from ..pool import DB, acquire, translate_errors
from ._names import vector_text

__all__ = ["BacklogItem", "EmbeddingCounts", "Vectors", "content_hash"]

SOURCES = ("memory", "message")
#: the longest model id stored with a vector
MAX_MODEL_ID_CHARS = 200

_STORE = "SELECT isokron.store_embeddings_v2($1, $2, $3, $4, $5, $6, $7)"
#: the cosine similarity from which a memory is a near duplicate, unless told otherwise
DEFAULT_DEDUP_THRESHOLD = 0.95
_BACKFILL = "SELECT isokron.backfill_embeddings_v1($1, $2, $3, $4, $5)"
_BACKLOG = ("SELECT source, id, content FROM isokron.embedding_backlog_v1($1, $2, $3, $4)")
_COUNTS = "SELECT source, total, missing FROM isokron.embedding_counts_v1($1)"
_PREPARE = "SELECT isokron.prepare_embeddings_v1($1)"
_DIMS = ("SELECT nullif(atttypmod, -1) FROM pg_attribute WHERE attrelid = "
         "'isokron.memory_records'::regclass AND attname = 'embedding' AND NOT attisdropped")


def content_hash(text: str) -> str:
    """The MD5 of ``text`` as PostgreSQL's ``md5(content)`` computes it (UTF-8)."""
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


@attrs.frozen(kw_only=True)
class BacklogItem:
    """A stored text without a vector of the wanted model."""

    source: str
    id: uuid.UUID
    content: str


@attrs.frozen(kw_only=True)
class EmbeddingCounts:
    """Rows per source, and how many of them have no vector of the model."""

    memory_total: int
    memory_missing: int
    message_total: int
    message_missing: int

    @property
    def missing(self) -> int:
        """Rows without a vector of the model, both sources."""
        return self.memory_missing + self.message_missing


def _rows(source: str, rows: Sequence[tuple[str | uuid.UUID, str, Sequence[float]]],
          model_id: str) -> tuple[list[uuid.UUID], list[str], list[str]]:
    if source not in SOURCES:
        raise InvalidInputError(f"source must be memory or message, got {shown(source)}")
    if not isinstance(model_id, str) or not 1 <= len(model_id) <= MAX_MODEL_ID_CHARS:
        raise InvalidInputError(f"model_id must be a string of 1 to {MAX_MODEL_ID_CHARS} "
                                f"characters, got {shown(model_id)}")
    ids, vectors, hashes = [], [], []
    for row_id, content, vector in rows:
        ids.append(row_id if isinstance(row_id, uuid.UUID) else uuid.UUID(str(row_id)))
        vectors.append(vector_text(vector))
        hashes.append(content_hash(content))
    return ids, vectors, hashes


class Vectors:
    """Store vectors, and (as the operator) find and fill what has none."""

    def __init__(self, pool: DB) -> None:
        self.pool = pool

    async def store(self, workspace_id: str, user_id: str | None, source: str,
                    rows: Sequence[tuple[str | uuid.UUID, str, Sequence[float]]],
                    model_id: str, *, threshold: float = DEFAULT_DEDUP_THRESHOLD,
                    merge: bool = False) -> int:
        """Store ``(id, content embedded, vector)`` rows of one source for what
        ``workspace_id`` (and, for messages, ``user_id``) may read; return the rows updated
        (a row whose content changed since, or that the scope may not read, is skipped).

        A memory whose vector is at least ``threshold`` similar (cosine) to an older live
        memory of the same namespace gets ``duplicate_of`` that memory; with ``merge`` it is
        folded into it (the keeper's ``seen_count`` grows, the near duplicate is retracted).
        """
        check_workspace(workspace_id)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) \
                or not 0 < threshold <= 1:
            raise InvalidInputError(f"threshold must be a number in (0, 1], got "
                                    f"{shown(threshold)}")
        ids, vectors, hashes = _rows(source, rows, model_id)
        if not ids:
            return 0
        async with recall_scope(self.pool, workspace_id, user_id, "storing embeddings") as conn:
            return int(await conn.fetchval(_STORE, source, ids, vectors, hashes, model_id,
                                           float(threshold), bool(merge)) or 0)

    async def dims(self) -> int | None:
        """The dimension the vector columns are fixed to (None: not prepared yet)."""
        async with translate_errors("reading the embedding dimension"), \
                acquire(self.pool) as conn:
            value = await conn.fetchval(_DIMS)
        return None if value is None else int(value)

    async def prepare(self, dims: int) -> bool:
        """Fix the vector columns to ``dims`` and index them (HNSW, cosine), dropping vectors
        of another dimension; return whether anything changed. Needs the schema owner."""
        if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= 2000:
            raise InvalidInputError(f"dims must be an integer from 1 to 2000, got {shown(dims)}")
        async with translate_errors("preparing the embedding columns"), \
                acquire(self.pool) as conn:
            return bool(await conn.fetchval(_PREPARE, dims))

    async def counts(self, model_id: str) -> EmbeddingCounts:
        """How many rows lack a vector of ``model_id`` (operator)."""
        async with translate_errors("counting embeddings"), acquire(self.pool) as conn:
            rows = {r["source"]: r for r in await conn.fetch(_COUNTS, model_id)}
        return EmbeddingCounts(memory_total=rows["memory"]["total"],
                               memory_missing=rows["memory"]["missing"],
                               message_total=rows["message"]["total"],
                               message_missing=rows["message"]["missing"])

    async def backlog(self, model_id: str, *, after: tuple[str, uuid.UUID] | None = None,
                      limit: int = 256) -> list[BacklogItem]:
        """Up to ``limit`` rows without a vector of ``model_id``, in (source, id) order after
        ``after`` (operator)."""
        source, row_id = after if after is not None else (None, None)
        async with translate_errors("reading the embedding backlog"), \
                acquire(self.pool) as conn:
            rows = await conn.fetch(_BACKLOG, model_id, source, row_id, limit)
        return [BacklogItem(source=r["source"], id=r["id"], content=r["content"]) for r in rows]

    async def backfill(self, source: str,
                       rows: Sequence[tuple[str | uuid.UUID, str, Sequence[float]]],
                       model_id: str) -> int:
        """Store vectors for any rows (operator); return the rows updated."""
        ids, vectors, hashes = _rows(source, rows, model_id)
        if not ids:
            return 0
        async with translate_errors("storing embeddings"), acquire(self.pool) as conn:
            return int(await conn.fetchval(_BACKFILL, source, ids, vectors, hashes, model_id)
                       or 0)
