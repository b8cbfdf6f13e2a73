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

import asyncio
import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from ..errors import InvalidInputError

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


def metrics(ranked: Sequence[Sequence[str]], evidence: Sequence[frozenset[str]]
            ) -> dict[str, float]:
    """recall@k, hit@k, MRR and the share of empty results over the questions."""
    out: dict[str, float] = {}
    n = max(1, len(ranked))
    for k in KS:
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


Progress = Callable[[str], None]


async def _isokron_rankings(kron: Any, conv: Conversation, workspace: str, user: str,
                            k: int, refresh: Callable[[str, str], Any]) -> list[list[str]]:
    by_text: dict[str, str] = {}
    for _, dia, text in conv.turns:
        by_text.setdefault(text, dia)
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
    if not await kron.flush(600):
        raise RuntimeError("the writes of the conversation did not land in 600 s")
    await refresh(workspace, user)
    rankings = []
    for question, _ in conv.questions:
        items = await kron.recall_items(workspace, question, user_id=user, limit=k)
        rankings.append([by_text.get(item.content, "?") for item in items
                         if item.source == "message"])
    return rankings


async def evaluate(dsn: str, owner_dsn: str, conversations: Iterable[Conversation], *,
                   k: int = 20, progress: Progress | None = None) -> dict[str, Any]:
    """Run every conversation through isokron on ``dsn`` (the runtime role) and BM25; the
    owner DSN registers one workspace per conversation."""
    import asyncpg

    from ..engine.core import AsyncIsoKron
    from ..pool import create_pool
    from ..stores.recall import Recall
    from ..testing.seed import seed_demo_workspace

    convs = list(conversations)
    ours: list[list[str]] = []
    theirs: list[list[str]] = []
    evidence: list[frozenset[str]] = []
    per: list[dict[str, Any]] = []
    started = time.perf_counter()
    pool = await create_pool(dsn, min_size=1, max_size=4)
    config: dict[str, Any] = {"dsn": dsn, "write_transport": "deferred"}
    try:
        recall = Recall(pool)

        async def refresh(workspace: str, user: str) -> None:
            await recall.refresh_stats(workspace, user_id=user)

        async with AsyncIsoKron(config, pool=pool) as kron:
            for n, conv in enumerate(convs):
                workspace, user = f"org_eval_{n}", f"user_{n}"
                owner = await asyncpg.connect(owner_dsn)
                try:
                    await seed_demo_workspace(owner, workspace)
                finally:
                    await owner.close()
                mine = await _isokron_rankings(kron, conv, workspace, user, k, refresh)
                bm25 = _bm25_rankings(conv, k)
                ev = [e for _, e in conv.questions]
                ours += mine
                theirs += bm25
                evidence += ev
                per.append({"conversation": conv.name, "turns": len(conv.turns),
                            "questions": len(ev), "isokron": metrics(mine, ev),
                            "bm25": metrics(bm25, ev)})
                if progress is not None:
                    progress(f"{conv.name}: {len(conv.turns)} turns, {len(ev)} questions "
                             f"({time.perf_counter() - started:.0f}s)")
    finally:
        await pool.close()
    return {"questions": len(evidence), "conversations": per,
            "isokron": metrics(ours, evidence), "bm25": metrics(theirs, evidence),
            "seconds": round(time.perf_counter() - started, 1)}


def run_eval(path: str, *, k: int = 20, dsn: str | None = None, owner_dsn: str | None = None,
             progress: Progress | None = None) -> dict[str, Any]:
    """Load ``path`` and evaluate on ``dsn`` (else a throwaway embedded server)."""
    convs = load_conversations(path)
    if dsn is not None:
        return asyncio.run(evaluate(dsn, owner_dsn or dsn, convs, k=k, progress=progress))
    from ..embedded import EmbeddedPostgres

    with EmbeddedPostgres() as pg:
        return asyncio.run(evaluate(pg.runtime_dsn, pg.dsn, convs, k=k, progress=progress))
