"""What signing the tenant context costs: the session round and the cold warm-up with a
context key installed and a signing pool, against the same with plain settings (no key).

The mode is the database's (a key installed or not), so the two sides cannot run at the
same moment: they alternate in blocks, the key installed before each signed block and
removed before each plain one, so drift hits both alike. The key is gone afterwards.
"""

from __future__ import annotations

import secrets
import statistics
import uuid
from typing import Any

import asyncpg

from ...db.context_keys import install_context_key, remove_context_key
from ...guard.context_token import ContextSigner, key_fingerprint
from ...pool import create_pool
from ._measure import Counter, result, stats, timed

__all__ = ["bench_signed"]

_PAIR: list[Any] = [{"role": "user", "content": "what changed?"},
                    {"role": "assistant", "content": "the deploy rota"}]


async def bench_signed(dsn: str, runtime_dsn: str, quick: bool) -> list[dict[str, Any]]:
    """Session round and cold warm-up, signed / plain (p50 ratio <= 1.10 each)."""
    from ...readers import PostgresSubstrate
    from ...stores import AgentSessionStore, RequestContext

    key = secrets.token_urlsafe(48)
    owner = await asyncpg.connect(dsn)
    counters = {"plain": Counter(), "signed": Counter()}
    pools = {"plain": await create_pool(runtime_dsn, min_size=1, max_size=1,
                                        init=counters["plain"].attach),
             "signed": await create_pool(runtime_dsn, min_size=1, max_size=1,
                                         init=counters["signed"].attach,
                                         context_signer=ContextSigner(key))}
    fingerprint = key_fingerprint(key)

    async def signing(on: bool) -> None:
        if on:
            await install_context_key(owner, key)
        else:
            await remove_context_key(owner, fingerprint)

    try:
        ctx = RequestContext("org_bench", f"signed-{uuid.uuid4().hex[:6]}")
        ops: dict[str, dict[str, Any]] = {}
        for side, pool in pools.items():
            store = AgentSessionStore(pool)
            await signing(side == "signed")
            session = (await store.create_session(ctx, agent_name="kora")).id
            substrate = PostgresSubstrate(pool)

            async def round_(store: Any = store, session: Any = session) -> None:
                await store.append_messages(ctx, session, _PAIR)
                await store.list_messages(ctx, session, last=50)

            async def warmup(substrate: Any = substrate) -> None:
                await substrate.read_context("org_bench")

            ops[side] = {"session_round": round_, "cold_warmup": warmup}
        rounds, block = (60, 20) if quick else (300, 50)
        times: dict[str, dict[str, list[float]]] = {
            s: {"session_round": [], "cold_warmup": []} for s in pools}
        trips: dict[str, dict[str, float]] = {s: {} for s in pools}
        for side in ("plain", "signed"):  # warm both up (and count their round trips)
            await signing(side == "signed")
            for name, op in ops[side].items():
                await timed(op, 10)
                trips[side][name] = await counters[side].per_op(op, 5)
        while len(times["plain"]["session_round"]) < rounds:
            for side in ("plain", "signed"):
                await signing(side == "signed")
                for name, op in ops[side].items():
                    times[side][name] += await timed(op, block)
    finally:
        await signing(False)
        for pool in pools.values():
            await pool.close()
        await owner.close()
    out = []
    for name in ("session_round", "cold_warmup"):
        signed, plain = times["signed"][name], times["plain"][name]
        ratio = statistics.median(signed) / statistics.median(plain)
        same_trips = trips["signed"][name] == trips["plain"][name]
        out.append(result(f"signed_context_{name}",
                          {**stats(signed), "round_trips": trips["signed"][name]},
                          {**stats(plain), "round_trips": trips["plain"][name]}, ratio,
                          "signed p50 <= 1.10 x plain settings, the same round trips",
                          ratio <= 1.10 and same_trips))
    return out
