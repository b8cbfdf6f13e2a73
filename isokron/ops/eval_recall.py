"""``isokron eval recall``: recall quality on LoCoMo-format conversations, beside BM25.

Each conversation gets a workspace and a user of its own. Its sessions are fed through
:meth:`isokron.AsyncIsoKron.sync_turn` in pairs of turns, each turn as
``[<session date>] <speaker>: <text>`` (a shared photo's caption appended as
`` [shares <caption>]``); then the ranking statistics are refreshed (as the sweeper
would) and every question of categories 1–4 is asked through
:meth:`~isokron.AsyncIsoKron.recall_items`. The same texts are ranked by BM25 (``bm25s``
with PyStemmer's English stemmer) in the same run. Reported per ranking: recall@k (the
share of a question's evidence turns in the top k, averaged), hit@k (any evidence turn
in the top k), MRR, and the share of questions with no result.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from ..embeddings import Embedder
from ..errors import InvalidInputError
from .cli._interrupt import run as run_interruptible

__all__ = ["KS", "Conversation", "evaluate", "load_conversations", "metrics", "turn_text"]

KS = (1, 5, 10, 20)
CATEGORIES = frozenset({1, 2, 3, 4})
_SESSION = re.compile(r"^session_(\d+)$")


@attrs.frozen(kw_only=True)
class Conversation:
    """One LoCoMo-format conversation: its turns in order and its scored questions."""

    name: str
    #: (session id, dia_id, text as stored)
    turns: tuple[tuple[str, str, str], ...]
    #: (question, evidence dia_ids)
    questions: tuple[tuple[str, frozenset[str]], ...]


def turn_text(date: str, turn: dict[str, Any]) -> str:
    """The text one turn is stored as."""
    text = f"[{date}] {turn['speaker']}: {turn['text']}"
    caption = turn.get("blip_caption")
    if caption:
        text += f" [shares {caption}]"
    return text


def _conversation(name: str, doc: Any) -> Conversation:
    if isinstance(doc, dict) and isinstance(doc.get("conversation"), dict):
        doc = {**doc["conversation"], "qa": doc.get("qa", [])}
    if not isinstance(doc, dict) or not isinstance(doc.get("qa"), list):
        raise InvalidInputError(f"{name}: not a LoCoMo conversation (no session_N and qa)")
    sessions = sorted((int(m.group(1)), key) for key in doc
                      if (m := _SESSION.match(key)) and isinstance(doc[key], list))
    turns = []
    for number, key in sessions:
        date = str(doc.get(f"{key}_date_time", ""))
        for turn in doc[key]:
            turns.append((f"session_{number}", str(turn["dia_id"]), turn_text(date, turn)))
    questions = tuple(
        (str(q["question"]), frozenset(str(e) for e in q.get("evidence") or ()))
        for q in doc["qa"] if q.get("category") in CATEGORIES and q.get("evidence"))
    if not turns:
        raise InvalidInputError(f"{name}: no session_N turns")
    return Conversation(name=name, turns=tuple(turns), questions=questions)


def load_conversations(path: str | Path) -> list[Conversation]:
    """Read a LoCoMo-format file (one conversation or a list) or a folder of them."""
    root = Path(path)
    files = sorted(root.glob("*.json")) if root.is_dir() else [root]
    if not files:
        raise InvalidInputError(f"no .json conversations in {str(root)!r}")
    found = []
    for file in files:
        try:
            doc = json.loads(file.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise InvalidInputError(f"{file.name}: not JSON ({exc})") from None
        docs = doc if isinstance(doc, list) else [doc]
        for n, one in enumerate(docs):
            found.append(_conversation(file.stem if len(docs) == 1 else f"{file.stem}-{n}", one))
    return found


def metrics(ranked: Sequence[Sequence[str]], evidence: Sequence[frozenset[str]], *,
            k_max: int | None = None) -> dict[str, float]:
    """recall@k, hit@k (k of KS up to ``k_max``: a list cut at k_max says nothing of
    deeper k), MRR and the share of empty results over the questions."""
    out: dict[str, float] = {}
    n = max(1, len(ranked))
    for k in (k for k in KS if k_max is None or k <= k_max):
        out[f"recall@{k}"] = round(sum(len(set(r[:k]) & e) / len(e)
                                       for r, e in zip(ranked, evidence, strict=True)) / n, 4)
        out[f"hit@{k}"] = round(sum(bool(set(r[:k]) & e)
                                    for r, e in zip(ranked, evidence, strict=True)) / n, 4)
    mrr = 0.0
    for r, e in zip(ranked, evidence, strict=True):
        mrr += next((1 / (i + 1) for i, d in enumerate(r) if d in e), 0.0)
    out["mrr"] = round(mrr / n, 4)
    out["no_result"] = round(sum(not r for r in ranked) / n, 4)
    return out


def _bm25_rankings(conv: Conversation, k: int) -> list[list[str]]:
    """Every question's top ``k`` turns by BM25 (bm25s, PyStemmer's English stemmer)."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    texts = [text for _, _, text in conv.turns]
    ids = [dia for _, dia, _ in conv.turns]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False),
                    show_progress=False)
    out: list[list[str]] = []
    for question, _ in conv.questions:
        tokens = bm25s.tokenize([question], stopwords="en", stemmer=stemmer,
                                show_progress=False)
        if not tokens.ids or not tokens.ids[0]:
            out.append([])
            continue
        docs, scores = retriever.retrieve(tokens, k=min(k, len(texts)), show_progress=False)
        out.append([ids[int(d)] for d, s in zip(docs[0], scores[0], strict=True) if s > 0])
    return out


