"""Session rounds (append a pair, read the last 50) against the OpenAI Agents SDK's
``SQLAlchemySession``."""

from __future__ import annotations

import asyncio
import statistics
import uuid
from typing import Any

from ...pool import create_pool
from ._measure import interleaved, result, stats
from .peers import sqlalchemy_url

__all__ = ["bench_sessions"]

_PAIR: list[Any] = [{"role": "user", "content": "what changed?"},
         {"role": "assistant", "content": "the deploy rota"}]


async def _session_round(store: Any, engine: Any, sessions: int, quick: bool) -> dict[str, Any]:
    """Append a pair and read the last 50, in ``sessions`` sessions at once, ours vs theirs."""
    from agents.extensions.memory.sqlalchemy_session import SQLAlchemySession

    from ...stores import RequestContext

    contexts = [RequestContext("org_bench", f"u{i}-{uuid.uuid4().hex[:6]}")
                for i in range(sessions)]
    ids = [(await store.create_session(c, agent_name="kora")).id for c in contexts]
    peers = [SQLAlchemySession(f"s{sessions}-{i}-{uuid.uuid4().hex[:6]}", engine=engine,
                               create_tables=True) for i in range(sessions)]

    async def ours_one(i: int) -> None:
        await store.append_messages(contexts[i], ids[i], _PAIR)
        await store.list_messages(contexts[i], ids[i], last=50)

    async def theirs_one(i: int) -> None:
        await peers[i].add_items(_PAIR)
        await peers[i].get_items(50)

    async def ours() -> None:
        await asyncio.gather(*(ours_one(i) for i in range(sessions)))

    async def theirs() -> None:
        await asyncio.gather(*(theirs_one(i) for i in range(sessions)))

    a, b = await interleaved(ours, theirs, 40 if quick else 200, block=10)
    ops_a = sessions * 1000 / statistics.mean(a)
    ops_b = sessions * 1000 / statistics.mean(b)
    return result(f"session_round_{sessions}", {**stats(a), "ops_s": round(ops_a)},
                  {**stats(b), "ops_s": round(ops_b)}, ops_a / ops_b,
                  "isokron/sqlalchemy ops/s >= 1.5", ops_a / ops_b >= 1.5)


async def bench_sessions(runtime_dsn: str, dsn: str, quick: bool) -> list[dict[str, Any]]:
    """One session at a time, then 20 at once."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from ...stores import AgentSessionStore

    pool = await create_pool(runtime_dsn, min_size=4, max_size=4)
    engine = create_async_engine(sqlalchemy_url(dsn), pool_size=4, max_overflow=0)
    try:
        store = AgentSessionStore(pool)
        return [await _session_round(store, engine, n, quick) for n in (1, 20)]
    finally:
        await pool.close()
        await engine.dispose()
