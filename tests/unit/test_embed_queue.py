"""Pin embedding off the hot path with fakes: batches of at most batch_size (full ones
first), nothing waits for the embedder, a bounded queue, failures counted and logged once,
the query vector's timeout, and the embedder config key."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import pytest

from isokron import AsyncIsoKron
from isokron.config import load_config
from isokron.engine.embedding import Embeddings, EmbedQueue, Pending
from isokron.errors import ConfigError
from isokron.testing import HashingEmbedder


class Sink:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, str, list[str]]] = []
        self.fail = False

    async def store_vectors(self, workspace_id: str, user_id: str | None, source: str,
                            rows: Sequence[tuple[str, str, Sequence[float]]],
                            model_id: str) -> int:
        if self.fail:
            raise ConnectionError("database down")
        self.calls.append((workspace_id, user_id, source, [r[0] for r in rows]))
        return len(rows)


def _items(n: int, ws: str = "w", user: str | None = "u", source: str = "message"
           ) -> list[Pending]:
    return [Pending(ws, user, source, f"{ws}-{i}", f"text {i}") for i in range(n)]


async def test_submit_never_waits_and_batches_fill_to_batch_size():
    """70 texts: submit returns at once; calls of 32, 32 and 6; one store per scope."""
    embedder, sink = HashingEmbedder(8), Sink()
    queue = EmbedQueue(embedder, sink, batch_size=32)
    queue.submit(_items(70))
    assert embedder.calls == 0
    assert await queue.drain(5)
    assert embedder.batches == [32, 32, 6]
    assert queue.stats() == {"pending": 0, "embedded": 70, "stored": 70, "failed": 0,
                             "dropped": 0, "calls": 3}
    assert await queue.close(1) == 0


async def test_one_batch_spans_scopes_and_stores_per_scope():
    """Texts of two workspaces and both sources share one embedding call; each scope's
    vectors are stored under that scope."""
    embedder, sink = HashingEmbedder(8), Sink()
    queue = EmbedQueue(embedder, sink, batch_size=32)
    queue.submit(_items(3, "a") + _items(2, "b", None, "memory"))
    assert await queue.drain(5)
    assert embedder.batches == [5]
    assert sorted((c[0], c[1], c[2], len(c[3])) for c in sink.calls) == [
        ("a", "u", "message", 3), ("b", None, "memory", 2)]
    await queue.close(1)


async def test_a_full_queue_drops_the_oldest_and_counts_them(caplog):
    """Beyond capacity the oldest texts go (the backfill embeds them), with a warning."""
    queue = EmbedQueue(HashingEmbedder(8), Sink(), batch_size=32, capacity=40)
    with caplog.at_level(logging.WARNING, logger="isokron.embeddings"):
        queue.submit(_items(50))
    assert queue.stats()["dropped"] == 10
    assert "10 text(s) dropped" in caplog.text
    assert await queue.drain(5)
    assert queue.stats()["embedded"] == 40
    await queue.close(1)


async def test_failures_are_counted_and_logged_once_per_outage(caplog):
    """An embedder that fails, then a sink that fails: counted, one warning each outage,
    the queue keeps running and recovers."""
    embedder, sink = HashingEmbedder(8), Sink()
    queue = EmbedQueue(embedder, sink, batch_size=32, linger_s=0)
    embedder.fail = True
    with caplog.at_level(logging.WARNING, logger="isokron.embeddings"):
        for _ in range(3):
            queue.submit(_items(2))
            assert await queue.drain(5)
        embedder.fail = False
        queue.submit(_items(2))
        assert await queue.drain(5)
        sink.fail = True
        queue.submit(_items(2))
        assert await queue.drain(5)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings
    assert "embedder test:hashing failed" in warnings[0]
    assert "storing 2 vector(s) failed" in warnings[1]
    assert queue.stats()["failed"] == 8 and queue.stats()["stored"] == 2
    await queue.close(1)


async def test_a_wrong_vector_from_the_embedder_is_a_failure_not_a_row():
    """Vectors of the wrong dimension are refused before anything is stored."""
    class Wrong(HashingEmbedder):
        async def embed_documents(self, texts):
            return [[0.0] * 3 for _ in texts]

    sink = Sink()
    queue = EmbedQueue(Wrong(8), sink, batch_size=32, linger_s=0)
    queue.submit(_items(2))
    assert await queue.drain(5)
    assert sink.calls == [] and queue.stats()["failed"] == 2
    await queue.close(1)


class Pools:
    async def pool(self):
        raise AssertionError("no database in unit tests")


async def test_the_query_vector_times_out_to_none_and_logs_once(caplog):
    """A slow or failing embed_query: None (recall ranks lexically), one warning, counted;
    it recovers with an info line."""
    class Slow(HashingEmbedder):
        delay = 1.0

        async def embed_query(self, text):
            await asyncio.sleep(self.delay)
            return await super().embed_query(text)

    embedder = Slow(8)
    embeddings = Embeddings(embedder, Pools(), query_timeout_s=0.05)
    with caplog.at_level(logging.INFO, logger="isokron.embeddings"):
        assert await embeddings.query_vector("where") is None
        embedder.delay, embedder.fail = 0.0, True
        assert await embeddings.query_vector("where") is None
        embedder.fail = False
        assert await embeddings.query_vector("where") == embedder.vector("where")
    messages = [r.getMessage() for r in caplog.records]
    assert sum("ranks lexically" in m for m in messages) == 1
    assert any("work again" in m for m in messages)
    assert embeddings.query_failures == 2


def test_the_embedder_key_is_checked_and_loaded_loudly():
    """embedder: 'module:attr' or a mapping is accepted; anything else, or one that cannot
    load, is a ConfigError when the core is built (never a silent lexical fallback)."""
    assert load_config({"dsn": "postgresql://x@h/d",
                        "embedder": "isokron.testing:HashingEmbedder"}).embedder == (
        "isokron.testing:HashingEmbedder")
    with pytest.raises(ConfigError, match="embedder must be 'module:attr'"):
        load_config({"dsn": "postgresql://x@h/d", "embedder": 42})
    with pytest.raises(ConfigError, match="embed_batch_size must be >= 32"):
        load_config({"dsn": "postgresql://x@h/d", "embed_batch_size": 8})
    with pytest.raises(ConfigError, match="cannot import 'nowhere'"):
        AsyncIsoKron({"dsn": "postgresql://x@h/d", "embedder": "nowhere:thing"})
    kron = AsyncIsoKron({"dsn": "postgresql://x@h/d",
                         "embedder": "isokron.testing:HashingEmbedder",
                         "embed_timeout_s": 0.5})
    assert kron.embeddings is not None and kron.embeddings.model_id == "test:hashing"
    assert kron.embeddings.query_timeout_s == 0.5
    assert AsyncIsoKron({"dsn": "postgresql://x@h/d"}).embeddings is None


async def test_recall_falls_back_to_lexical_when_the_hybrid_statement_fails(caplog):
    """The database refuses the vector side (no pgvector, another dimension): the same
    recall runs lexically, with one warning, and the next recalls go lexical directly (one
    statement) until HYBRID_RETRY_S has passed."""
    from isokron.engine.fairness import WorkspaceGate
    from isokron.engine.recalling import Recaller
    from isokron.errors import DatabaseError
    from isokron.stores.recall import RecallItem

    calls: list[bool] = []

    class Store:
        async def items(self, workspace_id, query, *, user_id=None, limit=10, vector=None,
                        model_id=None):
            calls.append(vector is not None)
            if vector is not None:
                raise DatabaseError("function isokron.recall_vectors_v1 does not exist")
            return [RecallItem(source="memory", id="1", content="lexical hit",
                               created_at=__import__("datetime").datetime.now(), score=1.0)]

    class Source:
        async def read_recall(self, workspace_id, read):
            return await read(Store())

        async def read_memory(self, workspace_id, read):
            raise AssertionError

    config = load_config({"dsn": "postgresql://x@h/d"})
    recaller = Recaller(config, WorkspaceGate(2, None), Source(),
                        Embeddings(HashingEmbedder(8), Pools()))
    with caplog.at_level(logging.WARNING, logger="isokron.embeddings"):
        first = await recaller.items("w", "where is it", user_id="u")
        second = await recaller.items("w", "where is it", user_id="u")
    assert [i.content for i in first + second] == ["lexical hit", "lexical hit"]
    assert calls == [True, False, False]
    assert sum("hybrid recall failed" in r.getMessage() for r in caplog.records) == 1
    recaller.embeddings._hybrid_off_until = 1.0  # as if HYBRID_RETRY_S had passed
    await recaller.items("w", "where is it", user_id="u")
    assert calls[3:] == [True, False]


def test_a_config_file_can_name_the_embedder_for_the_cli(tmp_path):
    """`--embedder FILE`: the isokron settings' embedder key; a file without one is refused
    by name; anything else is taken as module:attr."""
    from isokron.ops.cli._args import Refused, embedder_spec

    good = tmp_path / "isokron.yaml"
    good.write_text("isokron:\n  dsn: postgresql://x@h/d\n  embedder:\n    provider: openai\n"
                    "    model: e5\n    base_url: http://127.0.0.1:9/v1\n    dims: 384\n")
    assert embedder_spec(str(good)) == {"provider": "openai", "model": "e5",
                                        "base_url": "http://127.0.0.1:9/v1", "dims": 384}
    bare = tmp_path / "bare.yaml"
    bare.write_text("isokron:\n  dsn: postgresql://x@h/d\n")
    with pytest.raises(Refused, match="no embedder key"):
        embedder_spec(str(bare))
    assert embedder_spec("pkg.mod:factory") == "pkg.mod:factory"



async def test_a_bad_argument_is_the_callers_error_and_keeps_hybrid_on():
    """A query too long or a bad user id: InvalidInputError before anything is embedded,
    and hybrid recall stays on for everyone else (it is not the database refusing)."""
    from isokron.engine.fairness import WorkspaceGate
    from isokron.engine.recalling import Recaller
    from isokron.errors import InvalidInputError

    class Source:
        async def read_recall(self, workspace_id, read):
            raise AssertionError("never reached")

        async def read_memory(self, workspace_id, read):
            raise AssertionError

    embeddings = Embeddings(HashingEmbedder(8), Pools())
    recaller = Recaller(load_config({"dsn": "postgresql://x@h/d"}), WorkspaceGate(2, None),
                        Source(), embeddings)
    with pytest.raises(InvalidInputError, match="query"):
        await recaller.items("w", "x" * 100_000, user_id="u")
    with pytest.raises(InvalidInputError, match="user_id"):
        await recaller.items("w", "where", user_id="")
    assert embeddings.hybrid_ok() and embeddings.query_failures == 0


async def test_a_zero_query_vector_is_a_failed_embedding():
    """An embedder that answers zeros for a query: None (lexical), counted."""
    class Zero(HashingEmbedder):
        async def embed_query(self, text):
            return [0.0] * self.dims

    embeddings = Embeddings(Zero(8), Pools())
    assert await embeddings.query_vector("where") is None
    assert embeddings.query_failures == 1