#: ``progress(done, total, note)``: conversations done of all, and what was last done
Progress = Callable[[int, int, str], None]


async def _feed(kron: Any, conv: Conversation, workspace: str, user: str) -> None:
    turns = list(conv.turns)
    for i in range(0, len(turns), 2):
        pair = turns[i:i + 2]
        session = pair[0][0]
        if len(pair) == 2 and pair[1][0] == session:
            await kron.sync_turn(workspace, pair[0][2], pair[1][2], session_id=session,
                                 turn_number=i // 2 + 1, user_id=user)
        else:
            for one in pair:
                await kron.sync_turn(workspace, one[2], "", session_id=one[0],
                                     turn_number=i // 2 + 1, user_id=user)
    if not await kron.flush(3600):
        raise RuntimeError("the writes of the conversation did not land in an hour")


def _as_ids(conv: Conversation, items: Sequence[Any]) -> list[str]:
    by_text: dict[str, str] = {}
    for _, dia, text in conv.turns:
        by_text.setdefault(text, dia)
    return [by_text.get(item.content, "?") for item in items if item.source == "message"]


class _Runs:
    """Every ranking's lists, overall and per conversation."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.all: dict[str, list[list[str]]] = {}
        self.evidence: list[frozenset[str]] = []
        self.per: list[dict[str, Any]] = []

    def add(self, conv: Conversation, rankings: dict[str, list[list[str]]]) -> None:
        ev = [e for _, e in conv.questions]
        self.evidence += ev
        for name, lists in rankings.items():
            self.all.setdefault(name, []).extend(lists)
        self.per.append({"conversation": conv.name, "turns": len(conv.turns),
                         "questions": len(ev),
                         **{name: metrics(lists, ev, k_max=self.k)
                            for name, lists in rankings.items()}})


async def evaluate(dsn: str, owner_dsn: str, conversations: Iterable[Conversation], *,
                   k: int = 20, progress: Progress | None = None,
                   embedder: Embedder | None = None,
                   langgraph: bool = False) -> dict[str, Any]:
    """Run every conversation through isokron on ``dsn`` (the runtime role) and BM25; the
    owner DSN registers one workspace per conversation. With ``embedder``: isokron's
    recall is hybrid, and its lexical ranking, the dense ranking of the same texts and the
    reciprocal-rank fusion of BM25 and dense are reported beside it, and with
    ``langgraph`` LangGraph's vector search over the same texts and vectors."""
    import asyncpg

    from ..engine.core import AsyncIsoKron
    from ..pool import create_pool
    from ..stores.recall import Recall
    from ..stores.vectors import Vectors
    from ..testing.seed import seed_demo_workspace
    from .eval_dense import CachedEmbedder, dense_rankings, langgraph_rankings, rrf

    convs = list(conversations)
    runs = _Runs(k)
    run = secrets.token_hex(3)  # workspaces of their own: a second run on one database works
    started = time.perf_counter()
    if embedder is not None:
        owner = await asyncpg.connect(owner_dsn)
        try:
            await Vectors(owner).prepare(embedder.dims)
        finally:
            await owner.close()
    pool = await create_pool(dsn, min_size=1, max_size=4)
    config: dict[str, Any] = {"dsn": dsn, "write_transport": "deferred",
                              "embed_timeout_s": 60.0}
    try:
        recall = Recall(pool)
        async with AsyncIsoKron(config, pool=pool, embedder=embedder) as kron:
            if progress is not None:
                progress(0, len(convs), f"{convs[0].name}: feeding" if convs else "")
            for n, conv in enumerate(convs):
                workspace, user = f"org_eval_{run}_{n}", f"user_{n}"
                owner = await asyncpg.connect(owner_dsn)
                try:
                    await seed_demo_workspace(owner, workspace)
                finally:
                    await owner.close()
                await _feed(kron, conv, workspace, user)
                await recall.refresh_stats(workspace, user_id=user)  # as the sweeper would
                questions = [q for q, _ in conv.questions]
                mine = [_as_ids(conv, await kron.recall_items(workspace, q, user_id=user,
                                                              limit=k)) for q in questions]
                bm25 = _bm25_rankings(conv, 100)
                rankings = {"isokron": mine, "bm25": [r[:k] for r in bm25]}
                if embedder is not None:
                    rankings["isokron_lexical"] = [
                        _as_ids(conv, await recall.items(workspace, q, user_id=user, limit=k))
                        for q in questions]
                    dense = await dense_rankings(
                        embedder, [t for _, _, t in conv.turns],
                        [d for _, d, _ in conv.turns], questions, 100)
                    rankings["dense"] = [r[:k] for r in dense]
                    rankings["rrf_bm25_dense"] = [rrf(b, d, depth=k)
                                                  for b, d in zip(bm25, dense, strict=True)]
                    if langgraph:
                        rankings["langgraph_vector"] = await langgraph_rankings(
                            owner_dsn, embedder, workspace, [t for _, _, t in conv.turns],
                            [d for _, d, _ in conv.turns], questions, k)
                runs.add(conv, rankings)
                if progress is not None:
                    progress(n + 1, len(convs), f"{conv.name}: {len(conv.turns)} turns, "
                             f"{len(questions)} questions")
    finally:
        await pool.close()
    doc: dict[str, Any] = {"questions": len(runs.evidence), "conversations": runs.per}
    doc |= {name: metrics(lists, runs.evidence, k_max=k) for name, lists in runs.all.items()}
    if embedder is not None:
        doc["embedder"] = embedder.model_id
        if isinstance(embedder, CachedEmbedder):
            doc["vector_cache"] = {"hits": embedder.hits, "misses": embedder.misses}
    doc["seconds"] = round(time.perf_counter() - started, 1)
    return doc


def run_eval(path: str, *, k: int = 20, dsn: str | None = None, owner_dsn: str | None = None,
             progress: Progress | None = None, embedder: Any = None,
             vector_cache: str | Path | None = None, langgraph: bool = False
             ) -> dict[str, Any]:
    """Load ``path`` and evaluate on ``dsn`` (else a throwaway embedded server); with
    ``embedder`` (anything :func:`~isokron.embeddings.load_embedder` takes) hybrid, its
    vectors cached in ``vector_cache`` (default ``~/.cache/isokron/eval-vectors``)."""
    convs = load_conversations(path)
    cached = None
    if embedder is not None:
        from ..embeddings import load_embedder
        from .eval_dense import CachedEmbedder

        cached = CachedEmbedder(load_embedder(embedder),
                                vector_cache or "~/.cache/isokron/eval-vectors")
    try:
        if dsn is not None:
            return run_interruptible(evaluate(dsn, owner_dsn or dsn, convs, k=k, progress=progress,
                                        embedder=cached, langgraph=langgraph))
        from ..embedded import EmbeddedPostgres

        if progress is not None:
            progress(0, len(convs), "starting the embedded server")
        with EmbeddedPostgres() as pg:
            return run_interruptible(evaluate(pg.runtime_dsn, pg.dsn, convs, k=k,
                                        progress=progress, embedder=cached,
                                        langgraph=langgraph))
    finally:
        if cached is not None:
            cached.close()
