"""``isokron embed --backfill``: embed every stored text that has no vector of the model.

Run as the schema owner (the operator): it fixes the vector columns to the embedder's
dimension and indexes them (HNSW, cosine) first, then walks memories and messages in
(source, id) order, ``batch_size`` texts per ``embed_documents`` call, storing each vector
with the embedder's ``model_id`` (a row whose content changed meanwhile is skipped: the
next run takes it). Rows embedded by another model are embedded again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import attrs

from ..embeddings import Embedder, check_vectors
from ..pool import DB
from ..stores.vectors import Vectors

__all__ = ["BackfillResult", "backfill"]

#: ``progress(done, total, note)``, the shape every long ops command reports in
Progress = Callable[[int, int, str], None]


@attrs.frozen(kw_only=True)
class BackfillResult:
    """What one backfill did."""

    model_id: str
    dims: int
    prepared: bool
    missing_before: int
    embedded: int
    stored: int
    missing_after: int
    seconds: float

    def as_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return attrs.asdict(self)


async def backfill(pool: DB, embedder: Embedder, *, batch_size: int = 64,
                   progress: Progress | None = None) -> BackfillResult:
    """Embed what has no vector of ``embedder.model_id``; ``progress(done, total, note)``
    after each batch."""
    vectors = Vectors(pool)
    started = time.monotonic()
    model = embedder.model_id
    prepared = await vectors.prepare(embedder.dims)
    before = (await vectors.counts(model)).missing
    done = stored = 0
    after: tuple[str, uuid.UUID] | None = None
    if progress is not None:
        progress(0, before, f"embedding with {model}")
    while True:
        batch = await vectors.backlog(model, after=after, limit=batch_size)
        if not batch:
            break
        after = (batch[-1].source, batch[-1].id)
        got = check_vectors(await embedder.embed_documents([b.content for b in batch]),
                            len(batch), embedder.dims, model)
        for source in ("memory", "message"):
            rows = [(b.id, b.content, v) for b, v in zip(batch, got, strict=True)
                    if b.source == source]
            if rows:
                stored += await vectors.backfill(source, rows, model)
        done += len(batch)
        if progress is not None:
            progress(done, max(before, done), f"embedding with {model}")
    left = (await vectors.counts(model)).missing
    return BackfillResult(model_id=model, dims=embedder.dims, prepared=prepared,
                          missing_before=before, embedded=done, stored=stored,
                          missing_after=left, seconds=round(time.monotonic() - started, 3))
