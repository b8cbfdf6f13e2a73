"""The evaluation's dense side: a vector cache, the dense ranking of the same texts, and
reciprocal-rank fusion of BM25 and dense (the reference hybrid recall is measured against).

Embedding models are slow on a CPU (e5-small: 10–20 passages/s on two cores), so every
vector the evaluation asks for is cached on disk by (model, kind, text): a second run
embeds nothing. The cache is a ``dbm`` file (the standard library's key-value store).
"""

from __future__ import annotations

import array
import asyncio
import concurrent.futures
import dbm
import hashlib
import math
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..embeddings import Embedder

_T = TypeVar("_T")

__all__ = ["CachedEmbedder", "dense_rankings", "langgraph_rankings", "rrf"]


class CachedEmbedder:
    """An embedder that answers from (and fills) a ``dbm`` cache of vectors."""

    def __init__(self, inner: Embedder, path: str | Path) -> None:
        self.inner = inner
        self.dims = inner.dims
        self.model_id = inner.model_id
        target = Path(path).expanduser()
        target.parent.mkdir(parents=True, exist_ok=True)
        self._db = dbm.open(str(target), "c")  # noqa: SIM115 - closed by close()
        self.hits = 0
        self.misses = 0

    def _key(self, kind: str, text: str) -> str:
        return hashlib.sha256(f"{self.model_id}\0{kind}\0{text}".encode()).hexdigest()

    def _get(self, keys: Sequence[str]) -> dict[str, list[float]]:
        found: dict[str, list[float]] = {}
        for key in keys:
            blob = self._db.get(key)
            if blob is not None:
                found[key] = array.array("f", blob).tolist()
        return found

    def _put(self, rows: Sequence[tuple[str, Sequence[float]]]) -> None:
        for key, vector in rows:
            self._db[key] = array.array("f", vector).tobytes()

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Cached vectors, the missing ones embedded in one call."""
        keys = [self._key("d", t) for t in texts]
        found = self._get(keys)
        missing = [i for i, k in enumerate(keys) if k not in found]
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            fresh = await self.inner.embed_documents([texts[i] for i in missing])
            self._put([(keys[i], v) for i, v in zip(missing, fresh, strict=True)])
            for i, v in zip(missing, fresh, strict=True):
                found[keys[i]] = list(v)
        return [found[k] for k in keys]

    async def embed_query(self, text: str) -> list[float]:
        """The cached query vector, or a fresh one."""
        key = self._key("q", text)
        found = self._get([key])
        if key in found:
            self.hits += 1
            return found[key]
        self.misses += 1
        vector = list(await self.inner.embed_query(text))
        self._put([(key, vector)])
        return vector

    def close(self) -> None:
        """Close the cache file."""
        self._db.close()


def _normalised(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


async def dense_rankings(embedder: Embedder, texts: Sequence[str], ids: Sequence[str],
                         questions: Sequence[str], depth: int) -> list[list[str]]:
    """Every question's ``depth`` nearest texts by cosine (exact), as ids."""
    docs = [_normalised(v) for v in await embedder.embed_documents(list(texts))]
    out = []
    for question in questions:
        q = _normalised(await embedder.embed_query(question))
        scored = sorted(((sum(a * b for a, b in zip(q, d, strict=True)), n)
                         for n, d in enumerate(docs)), key=lambda x: (-x[0], x[1]))
        out.append([ids[n] for _, n in scored[:depth]])
    return out


def rrf(*rankings: Sequence[str], k: int = 60, depth: int = 20) -> list[str]:
    """Reciprocal-rank fusion with equal weights: sum of 1 / (k + rank)."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return [item for item, _ in sorted(scores.items(), key=lambda x: -x[1])][:depth]


def _on_own_loop(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` to its end on a fresh event loop in a worker thread (callable from
    inside a running loop, where ``asyncio.run`` is refused)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def langgraph_rankings(owner_dsn: str, embedder: Embedder, namespace: str,
                             texts: Sequence[str], ids: Sequence[str],
                             questions: Sequence[str], depth: int) -> list[list[str]]:
    """LangGraph's vector search over the same texts and vectors: ``AsyncPostgresStore``
    with ``index={"dims", "embed", "fields"}`` (the same embedder, queries embedded as
    queries), every question through ``asearch``. Needs the bench extra."""
    from langchain_core.embeddings import Embeddings

    from .bench.peers import langgraph_store

    class Adapter(Embeddings):
        """The embedder as LangChain's interface: the async pair (what LangGraph's async
        store calls), and the sync pair run on a thread's own event loop."""

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return _on_own_loop(embedder.embed_documents(texts))

        def embed_query(self, text: str) -> list[float]:
            return _on_own_loop(embedder.embed_query(text))

        async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
            return await embedder.embed_documents(texts)

        async def aembed_query(self, text: str) -> list[float]:
            return await embedder.embed_query(text)

    index = {"dims": embedder.dims, "embed": Adapter(), "fields": ["text"]}
    out = []
    async with langgraph_store(owner_dsn, index) as store:
        prefix = ("isokron_eval", namespace)
        for start in range(0, len(texts), 64):
            await asyncio.gather(*(store.aput(prefix, str(n), {"text": texts[n], "id": ids[n]})
                                   for n in range(start, min(len(texts), start + 64))))
        for question in questions:
            found = await store.asearch(prefix, query=question, limit=depth)
            out.append([item.value["id"] for item in found])
    return out
